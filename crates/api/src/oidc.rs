//! OpenID Connect sign-in for managers, HR and administrators (issue 16): the
//! relying-party half, on the `openidconnect` crate (no hand-written JOSE).
//!
//! - [`OidcConfig`] is the `[oidc]` section: issuer URL, client id and secret, the
//!   name the sign-in button shows, and whether the magic link stays on. The secret
//!   is read like the SMTP password (`SAFEPULSE_OIDC__CLIENT_SECRET`) and never
//!   printed: its `Debug` hides it, and no error or log line carries it.
//! - [`OidcSignIn`] holds the provider as discovered (`/.well-known/openid-configuration`
//!   and its JWKS), fetched on first use rather than at start, so a provider that is
//!   down leaves the server and the magic link working. It builds the authorization
//!   request (code flow, PKCE S256, `state`, `nonce`, scopes `openid email`) and
//!   turns the code the browser brings back into a verified address: the code is
//!   exchanged with the client secret and the PKCE verifier, and the `id_token` is
//!   checked for signature (keys from the JWKS, algorithms the provider announces),
//!   issuer, audience (and `azp`), expiry by the server's clock, and `nonce`.
//! - **Key rotation:** an `id_token` signed with a key the cached JWKS does not hold
//!   makes it discover the provider again (metadata and JWKS) and verify once more;
//!   a key still unknown after that is refused.
//! - Only an address the provider marks `email_verified: true` comes out; what it
//!   may do here is decided by the same rule as for the magic link
//!   ([`crate::pages::sign_in`]).
//!
//! Every HTTP call goes to the configured issuer's endpoints with redirects off
//! and a timeout, so a provider cannot point the server anywhere else.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreAuthenticationFlow, CoreErrorResponseType,
    CoreGenderClaim, CoreJsonWebKey, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm,
    CoreProviderMetadata, CoreRevocableToken, CoreRevocationErrorResponse,
    CoreTokenIntrospectionResponse, CoreTokenType,
};
use openidconnect::{
    AdditionalClaims, AuthorizationCode, ClaimsVerificationError, Client, ClientId, ClientSecret,
    CsrfToken, EmptyExtraTokenFields, EndpointMaybeSet, EndpointNotSet, EndpointSet, IdTokenFields,
    IssuerUrl, Nonce, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RequestTokenError, Scope,
    SignatureVerificationError, StandardErrorResponse, StandardTokenResponse, TokenResponse as _,
    reqwest,
};
use safepulse_domain::{Clock, Email};
use serde::{Deserialize, Serialize};

/// How long the server waits for the provider on each call.
const PROVIDER_TIMEOUT: Duration = Duration::from_secs(10);

/// The path the provider sends the browser back to, below the public URL.
pub const CALLBACK_PATH: &str = "/oidc/callback";

/// The `[oidc]` section of the configuration.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcConfig {
    /// The provider's issuer identifier, exactly as its discovery document names
    /// it (`https://example.okta.com`, `https://accounts.google.com`).
    pub issuer_url: String,
    pub client_id: String,
    /// Set it as `SAFEPULSE_OIDC__CLIENT_SECRET` (an environment variable or a
    /// secret), not in the TOML file. Empty (absent) is refused by `validate`;
    /// it is optional here only because the file is read alone first.
    #[serde(default)]
    pub client_secret: String,
    /// Shown on the button: "Sign in with <provider_name>".
    pub provider_name: String,
    /// Whether managers and HR may still ask for a sign-in link by email.
    #[serde(default = "magic_link_stays_on")]
    pub magic_link: bool,
    /// The claim that says the address is verified.
    #[serde(default)]
    pub email_verified_claim: EmailVerifiedClaim,
}

/// Which boolean claim of the `id_token` says that its `email` is the person's.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EmailVerifiedClaim {
    /// OpenID Connect's own `email_verified` (Okta, Google, most providers).
    #[default]
    EmailVerified,
    /// Entra ID's optional `xms_edov`, "email domain owner verified": Entra sends
    /// no `email_verified`.
    XmsEdov,
}

fn magic_link_stays_on() -> bool {
    true
}

impl std::fmt::Debug for OidcConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcConfig")
            .field("issuer_url", &self.issuer_url)
            .field("client_id", &self.client_id)
            .field("client_secret", &"(hidden)")
            .field("provider_name", &self.provider_name)
            .field("magic_link", &self.magic_link)
            .field("email_verified_claim", &self.email_verified_claim)
            .finish()
    }
}

