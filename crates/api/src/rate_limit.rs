//! Rate limits on asking for a sign-in link (`POST /sign-in`): a token bucket per
//! client and one for everybody together. Without them, anybody can make the
//! server email every leader as fast as they can post (issue 11, finding 5).
//!
//! - A *client* is an IP address, or an IPv6 /64 (one home or office connection
//!   holds a whole /64, so counting single IPv6 addresses would limit nothing).
//!   Behind a reverse proxy every request comes from the proxy; [`client_address`]
//!   believes `X-Forwarded-For` only when the peer is one of `trusted_proxies`.
//! - Time comes from the app's [`Clock`](safepulse_domain::Clock), so tests move it.
//! - The buckets live in this process: with several API replicas, each has its own.
//! - A hand-written bucket instead of a crate (actix-governor): it is a few lines,
//!   takes the app's clock rather than the system's, and keys clients the way
//!   described above.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::Mutex;

use actix_web::HttpRequest;
use chrono::{DateTime, Utc};
use ipnet::IpNet;
use serde::{Deserialize, Serialize};

/// How many sign-in requests are allowed: `*_burst` at once, then `*_per_minute`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignInLimits {
    pub per_client_per_minute: u32,
    pub per_client_burst: u32,
    pub global_per_minute: u32,
    pub global_burst: u32,
}

impl Default for SignInLimits {
    /// A person who mistypes asks a few times; a whole company signing in on a
    /// Monday morning is a few dozen people a minute.
    fn default() -> Self {
        SignInLimits {
            per_client_per_minute: 5,
            per_client_burst: 10,
            global_per_minute: 60,
            global_burst: 60,
        }
    }
}

/// Refused: the client may try again after this many whole seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryAfter(pub u64);

/// Clients whose buckets are kept before full ones are dropped (a full bucket is
/// the same as no bucket, so dropping them forgets nothing).
const CLIENTS_BEFORE_PRUNING: usize = 4096;

/// The buckets of every client and the global one.
#[derive(Debug)]
pub struct SignInLimiter {
    limits: SignInLimits,
    buckets: Mutex<Buckets>,
}

#[derive(Debug)]
struct Buckets {
    global: Bucket,
    clients: HashMap<IpAddr, Bucket>,
    prune_at: usize,
}

/// A bucket's fill, in token-milliseconds-per-minute: one token is
/// [`UNITS_PER_TOKEN`] units and a rate of `r` per minute adds `r` units each
/// millisecond, so refilling is exact integer arithmetic.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    units: u64,
    updated: DateTime<Utc>,
}

const UNITS_PER_TOKEN: u64 = 60_000;

#[derive(Debug, Clone, Copy)]
struct Rate {
    per_minute: u32,
    burst: u32,
}

impl Rate {
    fn capacity(self) -> u64 {
        u64::from(self.burst) * UNITS_PER_TOKEN
    }

    fn full(self, now: DateTime<Utc>) -> Bucket {
        Bucket {
            units: self.capacity(),
            updated: now,
        }
    }

    /// The bucket's fill at `now`; a clock that went back refills nothing.
    fn units_at(self, bucket: Bucket, now: DateTime<Utc>) -> u64 {
        let elapsed_ms = u64::try_from((now - bucket.updated).num_milliseconds()).unwrap_or(0);
        bucket
            .units
            .saturating_add(elapsed_ms.saturating_mul(u64::from(self.per_minute)))
            .min(self.capacity())
    }

    /// Whole seconds until `units` hold a token again (at least one).
    fn seconds_until_a_token(self, units: u64) -> u64 {
        let missing = UNITS_PER_TOKEN.saturating_sub(units);
        let milliseconds = missing.div_ceil(u64::from(self.per_minute));
        milliseconds.div_ceil(1000).max(1)
    }
}

impl SignInLimiter {
    pub fn new(limits: SignInLimits, now: DateTime<Utc>) -> SignInLimiter {
        let global = Rate {
            per_minute: limits.global_per_minute,
            burst: limits.global_burst,
        };
        SignInLimiter {
            limits,
            buckets: Mutex::new(Buckets {
                global: global.full(now),
                clients: HashMap::new(),
                prune_at: CLIENTS_BEFORE_PRUNING,
            }),
        }
    }

