//! RFC 6238 time-based one-time passwords with `totp-rs`.
//!
//! The parameters are the ones every authenticator app assumes when an `otpauth://` URL does not
//! say otherwise: HMAC-SHA1, 6 digits, 30-second steps. One step of drift either side is accepted,
//! as RFC 6238 §5.2 recommends; refusing a code already used is the repository's job
//! ([`UserRepository::use_totp_step`](workbench_users::UserRepository::use_totp_step)), which is why
//! [`TotpVerifier::verify`] returns the matched step.

use chrono::{DateTime, Utc};
use totp_rs::{Algorithm, Builder, Secret, Totp};
use workbench_users::TotpVerifier;

/// Code length. Apps show 6 digits unless told otherwise.
const DIGITS: u8 = 6;
/// Seconds per time step.
const PERIOD: u64 = 30;
/// Steps accepted either side of the current one, for clock drift.
const SKEW: u16 = 1;

/// [`TotpVerifier`] with `totp-rs`: SHA1, 6 digits, 30-second steps, one step of skew.
#[derive(Debug, Clone)]
pub struct TotpRs {
    /// The name authenticator apps show next to the account ("Workbench").
    issuer: String,
}

impl TotpRs {
    /// A verifier whose `otpauth://` URLs are labelled with `issuer`.
    pub fn new(issuer: impl Into<String>) -> Self {
        Self { issuer: issuer.into() }
    }

    /// The TOTP of a base32 secret, labelled with `account` when given (only `otpauth://` URLs
    /// need a label). Fails when the secret is not base32 or is shorter than the 128 bits
    /// RFC 4226 requires.
    fn totp(&self, secret: &str, account: Option<&str>) -> Result<Totp, TotpSetupError> {
        let secret = Secret::try_from_base32(secret).map_err(|_| TotpSetupError::Secret)?;
        let mut builder = Builder::new()
            .with_algorithm(Algorithm::SHA1)
            .with_digits(DIGITS)
            .with_skew(SKEW)
            .with_step_duration(PERIOD)
            .with_secret(secret);
        if let Some(account) = account {
            builder = builder.with_account_name(account).with_issuer(Some(self.issuer.as_str()));
        }
        builder.build().map_err(TotpSetupError::Build)
    }
}

/// Why a TOTP could not be set up. Never carries the secret.
#[derive(Debug, thiserror::Error)]
enum TotpSetupError {
    #[error("the TOTP secret is not valid base32")]
    Secret,
    #[error("invalid TOTP parameters: {0}")]
    Build(totp_rs::TotpError),
}

impl TotpVerifier for TotpRs {
    fn generate_secret(&self) -> String {
        // 160 random bits from the OS generator, the length RFC 4226 recommends.
        Secret::generate().to_base32()
    }

    fn otpauth_url(&self, secret: &str, account: &str) -> anyhow::Result<String> {
        Ok(self.totp(secret, Some(account))?.to_url()?)
    }

    fn verify(&self, secret: &str, code: &str, at: DateTime<Utc>) -> Option<i64> {
        // Checked here as well as by totp-rs, so that the contract ("exactly 6 ASCII digits")
        // does not depend on a library detail: no signs, spaces or full-width digits.
        if code.len() != usize::from(DIGITS) || !code.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let time = u64::try_from(at.timestamp()).ok()?;
        let totp = self.totp(secret, None).ok()?;
        // `check` compares in constant time and tries step-1, step, step+1 in turn.
        let step = totp.check(code, time)?;
        i64::try_from(step).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    /// RFC 6238 appendix B's SHA1 key, the ASCII bytes "12345678901234567890", in base32.
    const RFC_SECRET: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";

    fn at(unix: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(unix, 0).single().unwrap()
    }

    fn verifier() -> TotpRs {
        TotpRs::new("Workbench")
    }

    #[test]
    fn the_rfc_secret_is_the_rfc_ascii_key() {
        let bytes = Secret::try_from_base32(RFC_SECRET).unwrap();
        assert_eq!(bytes.as_bytes(), b"12345678901234567890");
    }

    #[test]
    fn rfc_6238_sha1_vectors_are_accepted_with_their_step() {
        // 94287082 at T=59 and 07081804 at T=1111111109; apps show the last 6 digits.
        assert_eq!(verifier().verify(RFC_SECRET, "287082", at(59)), Some(1));
        assert_eq!(verifier().verify(RFC_SECRET, "081804", at(1_111_111_109)), Some(1_111_111_109 / 30));
    }

    #[test]
    fn one_step_of_drift_is_accepted_and_the_codes_own_step_returned() {
        let step = 1_111_111_109 / 30;
        // The code of `step`, checked from the step before and the step after.
        assert_eq!(verifier().verify(RFC_SECRET, "081804", at((step - 1) * 30)), Some(step));
        assert_eq!(verifier().verify(RFC_SECRET, "081804", at((step + 1) * 30 + 29)), Some(step));
    }

    #[test]
    fn two_steps_of_drift_are_refused() {
        let step = 1_111_111_109 / 30;
        assert_eq!(verifier().verify(RFC_SECRET, "081804", at((step - 2) * 30 + 29)), None);
        assert_eq!(verifier().verify(RFC_SECRET, "081804", at((step + 2) * 30)), None);
    }

    #[test]
    fn malformed_codes_are_refused() {
        let t = at(1_111_111_109);
        for code in ["", "81804", "0081804", "07081804", "+81804", "08180a", " 81804", "081804 ", "０８１８０４"]
        {
            assert_eq!(verifier().verify(RFC_SECRET, code, t), None, "{code:?}");
        }
    }

    #[test]
    fn undecodable_or_short_secrets_are_refused() {
        let t = at(1_111_111_109);
        assert_eq!(verifier().verify("not base32!", "081804", t), None);
        assert_eq!(verifier().verify("GEZDGNBV", "081804", t), None, "40 bits is below the RFC minimum");
        assert!(verifier().otpauth_url("not base32!", "ann@example.com").is_err());
    }

    #[test]
    fn a_time_before_the_epoch_is_refused() {
        assert_eq!(verifier().verify(RFC_SECRET, "287082", at(-1)), None);
    }

    #[test]
    fn generated_secrets_are_random_160_bit_base32_that_verify() {
        let (a, b) = (verifier().generate_secret(), verifier().generate_secret());
        assert_ne!(a, b);
        assert_eq!(Secret::try_from_base32(&a).unwrap().as_bytes().len(), 20);
        let t = at(1_700_000_000);
        let code = verifier().totp(&a, None).unwrap().generate(1_700_000_000).to_string();
        assert_eq!(verifier().verify(&a, &code, t), Some(1_700_000_000 / 30));
    }

    #[test]
    fn the_otpauth_url_names_issuer_account_and_secret() {
        let url = verifier().otpauth_url(RFC_SECRET, "ann@example.com").unwrap();
        assert!(url.starts_with("otpauth://totp/Workbench:ann%40example.com?"), "{url}");
        assert!(url.contains(&format!("secret={RFC_SECRET}")), "{url}");
        assert!(url.contains("issuer=Workbench"), "{url}");
        // The defaults (SHA1, 6 digits, 30 s) are left out, as the key URI format allows.
        assert!(!url.contains("algorithm=") && !url.contains("digits=") && !url.contains("period="), "{url}");
    }
}
