//! HMAC-SHA256 signatures: the Standard Webhooks scheme Workbench signs its deliveries with, and
//! the schemes GitHub and Stripe sign theirs with. Every comparison is constant-time
//! (`Mac::verify_slice`).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::WebhookSecret;

type HmacSha256 = Hmac<Sha256>;

fn mac(key: &[u8]) -> HmacSha256 {
    // HMAC takes keys of any length.
    HmacSha256::new_from_slice(key).unwrap_or_else(|_| unreachable!("HMAC accepts every key length"))
}

/// Why a signature was refused. Said to nobody but the logs: the sender only learns "400".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The request carries no signature header.
    #[error("the signature header is missing")]
    Missing,
    /// The header is not in the provider's format.
    #[error("the signature header is malformed")]
    Malformed,
    /// The signature is not the body's: a wrong secret, or a changed body.
    #[error("the signature does not match")]
    Mismatch,
    /// The signed timestamp is older (or newer) than the tolerance allows.
    #[error("the signature's timestamp is outside the tolerance")]
    Expired,
}

/// Standard Webhooks: `v1,<base64 of HMAC-SHA256 over "{id}.{timestamp}.{body}">`, keyed with the
/// secret's decoded bytes.
pub fn sign(secret: &WebhookSecret, message_id: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = mac(secret.key());
    mac.update(message_id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

/// Checks a Standard Webhooks `webhook-signature` header (space-separated `v1,<base64>` values,
/// any of which may match) and that `timestamp` is within `tolerance_secs` of `now`: what a
/// receiver does, and what the tests of outbound deliveries do.
pub fn verify(
    secret: &WebhookSecret,
    message_id: &str,
    timestamp: i64,
    signatures: &str,
    body: &[u8],
    now: i64,
    tolerance_secs: i64,
) -> Result<(), SignatureError> {
    if (now - timestamp).abs() > tolerance_secs {
        return Err(SignatureError::Expired);
    }
    let mut mac = mac(secret.key());
    mac.update(message_id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let mut any = false;
    for candidate in signatures.split_whitespace() {
        let Some(encoded) = candidate.strip_prefix("v1,") else { continue };
        any = true;
        if let Ok(bytes) = STANDARD.decode(encoded)
            && mac.clone().verify_slice(&bytes).is_ok()
        {
            return Ok(());
        }
    }
    Err(if any { SignatureError::Mismatch } else { SignatureError::Malformed })
}

/// GitHub: `X-Hub-Signature-256: sha256=<hex of HMAC-SHA256 over the raw body>`, keyed with the
/// webhook's secret as given.
pub fn verify_github(secret: &str, header: Option<&str>, body: &[u8]) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let hex_digest = header.trim().strip_prefix("sha256=").ok_or(SignatureError::Malformed)?;
    let expected = hex::decode(hex_digest).map_err(|_| SignatureError::Malformed)?;
    let mut mac = mac(secret.as_bytes());
    mac.update(body);
    mac.verify_slice(&expected).map_err(|_| SignatureError::Mismatch)
}

/// Stripe: `Stripe-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>...][,v0=...]`, each `v1` an
/// HMAC-SHA256 over `"{t}.{raw body}"` keyed with the endpoint secret (`whsec_...`) as given. Any
/// `v1` may match (several appear while a secret is being rolled); `t` must be within
/// `tolerance_secs` of `now`, either way, so that a captured delivery cannot be replayed later.
pub fn verify_stripe(
    secret: &str,
    header: Option<&str>,
    body: &[u8],
    now: i64,
    tolerance_secs: i64,
) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => timestamp = Some(value.parse::<i64>().map_err(|_| SignatureError::Malformed)?),
            Some(("v1", value)) => signatures.push(value),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::Malformed)?;
    if signatures.is_empty() {
        return Err(SignatureError::Malformed);
    }
    let mut mac = mac(secret.as_bytes());
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let matched =
        signatures.iter().filter_map(|s| hex::decode(s).ok()).any(|bytes| mac.clone().verify_slice(&bytes).is_ok());
    if !matched {
        return Err(SignatureError::Mismatch);
    }
    if (now - timestamp).abs() > tolerance_secs {
        return Err(SignatureError::Expired);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_webhooks_matches_the_published_test_vector() {
        // The vector every Standard Webhooks reference library is tested with.
        let secret = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let body = br#"{"test": 2432232314}"#;
        let signature = sign(&secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body);
        assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
        let header = format!("v1,bm9wZQ== {signature}");
        assert_eq!(verify(&secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, &header, body, 1614265330, 300), Ok(()));
        assert_eq!(
            verify(&secret, "msg_other", 1614265330, &header, body, 1614265330, 300),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(&secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, &header, body, 1614265330 + 301, 300),
            Err(SignatureError::Expired)
        );
    }

    #[test]
    fn github_matches_its_documented_example() {
        // docs.github.com, "Validating webhook deliveries": the test values.
        let header = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        assert_eq!(verify_github("It's a Secret to Everybody", Some(header), b"Hello, World!"), Ok(()));
        assert_eq!(verify_github("another secret", Some(header), b"Hello, World!"), Err(SignatureError::Mismatch));
        assert_eq!(
            verify_github("It's a Secret to Everybody", Some(header), b"Hello, World?"),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(verify_github("s", None, b""), Err(SignatureError::Missing));
        assert_eq!(verify_github("s", Some("sha1=abcd"), b""), Err(SignatureError::Malformed));
        assert_eq!(verify_github("s", Some("sha256=zz"), b""), Err(SignatureError::Malformed));
    }

    const STRIPE_BODY: &[u8] = br#"{"id":"evt_1","type":"payment_intent.succeeded"}"#;
    // HMAC-SHA256("whsec_test_secret", "1700000000." + body), computed independently (Python's hmac).
    const STRIPE_V1: &str = "22d8dc182f5c588077683bd378368e29765bfe5df2560112b4f28fef120f0e31";

    #[test]
    fn stripe_accepts_any_matching_v1_within_the_tolerance() {
        let header = format!("t=1700000000,v1=00ff,v1={STRIPE_V1},v0=ignored");
        assert_eq!(verify_stripe("whsec_test_secret", Some(&header), STRIPE_BODY, 1700000000 + 299, 300), Ok(()));
        assert_eq!(verify_stripe("whsec_test_secret", Some(&header), STRIPE_BODY, 1700000000 - 299, 300), Ok(()));
    }

    #[test]
    fn stripe_refuses_old_future_forged_and_malformed_signatures() {
        let header = format!("t=1700000000,v1={STRIPE_V1}");
        let check = |h: &str, now| verify_stripe("whsec_test_secret", Some(h), STRIPE_BODY, now, 300);
        assert_eq!(check(&header, 1700000000 + 301), Err(SignatureError::Expired), "older than 5 minutes");
        assert_eq!(check(&header, 1700000000 - 301), Err(SignatureError::Expired), "from the future");
        assert_eq!(check(&format!("t=1700000001,v1={STRIPE_V1}"), 1700000001), Err(SignatureError::Mismatch));
        assert_eq!(check("t=1700000000", 1700000000), Err(SignatureError::Malformed));
        assert_eq!(check(&format!("v1={STRIPE_V1}"), 1700000000), Err(SignatureError::Malformed));
        assert_eq!(check(&format!("t=soon,v1={STRIPE_V1}"), 1700000000), Err(SignatureError::Malformed));
        assert_eq!(
            verify_stripe("whsec_other", Some(&header), STRIPE_BODY, 1700000000, 300),
            Err(SignatureError::Mismatch)
        );
    }
}
