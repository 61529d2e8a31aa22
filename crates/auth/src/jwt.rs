//! Access tokens as HS256-signed JWTs.

use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, encode};
use serde::{Deserialize, Serialize};
use workbench_users::{AccessClaims, AccessToken, InvalidAccessToken, Role, TokenIssuer, User, UserId};

/// What the issuer needs to know.
#[derive(Clone)]
pub struct JwtSettings {
    /// The HMAC key. At least 32 bytes in production (the app enforces it).
    pub secret: Vec<u8>,
    /// `iss`: who issued the token (the public URL of this deployment).
    pub issuer: String,
    /// `aud`: who the token is for.
    pub audience: String,
    pub ttl: Duration,
}

impl std::fmt::Debug for JwtSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtSettings")
            .field("secret", &"***")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("ttl", &self.ttl)
            .finish()
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    role: Role,
    iat: i64,
    exp: i64,
    iss: String,
    aud: String,
    jti: String,
    /// The user's token generation at issue time.
    #[serde(default)]
    generation: i64,
}

/// [`TokenIssuer`] with HS256 JWTs. The algorithm is pinned: a token whose header names any other
/// algorithm (including `none`) is refused, and so is one for another issuer or audience.
#[derive(Clone)]
pub struct JwtIssuer {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    settings: JwtSettings,
}

impl std::fmt::Debug for JwtIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtIssuer").field("settings", &self.settings).finish_non_exhaustive()
    }
}

impl JwtIssuer {
    pub fn new(settings: JwtSettings) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[&settings.issuer]);
        validation.set_audience(&[&settings.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = 5;
        Self {
            encoding: EncodingKey::from_secret(&settings.secret),
            decoding: DecodingKey::from_secret(&settings.secret),
            validation,
            settings,
        }
    }

    fn issue_at(&self, user: &User, now: DateTime<Utc>) -> anyhow::Result<AccessToken> {
        let exp = now + self.settings.ttl;
        let claims = Claims {
            sub: user.id.to_string(),
            role: user.role,
            iat: now.timestamp(),
            exp: exp.timestamp(),
            iss: self.settings.issuer.clone(),
            aud: self.settings.audience.clone(),
            jti: uuid::Uuid::new_v4().to_string(),
            generation: user.token_generation,
        };
        let token = encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)?;
        Ok(AccessToken { token, expires_in: self.settings.ttl.num_seconds() })
    }
}

impl TokenIssuer for JwtIssuer {
    fn issue(&self, user: &User) -> anyhow::Result<AccessToken> {
        self.issue_at(user, Utc::now())
    }

    fn verify(&self, token: &str) -> Result<AccessClaims, InvalidAccessToken> {
        let data =
            decode::<Claims>(token, &self.decoding, &self.validation).map_err(|e| InvalidAccessToken(e.to_string()))?;
        let claims = data.claims;
        let user_id = claims.sub.parse().map(UserId).map_err(|_| InvalidAccessToken("sub is not a user id".into()))?;
        let expires_at = DateTime::from_timestamp(claims.exp, 0).ok_or_else(|| InvalidAccessToken("bad exp".into()))?;
        Ok(AccessClaims { user_id, role: claims.role, token_id: claims.jti, generation: claims.generation, expires_at })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(secret: &str) -> JwtSettings {
        JwtSettings {
            secret: secret.as_bytes().to_vec(),
            issuer: "https://wb.example".into(),
            audience: "workbench".into(),
            ttl: Duration::minutes(15),
        }
    }

    fn user() -> User {
        User { username: "ann".into(), email: "ann@example.com".into(), role: Role::Moderator, ..User::sample(42) }
    }

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn round_trip() {
        let issuer = JwtIssuer::new(settings(SECRET));
        let token = issuer.issue(&user()).unwrap();
        assert_eq!(token.expires_in, 900);
        let claims = issuer.verify(&token.token).unwrap();
        assert_eq!((claims.user_id, claims.role), (UserId(42), Role::Moderator));
    }

    #[test]
    fn expired_tokens_are_refused() {
        let issuer = JwtIssuer::new(settings(SECRET));
        let token = issuer.issue_at(&user(), Utc::now() - Duration::hours(1)).unwrap();
        assert!(issuer.verify(&token.token).is_err());
    }

    #[test]
    fn other_keys_issuers_and_audiences_are_refused() {
        let token = JwtIssuer::new(settings(SECRET)).issue(&user()).unwrap().token;
        assert!(JwtIssuer::new(settings("another-secret-another-secret-xx")).verify(&token).is_err());
        let mut other = settings(SECRET);
        other.issuer = "https://evil.example".into();
        assert!(JwtIssuer::new(other).verify(&token).is_err());
        let mut other = settings(SECRET);
        other.audience = "someone-else".into();
        assert!(JwtIssuer::new(other).verify(&token).is_err());
    }

    #[test]
    fn unsigned_and_other_algorithm_tokens_are_refused() {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let issuer = JwtIssuer::new(settings(SECRET));
        let valid = issuer.issue(&user()).unwrap().token;
        let payload = valid.split('.').nth(1).unwrap();
        for alg in ["none", "HS512"] {
            let header = b64.encode(format!(r#"{{"alg":"{alg}","typ":"JWT"}}"#));
            let forged = format!("{header}.{payload}.");
            assert!(issuer.verify(&forged).is_err(), "alg {alg} must be refused");
        }
    }
}
