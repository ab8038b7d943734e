//! A TCP proxy between the service and PostgreSQL that a test can cut and restore:
//! a database outage without stopping the shared server. Cutting closes every
//! proxied connection (as a stopping server does) and stops listening, so new
//! connections are refused; restoring listens on the same port again.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// A running proxy on 127.0.0.1 in front of `upstream`.
#[derive(Debug)]
pub struct TcpProxy {
    address: SocketAddr,
    upstream: SocketAddr,
    tasks: Arc<Mutex<ProxyTasks>>,
}

#[derive(Debug, Default)]
struct ProxyTasks {
    accepting: Option<JoinHandle<()>>,
    links: Vec<JoinHandle<()>>,
}

impl TcpProxy {
    /// Listens on a free port of 127.0.0.1 and forwards every connection to
    /// `upstream`.
    pub async fn start(upstream: SocketAddr) -> TcpProxy {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a free port for the proxy");
        let address = listener.local_addr().expect("bound");
        let proxy = TcpProxy {
            address,
            upstream,
            tasks: Arc::new(Mutex::new(ProxyTasks::default())),
        };
        proxy.accept_on(listener);
        proxy
    }

    /// The proxy in front of the PostgreSQL server of `url`
    /// (`postgres://[user@]host[:port]/database`).
    pub async fn in_front_of_postgres(url: &str) -> TcpProxy {
        let authority = postgres_authority(url);
        let with_port = if authority.contains(':') {
            authority.to_owned()
        } else {
            format!("{authority}:5432")
        };
        let upstream = tokio::net::lookup_host(&with_port)
            .await
            .expect("the PostgreSQL host resolves")
            .next()
            .expect("an address for the PostgreSQL host");
        TcpProxy::start(upstream).await
    }

    /// `url` with its host and port replaced by the proxy's.
    pub fn route(&self, url: &str) -> String {
        let authority = postgres_authority(url);
        // The authority ends where the path starts, so its last occurrence before
        // the path is the one to replace (a user name may repeat it).
        let path_start = url
            .match_indices(['/', '?'])
            .map(|(index, _)| index)
            .find(|&index| index > url.find("://").expect("a URL") + 2)
            .unwrap_or(url.len());
        let host_start = path_start - authority.len();
        format!(
            "{}{}{}",
            &url[..host_start],
            self.address,
            &url[path_start..]
        )
    }

    /// Closes every proxied connection and refuses new ones until [`TcpProxy::restore`].
    pub fn cut(&self) {
        let mut tasks = self.tasks.lock().expect("the proxy's tasks");
        if let Some(accepting) = tasks.accepting.take() {
            accepting.abort();
        }
        for link in tasks.links.drain(..) {
            link.abort();
        }
    }

    /// Listens again on the same port.
    pub async fn restore(&self) {
        for _ in 0..100 {
            if let Ok(listener) = TcpListener::bind(self.address).await {
                self.accept_on(listener);
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the proxy could not listen on {} again", self.address);
    }

    fn accept_on(&self, listener: TcpListener) {
        let upstream = self.upstream;
        let tasks = self.tasks.clone();
        let accepting = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let link = tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(upstream).await {
                        tokio::io::copy_bidirectional(&mut client, &mut server)
                            .await
                            .ok();
                    }
                });
                let mut tasks = tasks.lock().expect("the proxy's tasks");
                tasks.links.retain(|link| !link.is_finished());
                tasks.links.push(link);
            }
        });
        self.tasks.lock().expect("the proxy's tasks").accepting = Some(accepting);
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.cut();
    }
}

/// The `host[:port]` of a `postgres://` URL.
fn postgres_authority(url: &str) -> &str {
    let after_scheme = url
        .split_once("://")
        .map(|(_, rest)| rest)
        .expect("a postgres:// URL");
    let authority = after_scheme.split(['/', '?']).next().unwrap_or_default();
    authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_authority_of_a_postgres_url_skips_the_user() {
        assert_eq!(
            postgres_authority("postgres://postgres@127.0.0.1:5432/postgres"),
            "127.0.0.1:5432"
        );
        assert_eq!(
            postgres_authority("postgresql://u:p@db.example/x?sslmode=disable"),
            "db.example"
        );
    }

    #[tokio::test]
    async fn a_routed_url_keeps_the_user_database_and_options() {
        let proxy = TcpProxy::start("127.0.0.1:9".parse().unwrap()).await;
        let port = proxy.address.port();
        assert_eq!(
            proxy.route("postgres://db.example@db.example/x?sslmode=disable"),
            format!("postgres://db.example@127.0.0.1:{port}/x?sslmode=disable")
        );
        assert_eq!(
            proxy.route("postgres://postgres@127.0.0.1:5432/postgres"),
            format!("postgres://postgres@127.0.0.1:{port}/postgres")
        );
    }
}