impl OidcConfig {
    /// The settings' own checks, each message naming its key.
    pub fn validate(&self) -> Result<(), String> {
        let issuer = self.issuer_url.trim();
        let loopback = ["http://127.0.0.1", "http://localhost", "http://[::1]"]
            .iter()
            .any(|prefix| {
                issuer
                    .strip_prefix(prefix)
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with([':', '/']))
            });
        if !issuer.starts_with("https://") && !loopback {
            return Err("oidc.issuer_url must start with https:// (http only on loopback)".into());
        }
        if IssuerUrl::new(issuer.to_owned()).is_err() {
            return Err("oidc.issuer_url is not a URL".into());
        }
        if self.client_id.trim().is_empty() {
            return Err("oidc.client_id must not be empty".into());
        }
        if self.client_secret.is_empty() {
            return Err("oidc.client_secret must be set (SAFEPULSE_OIDC__CLIENT_SECRET)".into());
        }
        let name = self.provider_name.trim().chars().count();
        if name == 0 || name > 40 {
            return Err("oidc.provider_name must be 1 to 40 characters".into());
        }
        Ok(())
    }
}

/// Why a sign-in through the provider did not happen.
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    /// The provider could not be reached or answered nonsense: nobody's fault
    /// here, try again later (or use the magic link).
    #[error("the OpenID provider is unavailable: {0}")]
    Unavailable(String),
    /// The answer was refused: a code the provider would not exchange, an
    /// `id_token` that does not verify, no verified address. Never names one.
    #[error("the OpenID sign-in was refused: {0}")]
    Refused(String),
}

/// What the browser must bring back to the callback, kept in its flow cookie
/// ([`crate::pages::oidc`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flow {
    /// The `state` parameter: the callback's URL must carry exactly this.
    pub state: String,
    /// The `nonce` the `id_token` must carry.
    pub nonce: String,
    /// The PKCE code verifier, sent with the code to the token endpoint.
    pub verifier: String,
}

/// The claims of an `id_token` beyond the standard ones that safepulse reads.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct ExtraClaims {
    /// Entra ID's "email domain owner verified"; any JSON, so that an odd value
    /// refuses the sign-in instead of failing the token response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    xms_edov: Option<serde_json::Value>,
}

impl AdditionalClaims for ExtraClaims {}

type IdToken = openidconnect::IdToken<
    ExtraClaims,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;
type IdTokenClaims = openidconnect::IdTokenClaims<ExtraClaims, CoreGenderClaim>;
type TokenResponse = StandardTokenResponse<
    IdTokenFields<
        ExtraClaims,
        EmptyExtraTokenFields,
        CoreGenderClaim,
        CoreJweContentEncryptionAlgorithm,
        CoreJwsSigningAlgorithm,
    >,
    CoreTokenType,
>;

/// A client whose endpoints came from discovery: authorization always, token and
/// userinfo as the provider announced them.
type DiscoveredClient = Client<
    ExtraClaims,
    CoreAuthDisplay,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJsonWebKey,
    CoreAuthPrompt,
    StandardErrorResponse<CoreErrorResponseType>,
    TokenResponse,
    CoreTokenIntrospectionResponse,
    CoreRevocableToken,
    CoreRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// The configured provider, discovered on first use (see the module overview).
pub struct OidcSignIn {
    pub provider_name: String,
    pub magic_link: bool,
    email_verified_claim: EmailVerifiedClaim,
    issuer: IssuerUrl,
    client_id: ClientId,
    client_secret: ClientSecret,
    redirect: RedirectUrl,
    http: reqwest::Client,
    discovered: tokio::sync::Mutex<Option<Arc<DiscoveredClient>>>,
}

impl std::fmt::Debug for OidcSignIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcSignIn")
            .field("issuer", &self.issuer.as_str())
            .field("client_id", &self.client_id.as_str())
            .finish_non_exhaustive()
    }
}

impl OidcSignIn {
    /// The provider of a validated `[oidc]` section; redirects come back to
    /// `<public_url>/oidc/callback`.
    pub fn new(config: &OidcConfig, public_url: &str) -> anyhow::Result<OidcSignIn> {
        let redirect = format!("{}{CALLBACK_PATH}", public_url.trim_end_matches('/'));
        let http = reqwest::Client::builder()
            // The provider's answers are followed by nobody: no redirects at all.
            .redirect(reqwest::redirect::Policy::none())
            .timeout(PROVIDER_TIMEOUT)
            .build()?;
        Ok(OidcSignIn {
            provider_name: config.provider_name.trim().to_owned(),
            magic_link: config.magic_link,
            email_verified_claim: config.email_verified_claim,
            issuer: IssuerUrl::new(config.issuer_url.trim().to_owned())?,
            client_id: ClientId::new(config.client_id.trim().to_owned()),
            client_secret: ClientSecret::new(config.client_secret.clone()),
            redirect: RedirectUrl::new(redirect)?,
            http,
            discovered: tokio::sync::Mutex::new(None),
        })
    }