    fn client_rate(&self) -> Rate {
        Rate {
            per_minute: self.limits.per_client_per_minute,
            burst: self.limits.per_client_burst,
        }
    }

    fn global_rate(&self) -> Rate {
        Rate {
            per_minute: self.limits.global_per_minute,
            burst: self.limits.global_burst,
        }
    }

    /// Takes one token from `client`'s bucket and one from the global bucket, or
    /// neither: a refused request costs nobody anything.
    pub fn check(&self, client: IpAddr, now: DateTime<Utc>) -> Result<(), RetryAfter> {
        let (client_rate, global_rate) = (self.client_rate(), self.global_rate());
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let key = bucket_key(client);
        let client_units = buckets
            .clients
            .get(&key)
            .map_or(client_rate.capacity(), |bucket| {
                client_rate.units_at(*bucket, now)
            });
        let global_units = global_rate.units_at(buckets.global, now);
        if client_units < UNITS_PER_TOKEN || global_units < UNITS_PER_TOKEN {
            let wait = client_rate
                .seconds_until_a_token(client_units)
                .max(global_rate.seconds_until_a_token(global_units));
            return Err(RetryAfter(wait));
        }
        buckets.global = Bucket {
            units: global_units - UNITS_PER_TOKEN,
            updated: now,
        };
        buckets.clients.insert(
            key,
            Bucket {
                units: client_units - UNITS_PER_TOKEN,
                updated: now,
            },
        );
        if buckets.clients.len() >= buckets.prune_at {
            buckets
                .clients
                .retain(|_, bucket| client_rate.units_at(*bucket, now) < client_rate.capacity());
            buckets.prune_at = (buckets.clients.len() * 2).max(CLIENTS_BEFORE_PRUNING);
        }
        Ok(())
    }
}

/// The bucket a client address counts against: IPv4 addresses (also IPv4-mapped
/// IPv6 ones) on their own, IPv6 addresses by their /64.
fn bucket_key(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V4(_) => address,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(Ipv6Addr::from(prefix))
            }
        },
    }
}

