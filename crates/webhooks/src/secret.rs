//! The signing secret of an outbound subscription.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand::RngCore;

const PREFIX: &str = "whsec_";
/// Random bytes in a new secret: within Standard Webhooks' 24 to 64.
const SECRET_BYTES: usize = 32;

/// `whsec_` followed by base64 of random bytes, as Standard Webhooks recommends; deliveries are
/// signed with the decoded bytes. Shown to its owner once, when the subscription is made; never
/// in logs (`Debug` redacts it).
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret {
    text: String,
    key: Vec<u8>,
}

impl WebhookSecret {
    /// A new random secret.
    pub fn generate() -> Self {
        let mut key = vec![0u8; SECRET_BYTES];
        rand::rng().fill_bytes(&mut key);
        Self { text: format!("{PREFIX}{}", STANDARD.encode(&key)), key }
    }

    /// A stored secret: `whsec_` and base64 (the prefix is optional, as the reference libraries
    /// accept it).
    pub fn parse(text: &str) -> Result<Self, String> {
        let encoded = text.strip_prefix(PREFIX).unwrap_or(text);
        let key = STANDARD.decode(encoded).map_err(|_| "is not a whsec_ secret".to_owned())?;
        if key.is_empty() {
            return Err("is empty".to_owned());
        }
        Ok(Self { text: text.to_owned(), key })
    }

    /// The secret as its owner sees it (`whsec_...`).
    pub fn expose(&self) -> &str {
        &self.text
    }

    /// The HMAC key: the decoded bytes.
    pub fn key(&self) -> &[u8] {
        &self.key
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret(redacted)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_secrets_round_trip_and_stay_out_of_logs() {
        let secret = WebhookSecret::generate();
        assert!(secret.expose().starts_with("whsec_"));
        assert_eq!(WebhookSecret::parse(secret.expose()).unwrap().key(), secret.key());
        assert_eq!(secret.key().len(), 32);
        assert!(!format!("{secret:?}").contains(secret.expose()));
        assert_ne!(WebhookSecret::generate(), secret);
        assert!(WebhookSecret::parse("whsec_!!!").is_err());
    }
}
