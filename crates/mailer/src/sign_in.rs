//! Magic sign-in links for managers and HR (DESIGN §6 "Auth"): asking for one
//! ([`request_link`]), the token the email carries ([`SignInToken`]), and using it
//! once ([`consume`]).
//!
//! **Why the token is derived, not stored.** The outbox sends emails after the
//! request's transaction has committed, so whatever the worker needs to write the
//! link must survive in the database until then. Storing a random token there (in
//! the outbox payload) would put a live credential into every backup taken during
//! those minutes, and hashing it into `magic_links.id` would not help, because the
//! worker still needs the clear value. So, like answer links, the link is derived
//! when the email is sent: `token = id ‖ HMAC(MagicLink purpose key, id)`, where `id`
//! is the random `magic_links.id` and the purpose key is derived from the master key
//! in the secrets directory, which is never in the database. The database therefore
//! holds only what cannot be turned back into a link: a copy of it (a backup, a
//! leaked dump) cannot sign anybody in. A retried email carries the same link.
//!
//! The link works once ([`consume`] is one `UPDATE … WHERE used_at IS NULL AND
//! expires_at > now`) and for [`SIGN_IN_LINK_VALID_MINUTES`] minutes. Nothing here
//! tells the caller whether an address is known: [`request_link`] answers `()`.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, TimeDelta, Utc};
use safepulse_domain::keys::{MasterKey, Purpose};
use safepulse_domain::{Email, PersonId, Role};
use safepulse_store::entities::outbox::OutboxKind;
use safepulse_store::entities::{magic_link, outbox};
use safepulse_store::{Store, StoreError, org};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, Set,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::messages::{LinkError, MessageId, SIGN_IN_LINK_VALID_MINUTES};

/// How long a sign-in link works after it was asked for.
pub const SIGN_IN_LINK_TTL: TimeDelta = TimeDelta::minutes(SIGN_IN_LINK_VALID_MINUTES as i64);

/// Unused, unexpired links one address may hold at once: enough for a person who
/// asks again because the first email is slow, few enough that nobody can flood a
/// known address with sign-in emails.
const MAX_LIVE_LINKS_PER_ADDRESS: u64 = 3;

/// Characters of an encoded token: 16 id bytes and a 32-byte MAC, base64url.
const ID_CHARS: usize = 22;
const MAC_CHARS: usize = 43;

/// What a `sign_in` outbox row stores: which link, and the reader's language.
/// No token: the worker derives it (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignInPayload {
    pub magic_link_id: Uuid,
    pub locale: String,
}

/// The secret in a sign-in link (`/sign-in/{token}`). Its `Debug` output is redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct SignInToken {
    magic_link_id: Uuid,
    mac: String,
}

impl fmt::Debug for SignInToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SignInToken(..)")
    }
}

impl SignInToken {
    /// The token of one `magic_links` row, signed with `key`'s magic-link purpose key.
    pub fn derive(key: &MasterKey, magic_link_id: Uuid) -> SignInToken {
        SignInToken {
            magic_link_id,
            mac: key
                .purpose_key(Purpose::MagicLink)
                .sign(magic_link_id.as_bytes()),
        }
    }

    /// Reads the text form; `None` for anything that is not shaped like a token.
    /// Whether it is genuine is [`SignInToken::verify`]'s question.
    pub fn parse(raw: &str) -> Option<SignInToken> {
        if raw.len() != ID_CHARS + MAC_CHARS || !raw.is_ascii() {
            return None;
        }
        let (id, mac) = raw.split_at(ID_CHARS);
        let id: [u8; 16] = URL_SAFE_NO_PAD.decode(id).ok()?.try_into().ok()?;
        Some(SignInToken {
            magic_link_id: Uuid::from_bytes(id),
            mac: mac.to_owned(),
        })
    }

    pub fn encode(&self) -> String {
        format!(
            "{}{}",
            URL_SAFE_NO_PAD.encode(self.magic_link_id.as_bytes()),
            self.mac
        )
    }

    /// The `magic_links` row this token opens, if one of `keys` signed it (the
    /// active key may have rotated since the email left). Constant-time comparison.
    pub fn verify(&self, keys: &[MasterKey]) -> Option<Uuid> {
        keys.iter()
            .any(|key| {
                key.purpose_key(Purpose::MagicLink)
                    .verify(self.magic_link_id.as_bytes(), &self.mac)
            })
            .then_some(self.magic_link_id)
    }
}

/// Whether `person_id` may sign in to the dashboard: holds a role (hr, admin) or
/// leads a team.
pub async fn may_sign_in(
    db: &impl ConnectionTrait,
    person_id: PersonId,
) -> Result<bool, StoreError> {
    let roles = org::roles_of(db, person_id).await?;
    if roles.iter().any(|role| role == "hr" || role == "admin") {
        return Ok(true);
    }
    Ok(!org::teams_led_by(db, person_id).await?.is_empty())
}

