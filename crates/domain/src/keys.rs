//! Key material and the derivations of DESIGN §2.
//!
//! Every derivation is an HMAC-SHA-256 (or SHA-256) over a fixed label followed by
//! fixed-length inputs, so two different derivations can never collide:
//!
//! - `K_r = HMAC(master, "safepulse/v1/round" ‖ round_id ‖ salt)` — [`RoundKey`]
//! - `t = HMAC(K_r, "token" ‖ invitation_id)` — [`LinkToken`], sent by email only
//! - `lookup = SHA-256("lookup" ‖ t)` — stored on the invitation while the round is open
//! - `ballot = HMAC(K_r, "ballot" ‖ t)` — stored on the answer; needs `K_r`, so the
//!   token alone (mail archives, proxy logs) cannot find a response
//! - purpose keys (`HMAC(master, "safepulse/v1/purpose/" ‖ name)`) for CSRF and
//!   magic links: the master key itself never signs anything.
//!
//! - `K_seal = HMAC(K_r, "seal")` — the [`AnswerSeal`] of the round's open answers and
//!   comments ([`crate::sealed`]).
//!
//! The salt never enters the database: it lives in the round keyring outside it
//! (written when the round opens). Closing a round destroys it, which makes `K_r` —
//! and with it every ballot, token and sealed answer of the round — impossible to
//! recompute or open, even with the master key and every copy of the database.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::sealed::AnswerSeal;
use crate::{InvitationId, RoundId};

type HmacSha256 = Hmac<Sha256>;

/// Length in bytes of every key, salt, token and derived value.
pub const KEY_LEN: usize = 32;

fn hmac(key: &[u8], parts: &[&[u8]]) -> [u8; KEY_LEN] {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes keys of any length");
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

/// 32 bytes from the operating system's CSPRNG.
pub fn random_bytes() -> [u8; KEY_LEN] {
    let mut bytes = [0u8; KEY_LEN];
    rand::rng().fill_bytes(&mut bytes);
    bytes
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("a key must be at least {KEY_LEN} bytes, this one has {0}")]
    TooShort(usize),
    #[error("a key id may only use letters, digits, '-' and '_' (1–64 characters)")]
    BadId,
}

/// The identifier of a key, recorded next to what it protected so keys can rotate.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyId(String);

impl KeyId {
    pub fn parse(raw: &str) -> Result<KeyId, KeyError> {
        let ok = !raw.is_empty()
            && raw.len() <= 64
            && raw
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if ok {
            Ok(KeyId(raw.to_owned()))
        } else {
            Err(KeyError::BadId)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The master key: lives in the secrets directory, never in the database.
#[derive(Clone)]
pub struct MasterKey {
    id: KeyId,
    bytes: Vec<u8>,
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MasterKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl MasterKey {
    pub fn new(id: KeyId, bytes: Vec<u8>) -> Result<MasterKey, KeyError> {
        if bytes.len() < KEY_LEN {
            return Err(KeyError::TooShort(bytes.len()));
        }
        Ok(MasterKey { id, bytes })
    }

    pub fn id(&self) -> &KeyId {
        &self.id
    }

    /// The key of one round; `salt` lives in the round keyring until the round closes.
    pub fn round_key(&self, round: RoundId, salt: &[u8; KEY_LEN]) -> RoundKey {
        RoundKey(hmac(
            &self.bytes,
            &[b"safepulse/v1/round", round.0.as_bytes(), salt],
        ))
    }

    /// A key for one purpose (CSRF, magic links …), so the master key never signs.
    pub fn purpose_key(&self, purpose: Purpose) -> PurposeKey {
        PurposeKey(hmac(
            &self.bytes,
            &[b"safepulse/v1/purpose/", purpose.label()],
        ))
    }
}

/// What a [`PurposeKey`] is for. Fixed-length labels keep derivations apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    AnswerFormCsrf,
    MagicLink,
    SessionCsrf,
    /// Webhook endpoints' signing secrets, derived rather than stored.
    WebhookSecret,
}

impl Purpose {
    fn label(self) -> &'static [u8; 8] {
        match self {
            Purpose::AnswerFormCsrf => b"csrf-ans",
            Purpose::MagicLink => b"magiclnk",
            Purpose::SessionCsrf => b"csrf-ses",
            Purpose::WebhookSecret => b"webhooks",
        }
    }
}

/// A key derived from the master key for one purpose.
#[derive(Clone)]
pub struct PurposeKey([u8; KEY_LEN]);

impl fmt::Debug for PurposeKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PurposeKey(..)")
    }
}

impl PurposeKey {
    /// A MAC over `message`, URL-safe base64.
    pub fn sign(&self, message: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(hmac(&self.0, &[message]))
    }

    /// Constant-time check of a [`PurposeKey::sign`] value.
    pub fn verify(&self, message: &[u8], signature: &str) -> bool {
        let expected = hmac(&self.0, &[message]);
        match URL_SAFE_NO_PAD.decode(signature) {
            Ok(given) => given.len() == KEY_LEN && bool::from(given.ct_eq(&expected)),
            Err(_) => false,
        }
    }