    /// The provider of `config`'s `[oidc]` section, if it has one.
    pub fn from_config(config: &crate::config::Config) -> anyhow::Result<Option<Arc<OidcSignIn>>> {
        let Some(oidc) = &config.oidc else {
            return Ok(None);
        };
        Ok(Some(Arc::new(OidcSignIn::new(oidc, &config.public_url)?)))
    }

    /// The discovered client, discovering the provider when nothing is cached
    /// or `stale` is what is cached (its JWKS lacked a key).
    async fn client(
        &self,
        stale: Option<&Arc<DiscoveredClient>>,
    ) -> Result<Arc<DiscoveredClient>, OidcError> {
        let mut cached = self.discovered.lock().await;
        if let Some(client) = cached.as_ref()
            && !stale.is_some_and(|stale| Arc::ptr_eq(stale, client))
        {
            return Ok(client.clone());
        }
        let metadata = CoreProviderMetadata::discover_async(self.issuer.clone(), &self.http)
            .await
            .map_err(|error| OidcError::Unavailable(format!("discovery: {error}")))?;
        let client = Arc::new(
            DiscoveredClient::from_provider_metadata(
                metadata,
                self.client_id.clone(),
                Some(self.client_secret.clone()),
            )
            .set_redirect_uri(self.redirect.clone()),
        );
        *cached = Some(client.clone());
        Ok(client)
    }

    /// Where to send the browser, and what its flow cookie must remember.
    pub async fn authorization_request(&self) -> Result<(String, Flow), OidcError> {
        let client = self.client(None).await?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state, nonce) = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .add_scope(Scope::new("email".to_owned()))
            .set_pkce_challenge(challenge)
            .url();
        let flow = Flow {
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            verifier: verifier.secret().clone(),
        };
        Ok((url.to_string(), flow))
    }

    /// Whether `iss` (RFC 9207's authorization-response parameter, when the
    /// provider sends one) names this provider: an answer from another one is
    /// refused before its code goes anywhere.
    pub fn is_this_issuer(&self, iss: &str) -> bool {
        iss == self.issuer.as_str()
    }

    /// The verified address behind an authorization `code` of `flow`: the code
    /// exchanged (client secret, PKCE verifier), the `id_token` verified (see the
    /// module overview) at `clock`'s time.
    pub async fn verified_email(
        &self,
        code: &str,
        flow: &Flow,
        clock: &Arc<dyn Clock>,
    ) -> Result<Email, OidcError> {
        let client = self.client(None).await?;
        let response = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|error| OidcError::Unavailable(format!("no token endpoint: {error}")))?
            .set_pkce_verifier(PkceCodeVerifier::new(flow.verifier.clone()))
            .request_async(&self.http)
            .await
            .map_err(token_request_error)?;
        let id_token = response
            .id_token()
            .ok_or_else(|| OidcError::Refused("the token response has no id_token".into()))?;
        let nonce = Nonce::new(flow.nonce.clone());
        let claims = match verify(&client, id_token, &nonce, clock) {
            Err(ClaimsVerificationError::SignatureVerification(
                SignatureVerificationError::NoMatchingKey,
            )) => {
                // A key we have not seen: the provider may have rotated its keys.
                let fresh = self.client(Some(&client)).await?;
                verify(&fresh, id_token, &nonce, clock)
            }
            verified => verified,
        }
        .map_err(|error| OidcError::Refused(format!("id_token: {error}")))?;
        verified_address(&claims, self.email_verified_claim)
    }
}

/// The `id_token`'s claims, verified by `client`'s keys at `clock`'s time.
fn verify(
    client: &DiscoveredClient,
    id_token: &IdToken,
    nonce: &Nonce,
    clock: &Arc<dyn Clock>,
) -> Result<IdTokenClaims, ClaimsVerificationError> {
    let clock = clock.clone();
    let verifier = client
        .id_token_verifier()
        .set_time_fn(move || -> DateTime<Utc> { clock.now() });
    id_token.claims(&verifier, nonce).cloned()
}

