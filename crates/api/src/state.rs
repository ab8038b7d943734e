//! What every handler can reach.

use std::sync::Arc;

use safepulse_domain::Clock;
use safepulse_rounds::ItemBank;
use safepulse_rounds::rounds::RecordingCheck;
use safepulse_store::Store;
use safepulse_store::keyring::KeyChain;

use crate::auth::TokenAuthority;
use crate::config::Config;
use crate::oidc::OidcSignIn;
use crate::rate_limit::SignInLimiter;
use crate::secrets::Secrets;
use crate::sign_in_queue::SignInQueue;
use crate::submit_queue::SubmitQueue;

#[derive(Debug, Clone)]
pub struct AppState {
    pub store: Store,
    pub tokens: TokenAuthority,
    pub secrets: Arc<Secrets>,
    /// The master keys and the round keyring: how rounds get their keys.
    pub keys: KeyChain,
    pub clock: Arc<dyn Clock>,
    pub config: Arc<Config>,
    /// The built-in item bank, validated at start.
    pub bank: Arc<ItemBank>,
    /// Why rounds must not open (PostgreSQL would record answers or their timing),
    /// found at start; `None` when all is well or the operator overrode it.
    pub round_opening_blocked: Option<Arc<str>>,
    /// Sign-in requests waiting for the database (see [`SignInQueue`]).
    pub sign_in_queue: SignInQueue,
    /// The rate limits of `POST /sign-in`.
    pub sign_in_limiter: Arc<SignInLimiter>,
    /// Answers waiting to be committed together (see [`SubmitQueue`]).
    pub submit_queue: SubmitQueue,
    /// Sign-in through the OpenID provider, when `[oidc]` is configured.
    pub oidc: Option<Arc<OidcSignIn>>,
}

impl AppState {
    /// Whether opening a round checks PostgreSQL's logging settings (in the
    /// opening transaction) or the operator overrode the check.
    pub fn recording_check(&self) -> RecordingCheck {
        if self.config.allow_logging_postgres {
            RecordingCheck::Overridden
        } else {
            RecordingCheck::Enforce
        }
    }
}
