//! Any OpenID Connect provider as an [`OAuthProvider`]: metadata by discovery, the
//! authorization-code flow with PKCE (S256) and a `nonce` through the `oauth2` crate, and the ID
//! token and back-channel logout tokens checked with `jsonwebtoken` against the provider's JWKS.
//!
//! What is trusted, and when:
//! - The metadata comes from `<issuer>/.well-known/openid-configuration` the first time it is
//!   needed (so a provider down at start-up does not stop the server), and is read again after an
//!   hour; its `issuer` must be the configured one.
//! - Keys come from the metadata's `jwks_uri`. A token whose `kid` is not among them makes the
//!   keys be read again (the provider rotated them), at most once a minute, so that forged tokens
//!   cannot make us hammer the provider.
//! - Only asymmetric algorithms are accepted: a token signed with HMAC (with the client secret as
//!   the key, the classic confusion) or with `none` is refused before any key is looked at.
//! - An ID token must carry `iss` equal to the issuer, `aud` holding the client id (and `azp`,
//!   the client id, when `aud` holds several), `exp` and `iat` within 60 s of leeway, `sub`, and
//!   the `nonce` sent with the authorization request.
//! - A logout token (Back-Channel Logout 1.0 §2.4, §2.6) must carry `iss`, `aud`, `iat` (not
//!   older than [`LOGOUT_TOKEN_MAX_AGE`]), `jti`, the back-channel logout event, `sub` or `sid`,
//!   and no `nonce`. That its `jti` is new is the store's check, shared by every instance.
//!
//! Each refusal says which check failed: the message reaches the person as a `401` (or the
//! provider as a `400`), and carries nothing secret.

use std::fmt;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use jsonwebtoken::jwk::{Jwk, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use oauth2::AuthType;
use serde::Deserialize;
use serde_json::{Map, Value};
use workbench_users::{
    AuthorizationRequest, ExternalProfile, LogoutRequest, OAuthProvider, OAuthProviderName, ProviderError,
    ProviderSession, Role,
};

use crate::oauth::{CodeFlow, Flag, OAuthClientSettings, check_url, get_json};

/// Clock skew allowed on `exp`, `iat` and `nbf`, as the contract says.
const LEEWAY_SECONDS: i64 = 60;
/// How long the metadata is trusted before it is read again.
const METADATA_TTL: Duration = Duration::from_secs(3600);
/// Keys are read again for an unknown `kid` at most this often.
const JWKS_REFETCH_EVERY: Duration = Duration::from_secs(60);
/// A logout token older than this is refused, whatever its `exp` says: its `jti` need be
/// remembered no longer than that.
pub const LOGOUT_TOKEN_MAX_AGE: chrono::Duration = chrono::Duration::minutes(10);
/// The event a back-channel logout token must carry (Back-Channel Logout 1.0 §2.4).
const BACKCHANNEL_LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";
/// The signature algorithms accepted: asymmetric ones only.
const ACCEPTED_ALGORITHMS: [Algorithm; 9] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// One OpenID Connect provider, as configured (`OIDC_<NAME>_*`).
#[derive(Clone, PartialEq, Eq)]
pub struct OidcSettings {
    /// The name its routes carry (`/auth/oauth/{name}`).
    pub name: String,
    /// What a login page shows.
    pub display_name: String,
    /// The issuer identifier; the metadata is read from `<issuer>/.well-known/openid-configuration`.
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
    /// The scopes asked for (`openid` is always among them).
    pub scopes: Vec<String>,
    /// The claim that decides roles (`groups`; a dotted path such as `realm_access.roles` reads
    /// nested objects), when roles come from the provider.
    pub role_claim: Option<String>,
    /// Which claim value gives which role; an account matching none is a `user`.
    pub role_map: Vec<(String, Role)>,
    /// Our callback URL, exactly as registered at the provider.
    pub redirect_url: String,
}

impl fmt::Debug for OidcSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OidcSettings")
            .field("name", &self.name)
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("client_secret", &"***")
            .field("scopes", &self.scopes)
            .field("role_claim", &self.role_claim)
            .field("role_map", &self.role_map)
            .field("redirect_url", &self.redirect_url)
            .finish_non_exhaustive()
    }
}

/// The parts of the provider metadata (OpenID Connect Discovery 1.0 §3) used here.
#[derive(Deserialize)]
struct Metadata {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    jwks_uri: String,
    #[serde(default)]
    userinfo_endpoint: Option<String>,
    #[serde(default)]
    token_endpoint_auth_methods_supported: Option<Vec<String>>,
}