/// The address of verified claims, only when the provider says it verified it.
fn verified_address(
    claims: &IdTokenClaims,
    verified_by: EmailVerifiedClaim,
) -> Result<Email, OidcError> {
    let verified = match verified_by {
        EmailVerifiedClaim::EmailVerified => claims.email_verified() == Some(true),
        EmailVerifiedClaim::XmsEdov => {
            claims.additional_claims().xms_edov == Some(serde_json::Value::Bool(true))
        }
    };
    if !verified {
        return Err(OidcError::Refused("the address is not verified".into()));
    }
    let address = claims
        .email()
        .ok_or_else(|| OidcError::Refused("the id_token has no email".into()))?;
    Email::parse(address.as_str())
        .map_err(|_| OidcError::Refused("the email claim is not an address".into()))
}

/// A failed code exchange: the provider refusing it (a used or foreign code, a
/// wrong PKCE verifier) is a refusal, anything else an outage. The provider's
/// error code is kept, its free text is not (it may quote what was sent).
fn token_request_error<E: std::error::Error + 'static>(
    error: RequestTokenError<E, StandardErrorResponse<CoreErrorResponseType>>,
) -> OidcError {
    match error {
        RequestTokenError::ServerResponse(response) => OidcError::Refused(format!(
            "the token endpoint said {}",
            response.error().as_ref()
        )),
        RequestTokenError::Request(error) => {
            OidcError::Unavailable(format!("token request: {error:?}"))
        }
        RequestTokenError::Parse(error, _) => {
            OidcError::Unavailable(format!("token response unreadable: {error}"))
        }
        RequestTokenError::Other(error) => {
            OidcError::Unavailable(format!("token request: {error}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> OidcConfig {
        OidcConfig {
            issuer_url: "https://id.example.com".into(),
            client_id: "safepulse".into(),
            client_secret: "hunter2-secret".into(),
            provider_name: "Example ID".into(),
            magic_link: true,
            email_verified_claim: EmailVerifiedClaim::EmailVerified,
        }
    }

    #[test]
    fn the_debug_output_hides_the_client_secret() {
        let printed = format!("{:?}", config());
        assert!(!printed.contains("hunter2"), "{printed}");
        assert!(printed.contains("(hidden)"), "{printed}");
        let provider = OidcSignIn::new(&config(), "https://pulse.example.com").unwrap();
        assert!(!format!("{provider:?}").contains("hunter2"));
    }

    #[test]
    fn the_issuer_must_be_https_except_on_loopback() {
        config().validate().unwrap();
        for (issuer, valid) in [
            ("http://id.example.com", false),
            ("http://localhost.example.com", false),
            ("http://127.0.0.1:9000", true),
            ("http://localhost:9000/realms/x", true),
            ("ftp://id.example.com", false),
        ] {
            let config = OidcConfig {
                issuer_url: issuer.into(),
                ..config()
            };
            assert_eq!(config.validate().is_ok(), valid, "{issuer}");
        }
        let empty_secret = OidcConfig {
            client_secret: String::new(),
            ..config()
        };
        let error = empty_secret.validate().unwrap_err();
        assert!(error.contains("SAFEPULSE_OIDC__CLIENT_SECRET"), "{error}");
    }

    #[test]
    #[expect(
        clippy::result_large_err,
        reason = "figment::Jail fixes the closure's error type"
    )]
    fn the_section_reads_from_the_file_with_the_secret_from_the_environment() {
        use std::path::Path;

        use crate::config::Config;
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "safepulse.toml",
                "[oidc]\nissuer_url = \"https://login.microsoftonline.com/t/v2.0\"\n\
                 client_id = \"app\"\nprovider_name = \"Microsoft\"\n\
                 email_verified_claim = \"xms_edov\"",
            )?;
            jail.set_env("SAFEPULSE_OIDC__CLIENT_SECRET", "from-the-environment");
            jail.set_env("SAFEPULSE_OIDC__MAGIC_LINK", "false");
            let config =
                Config::load(Path::new("safepulse.toml")).map_err(|error| error.to_string())?;
            let oidc = config.oidc.expect("the [oidc] section");
            assert_eq!(oidc.client_secret, "from-the-environment");
            assert!(!oidc.magic_link);
            assert_eq!(oidc.email_verified_claim, EmailVerifiedClaim::XmsEdov);
            Ok(())
        });
    }

    #[test]
    fn the_callback_is_below_the_public_url() {
        let provider = OidcSignIn::new(&config(), "https://pulse.example.com/").unwrap();
        assert_eq!(
            provider.redirect.as_str(),
            "https://pulse.example.com/oidc/callback"
        );
    }
}