/// Asks for a sign-in link for `email`. For an active, deliverable person who may
/// sign in, inserts a `magic_links` row and its `sign_in` outbox row in one
/// transaction; for anybody else it writes nothing. The caller learns neither: the
/// page must look the same for known and unknown addresses.
pub async fn request_link(
    store: &Store,
    email: &Email,
    now: DateTime<Utc>,
    mail_host: &str,
) -> Result<(), StoreError> {
    let transaction = store.begin_write().await?;
    // Expired links are worth nothing; dropping them keeps the table small.
    magic_link::Entity::delete_many()
        .filter(magic_link::Column::ExpiresAt.lte(now))
        .exec(&transaction)
        .await?;
    let Some(person) = org::find_person_by_email(&transaction, email).await? else {
        return Ok(());
    };
    if !person.active || person.undeliverable || !may_sign_in(&transaction, person.id).await? {
        return Ok(());
    }
    let live = magic_link::Entity::find()
        .filter(magic_link::Column::Email.eq(person.email.as_str()))
        .filter(magic_link::Column::UsedAt.is_null())
        .count(&transaction)
        .await?;
    if live >= MAX_LIVE_LINKS_PER_ADDRESS {
        return Ok(());
    }
    let message_id = MessageId::random(mail_host).map_err(|error: LinkError| {
        StoreError::from(sea_orm::DbErr::Custom(format!("mail host: {error}")))
    })?;
    let magic_link_id = insert_link(&transaction, &person.email, now).await?;
    let payload = SignInPayload {
        magic_link_id,
        locale: person.locale.clone(),
    };
    outbox::ActiveModel {
        id: Set(Uuid::new_v4()),
        kind: Set(OutboxKind::SignIn),
        recipient: Set(person.email.clone()),
        person_id: Set(Some(person.id)),
        invitation_id: Set(None),
        round_id: Set(None),
        payload: Set(serde_json::to_value(&payload).expect("the payload serializes")),
        message_id: Set(message_id.as_str().to_owned()),
        status: Set("pending".into()),
        attempts: Set(0),
        not_before: Set(now),
        claimed_until: Set(None),
        claim_token: Set(None),
        last_error: Set(None),
        created_at: Set(now),
    }
    .insert(&transaction)
    .await?;
    transaction.commit().await?;
    Ok(())
}

/// Records a new sign-in link for `address`, valid for [`SIGN_IN_LINK_TTL`]; its
/// token is [`SignInToken::derive`] of the returned id.
async fn insert_link(
    db: &impl ConnectionTrait,
    address: &str,
    now: DateTime<Utc>,
) -> Result<Uuid, StoreError> {
    let magic_link_id = Uuid::new_v4();
    magic_link::ActiveModel {
        id: Set(magic_link_id),
        email: Set(address.to_owned()),
        expires_at: Set(now + SIGN_IN_LINK_TTL),
        used_at: Set(None),
    }
    .insert(db)
    .await?;
    Ok(magic_link_id)
}

/// A sign-in link for an administrator, to be printed by `safepulse admin invite`
/// rather than emailed (the first administrator may have no working mail yet).
/// Only for an active person holding the admin grant (`Ok(None)` otherwise).
pub async fn admin_link(
    db: &impl ConnectionTrait,
    person_id: PersonId,
    now: DateTime<Utc>,
) -> Result<Option<Uuid>, StoreError> {
    let person = org::get_person(db, person_id).await?;
    if !person.active || !org::holds_role(db, person.id, Role::Admin).await? {
        return Ok(None);
    }
    Ok(Some(insert_link(db, &person.email, now).await?))
}

/// Uses the link `magic_link_id` once: marks it used if it is unused and unexpired,
/// in one statement, so two concurrent requests cannot both succeed. Returns the
/// address it was sent to, or `None` for a used, expired or unknown link.
///
/// Run it in the transaction that also issues the session, so a failure there does
/// not burn the link.
pub async fn consume(
    db: &impl ConnectionTrait,
    magic_link_id: Uuid,
    now: DateTime<Utc>,
) -> Result<Option<String>, StoreError> {
    let updated = magic_link::Entity::update_many()
        .col_expr(magic_link::Column::UsedAt, Expr::value(Some(now)))
        .filter(magic_link::Column::Id.eq(magic_link_id))
        .filter(magic_link::Column::UsedAt.is_null())
        .filter(magic_link::Column::ExpiresAt.gt(now))
        .exec(db)
        .await?;
    if updated.rows_affected != 1 {
        return Ok(None);
    }
    Ok(magic_link::Entity::find_by_id(magic_link_id)
        .one(db)
        .await?
        .map(|link| link.email))
}

#[cfg(test)]
mod tests {
    use safepulse_domain::keys::KeyId;

    use super::*;

    fn key(id: &str, byte: u8) -> MasterKey {
        MasterKey::new(KeyId::parse(id).unwrap(), vec![byte; 32]).unwrap()
    }

    #[test]
    fn a_token_round_trips_and_only_the_signing_keys_accept_it() {
        let id = Uuid::new_v4();
        let old = key("old", 1);
        let new = key("new", 2);
        let token = SignInToken::derive(&old, id);
        let text = token.encode();
        assert_eq!(text.len(), ID_CHARS + MAC_CHARS);
        let parsed = SignInToken::parse(&text).unwrap();
        assert_eq!(parsed.verify(&[old.clone(), new.clone()]), Some(id));
        assert_eq!(parsed.verify(&[new]), None, "another key did not sign it");
        assert_eq!(format!("{parsed:?}"), "SignInToken(..)");
    }

    #[test]
    fn a_token_with_another_id_or_a_changed_mac_is_refused() {
        let master = key("k", 3);
        let genuine = SignInToken::derive(&master, Uuid::new_v4()).encode();
        let other_id = URL_SAFE_NO_PAD.encode(Uuid::new_v4().as_bytes());
        let swapped = format!("{other_id}{}", &genuine[ID_CHARS..]);
        assert_eq!(
            SignInToken::parse(&swapped)
                .unwrap()
                .verify(std::slice::from_ref(&master)),
            None
        );
        let mut flipped = genuine.clone().into_bytes();
        let last = flipped.len() - 2;
        flipped[last] = if flipped[last] == b'A' { b'B' } else { b'A' };
        let flipped = String::from_utf8(flipped).unwrap();
        assert_eq!(
            SignInToken::parse(&flipped).unwrap().verify(&[master]),
            None
        );
        assert!(SignInToken::parse(&genuine[1..]).is_none(), "too short");
        assert!(SignInToken::parse(&format!("{}é", &genuine[2..])).is_none());
    }
}