/// A JWKS as sent, its keys read one by one.
#[derive(Deserialize)]
struct RawJwks {
    keys: Vec<Value>,
}

/// The provider as discovered: the code flow on its endpoints, and where its keys are.
struct Discovered {
    /// The issuer exactly as the provider spells it (tokens' `iss` must be this).
    issuer: String,
    flow: CodeFlow,
    jwks_uri: String,
    /// Where the claims the scopes release are read when the ID token does not carry them.
    userinfo: Option<String>,
    read_at: Instant,
}

/// The provider's keys, and when an unknown `kid` last made us read them again.
#[derive(Default)]
struct Keys {
    set: Vec<Jwk>,
    refetched_at: Option<Instant>,
}

/// Sign-in with an OpenID Connect provider (Keycloak, Authentik, Authelia, Zitadel, Entra ID…).
pub struct OidcProvider {
    name: OAuthProviderName,
    settings: OidcSettings,
    http: reqwest::Client,
    discovered: RwLock<Option<Arc<Discovered>>>,
    /// One discovery at a time; the others wait for its result.
    discovering: tokio::sync::Mutex<()>,
    keys: RwLock<Keys>,
    /// One key refresh at a time.
    refreshing: tokio::sync::Mutex<()>,
}

impl fmt::Debug for OidcProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OidcProvider").field("settings", &self.settings).finish_non_exhaustive()
    }
}

impl OidcProvider {
    /// A provider for these settings; `http` should come from [`crate::http_client`]. Nothing is
    /// fetched yet: the metadata is read when the first sign-in needs it.
    pub fn new(mut settings: OidcSettings, http: reqwest::Client) -> anyhow::Result<Self> {
        let name = OAuthProviderName::parse(&settings.name)
            .filter(|n| matches!(n, OAuthProviderName::Oidc(_)))
            .ok_or_else(|| anyhow::anyhow!("{:?} cannot name an OpenID Connect provider", settings.name))?;
        check_url("OpenID Connect issuer", &settings.issuer)?;
        anyhow::ensure!(!settings.client_id.is_empty(), "the client id of {} is empty", settings.name);
        anyhow::ensure!(!settings.client_secret.is_empty(), "the client secret of {} is empty", settings.name);
        anyhow::ensure!(
            settings.role_map.iter().all(|(_, role)| *role != Role::SuperAdmin),
            "the role map of {} may not grant super_admin",
            settings.name
        );
        if !settings.scopes.iter().any(|s| s == "openid") {
            settings.scopes.insert(0, "openid".into());
        }
        Ok(Self {
            name,
            settings,
            http,
            discovered: RwLock::new(None),
            discovering: tokio::sync::Mutex::new(()),
            keys: RwLock::new(Keys::default()),
            refreshing: tokio::sync::Mutex::new(()),
        })
    }

    fn unavailable(&self, what: impl fmt::Display) -> ProviderError {
        ProviderError::Unavailable(format!("{}: {what}", self.settings.name))
    }

    /// A metadata, keys or userinfo read that failed, whatever the status: the provider is
    /// unusable for now (a `502` naming it), never the person's fault.
    fn unreachable(&self, error: ProviderError) -> ProviderError {
        match error {
            ProviderError::Refused(why) | ProviderError::Unavailable(why) | ProviderError::InvalidToken(why) => {
                self.unavailable(why)
            }
        }
    }

