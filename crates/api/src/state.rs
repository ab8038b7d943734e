//! What every handler can reach.

use std::sync::Arc;

use safepulse_domain::Clock;
use safepulse_mailer::ItemBank;
use safepulse_store::Store;

use crate::auth::TokenAuthority;
use crate::config::Config;
use crate::rate_limit::SignInLimiter;
use crate::secrets::Secrets;
use crate::sign_in_queue::SignInQueue;

#[derive(Debug, Clone)]
pub struct AppState {
    pub store: Store,
    pub tokens: TokenAuthority,
    pub secrets: Arc<Secrets>,
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
}