    /// SHA-256 of a keyed value, for storing one-time secrets (magic links) by hash.
    pub fn digest(&self, message: &[u8]) -> [u8; KEY_LEN] {
        hmac(&self.0, &[b"digest", message])
    }
}

/// `K_r`: the key of one round. Exists only while the round's keyring entry does.
#[derive(Clone)]
pub struct RoundKey([u8; KEY_LEN]);

impl fmt::Debug for RoundKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RoundKey(..)")
    }
}

impl RoundKey {
    /// The link token of one invitation. Deterministic, so a lost email is resent
    /// with the same link.
    pub fn link_token(&self, invitation: InvitationId) -> LinkToken {
        LinkToken(hmac(&self.0, &[b"token", invitation.0.as_bytes()]))
    }

    /// The ballot of a token: the only thing an answer stores about where it came from.
    pub fn ballot(&self, token: &LinkToken) -> Ballot {
        Ballot(hmac(&self.0, &[b"ballot", &token.0]))
    }

    /// The key that seals this round's open answers and comments.
    pub fn answer_seal(&self) -> AnswerSeal {
        AnswerSeal::new(&hmac(&self.0, &[b"seal"]))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a safepulse link")]
pub struct MalformedToken;

/// The secret in an answer link (`/r/{token}`). Never stored, never logged.
#[derive(Clone, PartialEq, Eq)]
pub struct LinkToken([u8; KEY_LEN]);

impl fmt::Debug for LinkToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LinkToken(..)")
    }
}

impl LinkToken {
    pub fn parse(raw: &str) -> Result<LinkToken, MalformedToken> {
        if raw.len() != 43 {
            return Err(MalformedToken);
        }
        let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| MalformedToken)?;
        let bytes: [u8; KEY_LEN] = bytes.try_into().map_err(|_| MalformedToken)?;
        Ok(LinkToken(bytes))
    }

    /// The URL-safe text form used in links.
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.0)
    }

    /// The value the invitation stores to be found by this token.
    pub fn lookup(&self) -> Lookup {
        Lookup(
            Sha256::new()
                .chain_update(b"lookup")
                .chain_update(self.0)
                .finalize()
                .into(),
        )
    }

    pub fn as_bytes(&self) -> &[u8; KEY_LEN] {
        &self.0
    }
}

/// `SHA-256("lookup" ‖ t)`: how a submitted token finds its invitation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Lookup(pub [u8; KEY_LEN]);

/// `HMAC(K_r, "ballot" ‖ t)`: one per invitation, unique among a round's answers.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ballot(pub [u8; KEY_LEN]);

impl fmt::Debug for Ballot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Ballot(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn master() -> MasterKey {
        MasterKey::new(KeyId::parse("test").unwrap(), vec![7; 32]).unwrap()
    }

    #[test]
    fn a_master_key_shorter_than_32_bytes_is_refused() {
        assert_eq!(
            MasterKey::new(KeyId::parse("k").unwrap(), vec![1; 31]).unwrap_err(),
            KeyError::TooShort(31)
        );
    }

    #[test]
    fn tokens_round_trip_through_their_text_form() {
        let round_key = master().round_key(RoundId::random(), &[1; 32]);
        let token = round_key.link_token(InvitationId::random());
        let text = token.encode();
        assert_eq!(text.len(), 43);
        assert_eq!(LinkToken::parse(&text).unwrap(), token);
    }

    #[test]
    fn the_same_invitation_always_gets_the_same_token_and_ballot() {
        let round = RoundId::random();
        let invitation = InvitationId::random();
        let first = master().round_key(round, &[3; 32]);
        let again = master().round_key(round, &[3; 32]);
        assert_eq!(first.link_token(invitation), again.link_token(invitation));
        let token = first.link_token(invitation);
        assert_eq!(first.ballot(&token), again.ballot(&token));
    }

    #[test]
    fn a_different_salt_gives_unrelated_tokens() {
        let round = RoundId::random();
        let invitation = InvitationId::random();
        let one = master().round_key(round, &[3; 32]).link_token(invitation);
        let other = master().round_key(round, &[4; 32]).link_token(invitation);
        assert_ne!(one, other);
    }

    #[test]
    fn lookup_and_ballot_differ_from_the_token_and_each_other() {
        let round_key = master().round_key(RoundId::random(), &[1; 32]);
        let token = round_key.link_token(InvitationId::random());
        let ballot = round_key.ballot(&token);
        let lookup = token.lookup();
        assert_ne!(&ballot.0, token.as_bytes());
        assert_ne!(&lookup.0, token.as_bytes());
        assert_ne!(ballot.0, lookup.0);
    }

    #[test]
    fn malformed_tokens_are_refused() {
        for bad in ["", "short", &"a".repeat(44), &"!".repeat(43)] {
            assert!(LinkToken::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn purpose_signatures_verify_only_for_their_message() {
        let key = master().purpose_key(Purpose::AnswerFormCsrf);
        let signature = key.sign(b"hello");
        assert!(key.verify(b"hello", &signature));
        assert!(!key.verify(b"hellO", &signature));
        assert!(!key.verify(b"hello", "garbage"));
        let other = master().purpose_key(Purpose::MagicLink);
        assert!(!other.verify(b"hello", &signature));
    }
}