    fn current(&self) -> Option<Arc<Discovered>> {
        self.discovered.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// The provider's metadata and code flow, read when first needed and again after an hour
    /// (the last good one is kept while the provider cannot be reached).
    async fn discovered(&self) -> Result<Arc<Discovered>, ProviderError> {
        if let Some(found) = self.current().filter(|d| d.read_at.elapsed() < METADATA_TTL) {
            return Ok(found);
        }
        let _one_at_a_time = self.discovering.lock().await;
        if let Some(found) = self.current().filter(|d| d.read_at.elapsed() < METADATA_TTL) {
            return Ok(found);
        }
        match self.discover().await {
            Ok(found) => {
                let found = Arc::new(found);
                *self.discovered.write().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(found.clone());
                Ok(found)
            }
            Err(e) => match self.current() {
                Some(stale) => {
                    tracing::warn!(provider = %self.settings.name, error = %e, "keeping the provider's last metadata");
                    Ok(stale)
                }
                None => Err(e),
            },
        }
    }

    async fn discover(&self) -> Result<Discovered, ProviderError> {
        let url = format!("{}/.well-known/openid-configuration", self.settings.issuer.trim_end_matches('/'));
        let metadata: Metadata =
            get_json(self.http.get(&url), "the discovery document").await.map_err(|e| self.unreachable(e))?;
        // Discovery §4.3: the issuer in the document is the one asked for. A trailing `/` is the
        // one difference tolerated, as operators copy issuers with and without it.
        if metadata.issuer.trim_end_matches('/') != self.settings.issuer.trim_end_matches('/') {
            return Err(self.unavailable(format_args!(
                "the discovery document names the issuer {:?}, not {:?}",
                metadata.issuer, self.settings.issuer
            )));
        }
        for (what, value) in [
            ("authorization endpoint", &metadata.authorization_endpoint),
            ("token endpoint", &metadata.token_endpoint),
            ("jwks_uri", &metadata.jwks_uri),
        ] {
            check_url(what, value).map_err(|e| self.unavailable(e))?;
        }
        // `client_secret_basic` is the default (Discovery §3); `client_secret_post` when it is
        // the only one offered.
        let auth_type = match &metadata.token_endpoint_auth_methods_supported {
            Some(methods)
                if !methods.iter().any(|m| m == "client_secret_basic")
                    && methods.iter().any(|m| m == "client_secret_post") =>
            {
                AuthType::RequestBody
            }
            _ => AuthType::BasicAuth,
        };
        let client = OAuthClientSettings {
            client_id: self.settings.client_id.clone(),
            client_secret: self.settings.client_secret.clone(),
            auth_url: metadata.authorization_endpoint,
            token_url: metadata.token_endpoint,
            redirect_url: self.settings.redirect_url.clone(),
        };
        let flow = CodeFlow::with(client, self.settings.scopes.clone(), auth_type, true, self.http.clone())
            .map_err(|e| self.unavailable(e))?;
        let userinfo = metadata.userinfo_endpoint.filter(|url| check_url("userinfo endpoint", url).is_ok());
        Ok(Discovered { issuer: metadata.issuer, flow, jwks_uri: metadata.jwks_uri, userinfo, read_at: Instant::now() })
    }

    /// The key that verifies a token signed with `alg` under `kid`: from the keys known, else
    /// from the provider's JWKS read again (at once when none were read yet, else at most once
    /// a minute).
    async fn key_for(
        &self,
        discovered: &Discovered,
        kid: Option<&str>,
        alg: Algorithm,
    ) -> Result<DecodingKey, ProviderError> {
        if let Some(key) = self.known_key(kid, alg)? {
            return Ok(key);
        }
        let _one_at_a_time = self.refreshing.lock().await;
        if let Some(key) = self.known_key(kid, alg)? {
            return Ok(key);
        }
        let (empty, recently) = {
            let keys = self.keys.read().unwrap_or_else(std::sync::PoisonError::into_inner);
            (keys.set.is_empty(), keys.refetched_at.is_some_and(|at| at.elapsed() < JWKS_REFETCH_EVERY))
        };
        if empty || !recently {
            let set: RawJwks =
                get_json(self.http.get(&discovered.jwks_uri), "the JWKS").await.map_err(|e| self.unreachable(e))?;
            // Each key on its own: one of a kind `jsonwebtoken` does not know (an encryption
            // key of another algorithm) must not hide the others.
            let set: Vec<Jwk> = set.keys.into_iter().filter_map(|key| serde_json::from_value(key).ok()).collect();
            let mut keys = self.keys.write().unwrap_or_else(std::sync::PoisonError::into_inner);
            // The first read is not a refresh: a rotation right after it may still fetch.
            if !empty {
                keys.refetched_at = Some(Instant::now());
            }
            keys.set = set;
        }
        self.known_key(kid, alg)?.ok_or_else(|| {
            ProviderError::InvalidToken(match kid {
                Some(kid) => format!("no key of the provider's JWKS has the token's kid {kid:?}"),
                None => format!("the token names no kid and the provider's JWKS has no single {alg:?} key"),
            })
        })
    }

    /// A known key for `kid` and `alg`: one with that `kid` (any key of `alg`'s family when the
    /// token names none and exactly one fits), not meant for encryption, whose own `alg`, if it
    /// names one, is `alg`.
    fn known_key(&self, kid: Option<&str>, alg: Algorithm) -> Result<Option<DecodingKey>, ProviderError> {
        let keys = self.keys.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        let fits = |jwk: &&Jwk| {
            jwk.common.public_key_use != Some(PublicKeyUse::Encryption)
                && jwk.common.key_algorithm.is_none_or(|a| a.to_string() == format!("{alg:?}"))
        };
        let found: Vec<&Jwk> = match kid {
            Some(kid) => keys.set.iter().filter(fits).filter(|k| k.common.key_id.as_deref() == Some(kid)).collect(),
            None => keys.set.iter().filter(fits).collect(),
        };
        match found.as_slice() {
            [jwk] => DecodingKey::from_jwk(jwk)
                .map(Some)
                .map_err(|e| ProviderError::InvalidToken(format!("the provider's key cannot be used: {e}"))),
            _ => Ok(None),
        }
    }

    /// Checks a token's signature against the provider's keys, and `iss`, `aud`, `exp`/`nbf`
    /// with the leeway; returns its claims for the caller's own checks.
    async fn verified_claims(
        &self,
        discovered: &Discovered,
        token: &str,
        what: &str,
        required: &[&str],
    ) -> Result<Map<String, Value>, ProviderError> {
        let invalid = |why: String| ProviderError::InvalidToken(format!("{what}: {why}"));
        let header = decode_header(token).map_err(|_| {
            invalid("not a signed JWT with a supported algorithm (unsigned and HMAC tokens are refused)".into())
        })?;
        if !ACCEPTED_ALGORITHMS.contains(&header.alg) {
            return Err(invalid(format!("{:?} is not an asymmetric signature algorithm", header.alg)));
        }
        let key = self.key_for(discovered, header.kid.as_deref(), header.alg).await?;
        let mut validation = Validation::new(header.alg);
        validation.set_issuer(&[&discovered.issuer]);
        validation.set_audience(&[&self.settings.client_id]);
        validation.set_required_spec_claims(required);
        validation.leeway = LEEWAY_SECONDS.unsigned_abs();
        validation.validate_nbf = true;
        let data = decode::<Map<String, Value>>(token, &key, &validation).map_err(|e| invalid(jwt_failure(&e)))?;
        let claims = data.claims;
        // Core §3.1.3.7: with several audiences, `azp` must be present; when present, it is us.
        let audiences = match claims.get("aud") {
            Some(Value::Array(list)) => list.len(),
            _ => 1,
        };
        match claims.get("azp").and_then(Value::as_str) {
            Some(azp) if azp != self.settings.client_id => {
                return Err(invalid(format!("azp {azp:?} is not this client")));
            }
            None if audiences > 1 => return Err(invalid("aud holds several audiences and azp is missing".into())),
            _ => {}
        }
        let now = Utc::now().timestamp();
        match claims.get("iat").and_then(Value::as_i64) {
            None => return Err(invalid("iat is missing".into())),
            Some(iat) if iat > now + LEEWAY_SECONDS => return Err(invalid("iat is in the future".into())),
            Some(_) => {}
        }
        Ok(claims)
    }

    /// The role the claims map to, when roles come from this provider: the most powerful role
    /// any value of the role claim maps to, `user` when none does (or the claim is missing).
    fn role(&self, claims: &Map<String, Value>) -> Option<Role> {
        let path = self.settings.role_claim.as_deref()?;
        let mut value = None;
        for (i, segment) in path.split('.').enumerate() {
            value = if i == 0 { claims.get(segment) } else { value.and_then(|v: &Value| v.get(segment)) };
        }
        let values: Vec<&str> = match value {
            Some(Value::String(one)) => vec![one.as_str()],
            Some(Value::Array(many)) => many.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        let mapped = self
            .settings
            .role_map
            .iter()
            .filter(|(claimed, _)| values.contains(&claimed.as_str()))
            .map(|(_, role)| *role)
            .max_by_key(|role| Role::ALL.iter().position(|r| r == role));
        Some(mapped.unwrap_or(Role::User))
    }
}

/// What went wrong with a JWT, in words that name the claim.
fn jwt_failure(error: &jsonwebtoken::errors::Error) -> String {
    use jsonwebtoken::errors::ErrorKind;
    match error.kind() {
        ErrorKind::InvalidSignature => "the signature does not verify".into(),
        ErrorKind::ExpiredSignature => "it has expired (exp)".into(),
        ErrorKind::ImmatureSignature => "it is not valid yet (nbf)".into(),
        ErrorKind::InvalidIssuer => "iss is not the provider's issuer".into(),
        ErrorKind::InvalidAudience => "aud does not hold this client's id".into(),
        ErrorKind::InvalidAlgorithm => "the key does not match the token's algorithm".into(),
        ErrorKind::MissingRequiredClaim(claim) => format!("{claim} is missing"),
        ErrorKind::InvalidClaimFormat(claim) => format!("{claim} is malformed"),
        _ => "it cannot be read".into(),
    }
}

/// The text of claim `name`, when it is a non-empty string.
fn text<'c>(claims: &'c Map<String, Value>, name: &str) -> Option<&'c str> {
    claims.get(name).and_then(Value::as_str).filter(|s| !s.is_empty())
}

