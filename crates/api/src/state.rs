//! What every handler can reach.

use std::sync::Arc;

use safepulse_domain::Clock;
use safepulse_mailer::ItemBank;
use safepulse_store::Store;

use crate::auth::TokenAuthority;
use crate::config::Config;
use crate::secrets::Secrets;

#[derive(Debug, Clone)]
pub struct AppState {
    pub store: Store,
    pub tokens: TokenAuthority,
    pub secrets: Arc<Secrets>,
    pub clock: Arc<dyn Clock>,
    pub config: Arc<Config>,
    /// The built-in item bank, validated at start.
    pub bank: Arc<ItemBank>,
}