/// Who sent `request`: the TCP peer, or, when the peer is a trusted proxy, the
/// nearest address in `X-Forwarded-For` (read from the right, as each proxy
/// appends the address it saw) that is not a trusted proxy itself. Addresses a
/// client wrote into the header before the first trusted proxy are never believed.
pub fn client_address(request: &HttpRequest, trusted_proxies: &[IpNet]) -> IpAddr {
    let peer = request
        .peer_addr()
        .map_or(IpAddr::from([0, 0, 0, 0]), |peer| peer.ip());
    let trusted = |address: &IpAddr| trusted_proxies.iter().any(|net| net.contains(address));
    if !trusted(&peer) {
        return peer;
    }
    let forwarded: Vec<&str> = request
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .collect();
    let mut client = peer;
    for hop in forwarded.iter().rev() {
        let Ok(address) = hop.trim().parse::<IpAddr>() else {
            break;
        };
        client = address;
        if !trusted(&address) {
            break;
        }
    }
    client
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;
    use chrono::TimeDelta;

    use super::*;

    fn limits(per_client: (u32, u32), global: (u32, u32)) -> SignInLimits {
        SignInLimits {
            per_client_per_minute: per_client.0,
            per_client_burst: per_client.1,
            global_per_minute: global.0,
            global_burst: global.1,
        }
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn a_client_gets_its_burst_then_one_request_per_refill() {
        let start = Utc::now();
        let limiter = SignInLimiter::new(limits((6, 3), (1000, 1000)), start);
        for _ in 0..3 {
            limiter.check(ip("192.0.2.1"), start).unwrap();
        }
        assert_eq!(limiter.check(ip("192.0.2.1"), start), Err(RetryAfter(10)));
        assert_eq!(
            limiter.check(ip("192.0.2.2"), start),
            Ok(()),
            "another client"
        );
        let later = start + TimeDelta::seconds(9);
        assert_eq!(limiter.check(ip("192.0.2.1"), later), Err(RetryAfter(1)));
        let refilled = start + TimeDelta::seconds(10);
        assert_eq!(limiter.check(ip("192.0.2.1"), refilled), Ok(()));
        assert!(limiter.check(ip("192.0.2.1"), refilled).is_err());
    }

    #[test]
    fn the_global_bucket_limits_everybody_and_refused_requests_cost_nothing() {
        let start = Utc::now();
        let limiter = SignInLimiter::new(limits((1, 1), (60, 2)), start);
        limiter.check(ip("192.0.2.1"), start).unwrap();
        assert!(
            limiter.check(ip("192.0.2.1"), start).is_err(),
            "over its own limit"
        );
        limiter.check(ip("192.0.2.2"), start).unwrap();
        assert_eq!(limiter.check(ip("192.0.2.3"), start), Err(RetryAfter(1)));
        let second = start + TimeDelta::seconds(1);
        assert_eq!(
            limiter.check(ip("192.0.2.3"), second),
            Ok(()),
            "its refused request took no token from its own bucket"
        );
    }

    #[test]
    fn ipv6_clients_count_by_their_64_and_mapped_ipv4_as_ipv4() {
        let start = Utc::now();
        let limiter = SignInLimiter::new(limits((1, 1), (1000, 1000)), start);
        limiter.check(ip("2001:db8:1:2::1"), start).unwrap();
        assert!(limiter.check(ip("2001:db8:1:2:ffff::9"), start).is_err());
        assert_eq!(limiter.check(ip("2001:db8:1:3::1"), start), Ok(()));
        limiter.check(ip("192.0.2.7"), start).unwrap();
        assert!(limiter.check(ip("::ffff:192.0.2.7"), start).is_err());
    }

    #[test]
    fn full_buckets_are_forgotten_when_many_clients_were_seen() {
        let start = Utc::now();
        let limiter = SignInLimiter::new(limits((60, 1), (u32::MAX, u32::MAX)), start);
        for index in 0..CLIENTS_BEFORE_PRUNING as u32 - 1 {
            limiter
                .check(IpAddr::from(index.to_be_bytes()), start)
                .unwrap();
        }
        let later = start + TimeDelta::seconds(1);
        limiter.check(ip("198.51.100.1"), later).unwrap();
        let buckets = limiter.buckets.lock().unwrap();
        assert_eq!(buckets.clients.len(), 1, "only the one not yet refilled");
    }

    #[test]
    fn forwarded_addresses_are_believed_only_from_a_trusted_proxy() {
        let proxy: IpNet = "10.0.0.0/8".parse().unwrap();
        let from = |peer: &str, forwarded: Option<&str>| {
            let mut request =
                TestRequest::default().peer_addr(format!("{peer}:4000").parse().unwrap());
            if let Some(forwarded) = forwarded {
                request = request.insert_header(("X-Forwarded-For", forwarded));
            }
            request.to_http_request()
        };
        let direct = from("203.0.113.5", Some("198.51.100.9"));
        assert_eq!(client_address(&direct, &[proxy]), ip("203.0.113.5"));
        let proxied = from("10.1.2.3", Some("198.51.100.9, 192.0.2.44"));
        assert_eq!(
            client_address(&proxied, &[proxy]),
            ip("192.0.2.44"),
            "the address the proxy saw"
        );
        assert_eq!(
            client_address(&proxied, &[]),
            ip("10.1.2.3"),
            "no proxy trusted"
        );
        let two_proxies = from("10.1.2.3", Some("192.0.2.44, 10.9.9.9"));
        assert_eq!(client_address(&two_proxies, &[proxy]), ip("192.0.2.44"));
        let garbled = from("10.1.2.3", Some("192.0.2.44, not-an-address"));
        assert_eq!(client_address(&garbled, &[proxy]), ip("10.1.2.3"));
        let missing = from("10.1.2.3", None);
        assert_eq!(client_address(&missing, &[proxy]), ip("10.1.2.3"));
    }
}