#[async_trait]
impl OAuthProvider for OidcProvider {
    fn name(&self) -> OAuthProviderName {
        self.name.clone()
    }

    fn display_name(&self) -> String {
        self.settings.display_name.clone()
    }

    fn identity_namespace(&self) -> String {
        // Accounts are linked by issuer and subject; the issuer as the operator wrote it, less
        // a trailing `/`, so that fixing that in the configuration keeps the links.
        self.settings.issuer.trim_end_matches('/').to_owned()
    }

    async fn authorization_request(&self) -> Result<AuthorizationRequest, ProviderError> {
        Ok(self.discovered().await?.flow.authorization_request())
    }

    async fn profile(
        &self,
        code: &str,
        pkce_verifier: &str,
        nonce: Option<String>,
    ) -> Result<ExternalProfile, ProviderError> {
        let discovered = self.discovered().await?;
        let exchanged = discovered.flow.exchange(code, pkce_verifier).await.map_err(|e| match e {
            ProviderError::Unavailable(why) => self.unavailable(why),
            refused => refused,
        })?;
        let id_token = exchanged
            .id_token
            .ok_or_else(|| ProviderError::InvalidToken("the token endpoint sent no ID token".into()))?;
        let mut claims =
            self.verified_claims(&discovered, &id_token, "ID token", &["exp", "iss", "aud", "sub"]).await?;
        let sent = nonce.unwrap_or_default();
        let sent = sent.as_str();
        match text(&claims, "nonce") {
            Some(got) if !sent.is_empty() && got == sent => {}
            Some(_) => return Err(ProviderError::InvalidToken("ID token: nonce is not the one sent".into())),
            None => return Err(ProviderError::InvalidToken("ID token: nonce is missing".into())),
        }
        let subject = text(&claims, "sub")
            .ok_or_else(|| ProviderError::InvalidToken("ID token: sub is empty".into()))?
            .to_owned();
        // Core §5.4: the claims the scopes ask for may come from the userinfo endpoint only (a
        // provider that keeps its ID tokens small does so), so they are read there too, after the
        // ID token was checked; what the ID token says wins.
        if let Some(url) = &discovered.userinfo {
            let request = self.http.get(url).bearer_auth(exchanged.access_token.secret());
            let info: Map<String, Value> =
                get_json(request, "the userinfo endpoint").await.map_err(|e| self.unreachable(e))?;
            // Core §5.3.2: a userinfo answer about someone else must not be used.
            if text(&info, "sub") != Some(subject.as_str()) {
                return Err(ProviderError::InvalidToken("userinfo's sub is not the ID token's".into()));
            }
            for (claim, value) in info {
                claims.entry(claim).or_insert(value);
            }
        }
        let email = text(&claims, "email").map(str::to_owned);
        let email_verified = email.is_some()
            && claims.get("email_verified").and_then(|v| Flag::deserialize(v).ok()).is_some_and(|f| f.is_true());
        let username_hint = text(&claims, "preferred_username")
            .map(str::to_owned)
            .or_else(|| email.as_deref().and_then(|e| e.split('@').next()).map(str::to_owned));
        Ok(ExternalProfile {
            session: Some(ProviderSession {
                issuer: self.identity_namespace(),
                subject: subject.clone(),
                sid: text(&claims, "sid").map(str::to_owned),
            }),
            role: self.role(&claims),
            subject,
            email,
            email_verified,
            username_hint,
        })
    }

    async fn verify_logout_token(&self, token: &str) -> Result<LogoutRequest, ProviderError> {
        let discovered = self.discovered().await?;
        let claims = self.verified_claims(&discovered, token, "logout token", &["iss", "aud"]).await?;
        let invalid = |why: &str| ProviderError::InvalidToken(format!("logout token: {why}"));
        let now = Utc::now();
        let iat = claims.get("iat").and_then(Value::as_i64).and_then(|t| DateTime::from_timestamp(t, 0));
        let Some(iat) = iat else { return Err(invalid("iat is missing")) };
        if iat < now - LOGOUT_TOKEN_MAX_AGE {
            return Err(invalid("iat is too old"));
        }
        let jti = text(&claims, "jti").ok_or_else(|| invalid("jti is missing"))?.to_owned();
        let event = claims.get("events").and_then(|events| events.get(BACKCHANNEL_LOGOUT_EVENT));
        if !event.is_some_and(Value::is_object) {
            return Err(invalid("events does not hold the back-channel logout event"));
        }
        if claims.contains_key("nonce") {
            return Err(invalid("a logout token must not carry a nonce"));
        }
        let subject = text(&claims, "sub").map(str::to_owned);
        let sid = text(&claims, "sid").map(str::to_owned);
        if subject.is_none() && sid.is_none() {
            return Err(invalid("it names neither sub nor sid"));
        }
        let exp = claims.get("exp").and_then(Value::as_i64).and_then(|t| DateTime::from_timestamp(t, 0));
        let leeway = chrono::Duration::seconds(LEEWAY_SECONDS);
        let expires_at = exp.unwrap_or(iat).max(iat + LOGOUT_TOKEN_MAX_AGE) + leeway;
        Ok(LogoutRequest { issuer: self.identity_namespace(), subject, sid, jti, expires_at })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn provider(role_claim: Option<&str>, role_map: &[(&str, Role)]) -> OidcProvider {
        OidcProvider::new(
            OidcSettings {
                name: "corp".into(),
                display_name: "Corp".into(),
                issuer: "https://id.example/realms/corp".into(),
                client_id: "workbench".into(),
                client_secret: "s3cret".into(),
                scopes: vec!["email".into()],
                role_claim: role_claim.map(str::to_owned),
                role_map: role_map.iter().map(|(k, r)| ((*k).to_owned(), *r)).collect(),
                redirect_url: "https://wb.example/api/v1/auth/oauth/corp/callback".into(),
            },
            crate::http_client().unwrap(),
        )
        .unwrap()
    }

    fn claims(json: &str) -> Map<String, Value> {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn roles_come_from_the_claim_up_and_down() {
        let map = [("wb-admins", Role::Admin), ("wb-mods", Role::Moderator)];
        let corp = provider(Some("groups"), &map);
        assert_eq!(corp.role(&claims(r#"{"groups":["staff","wb-mods","wb-admins"]}"#)), Some(Role::Admin));
        assert_eq!(corp.role(&claims(r#"{"groups":"wb-mods"}"#)), Some(Role::Moderator));
        assert_eq!(corp.role(&claims(r#"{"groups":["staff"]}"#)), Some(Role::User), "unmapped: user");
        assert_eq!(corp.role(&claims(r#"{}"#)), Some(Role::User), "no claim: user");
        let nested = provider(Some("realm_access.roles"), &map);
        assert_eq!(nested.role(&claims(r#"{"realm_access":{"roles":["wb-admins"]}}"#)), Some(Role::Admin));
        assert_eq!(provider(None, &[]).role(&claims(r#"{"groups":["wb-admins"]}"#)), None, "roles not managed");
    }

    #[test]
    fn settings_are_checked_and_the_secret_hidden() {
        let corp = provider(None, &[]);
        assert_eq!(corp.settings.scopes, ["openid", "email"], "openid is always asked for");
        assert!(!format!("{corp:?}").contains("s3cret"));
        let settings = corp.settings;
        let http = crate::http_client().unwrap();
        let super_admin = OidcSettings { role_map: vec![("x".into(), Role::SuperAdmin)], ..settings.clone() };
        assert!(OidcProvider::new(super_admin, http.clone()).is_err(), "no claim grants super_admin");
        assert!(OidcProvider::new(OidcSettings { name: "google".into(), ..settings.clone() }, http.clone()).is_err());
        assert!(OidcProvider::new(OidcSettings { issuer: "not a url".into(), ..settings }, http).is_err());
    }

    #[tokio::test]
    async fn an_unreachable_provider_is_unavailable_and_named() {
        let mut settings = provider(None, &[]).settings;
        settings.issuer = "http://127.0.0.1:9".into();
        let down = OidcProvider::new(settings, crate::http_client().unwrap()).unwrap();
        match down.authorization_request().await {
            Err(ProviderError::Unavailable(message)) => assert!(message.starts_with("corp:"), "{message}"),
            other => panic!("expected unavailable, got {other:?}"),
        }
    }
}
