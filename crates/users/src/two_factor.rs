//! Two-factor authentication with TOTP (RFC 6238) and single-use recovery codes.
//!
//! Turning it on takes two steps: `setup` stores a pending secret and shows it once (with an
//! `otpauth://` URL for authenticator apps); `enable` proves the app holds it by a valid code and
//! hands out ten recovery codes, shown only then and stored only as hashes. A code is accepted one
//! time step either side of now, and never twice for a sign-in: the last used step is remembered.
//! Turning it on or off also takes the current password, when the account has one: an access
//! token alone (a borrowed laptop, a stolen token) must not be enough to change how the account
//! is protected.
//!
//! A sign-in that proves its first factor anywhere but the password form (an OAuth provider)
//! stops at the second factor with an [`MfaToken`]: single use, short-lived, stored only as a
//! hash, and exchanged with a code for the session.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use rand::{Rng, RngCore};
use workbench_core::{FieldErrors, Validator};

use crate::audit::{AuditAction, ClientInfo, NewAuditEntry};
use crate::provider::{OAuthProviderName, ProviderSession};
use crate::reauth::check_current_password;
use crate::tokens::TokenHash;
use crate::{PasswordHasher, TotpVerifier, User, UserId, UserRepository, now};

/// How many recovery codes `enable` hands out.
pub const RECOVERY_CODES: usize = 10;

/// Wrong second factors in a row before the second factor locks. Whoever sends codes already
/// has the password; a 6-digit code accepted in three time steps falls to about 330,000 guesses,
/// so guesses must be few.
pub const MAX_SECOND_FACTOR_FAILURES: u32 = 5;

/// How long the second factor stays locked after too many wrong codes.
pub const SECOND_FACTOR_LOCKOUT: Duration = Duration::minutes(15);

/// How long a sign-in that stopped at the second factor may be completed.
pub const MFA_TOKEN_TTL: Duration = Duration::minutes(5);

/// The ticket of a sign-in waiting for its second factor: 256 random bits, hex-encoded, handed to
/// the client once and stored only as its SHA-256 (like a refresh token, it cannot be guessed
/// from its hash).
#[derive(Clone, PartialEq, Eq)]
pub struct MfaToken(String);

impl MfaToken {
    /// A new token from the operating system's CSPRNG.
    pub fn generate() -> Self {
        Self(random_hex())
    }

    /// The hash under which the token is stored and looked up.
    pub fn hash(&self) -> TokenHash {
        TokenHash::of(&self.0)
    }

    /// The token itself, to hand to the client once.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for MfaToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MfaToken(***)")
    }
}

/// 256 random bits, hex-encoded.
pub(crate) fn random_hex() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// A sign-in whose first factor was proven, waiting for the second, stored under the hash of its
/// [`MfaToken`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingSecondFactor {
    /// Whose sign-in it is.
    pub user_id: UserId,
    /// The provider that proved the first factor, for the audit trail of the completed sign-in.
    pub provider: OAuthProviderName,
    /// When the sign-in can no longer be completed ([`MFA_TOKEN_TTL`] after it stopped).
    pub expires_at: DateTime<Utc>,
    /// The OpenID Connect provider's session the sign-in came from, kept with the session it
    /// completes.
    pub session: Option<ProviderSession>,
}

/// What a client is told when a sign-in stops at the second factor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MfaChallenge {
    /// The ticket to send back with the code, shown once.
    pub token: MfaToken,
    /// When the ticket stops being accepted.
    pub expires_at: DateTime<Utc>,
}

/// The second step of a sign-in that stopped at `totp-required`.
#[derive(Clone, Default)]
pub struct SecondFactorAttempt {
    /// The ticket the first step answered with.
    pub mfa_token: String,
    /// The current code of the user's authenticator app.
    pub totp_code: Option<String>,
    /// One of the user's recovery codes, in place of `totp_code`.
    pub recovery_code: Option<String>,
}

impl std::fmt::Debug for SecondFactorAttempt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecondFactorAttempt").finish_non_exhaustive()
    }
}

/// A user's TOTP secret and where they are with it.
#[derive(Clone, PartialEq, Eq)]
pub struct TotpState {
    /// Set from `setup` on; cleared by `disable`.
    pub secret: Option<String>,
    /// Whether sign-in needs a code: set by `enable`, cleared by `disable`.
    pub enabled: bool,
    /// The time step of the last accepted code.
    pub last_step: Option<i64>,
    /// Set after too many wrong codes in a row: no code is checked before then.
    pub locked_until: Option<DateTime<Utc>>,
}

impl std::fmt::Debug for TotpState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TotpState")
            .field("secret", &self.secret.as_ref().map(|_| "***"))
            .field("enabled", &self.enabled)
            .field("last_step", &self.last_step)
            .field("locked_until", &self.locked_until)
            .finish()
    }
}

/// What an authenticator app needs; shown once, at setup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TotpSetup {
    /// The shared secret, base32, for typing into an app by hand.
    pub secret: String,
    /// The `otpauth://` URL with the secret, the account and the issuer, for a QR code.
    pub otpauth_url: String,
}

/// A single-use recovery code: 16 characters (about 80 bits) from an alphabet without look-alikes,
/// shown in groups of four. Stored as a SHA-256 hash, which is safe at that entropy.
#[derive(Clone, PartialEq, Eq)]
pub struct RecoveryCode(String);

const RECOVERY_ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";

impl RecoveryCode {
    /// A fresh code: 16 characters of the alphabet, drawn at random.
    pub fn generate() -> Self {
        let mut rng = rand::rng();
        let chars: String =
            (0..16).map(|_| char::from(RECOVERY_ALPHABET[rng.random_range(0..RECOVERY_ALPHABET.len())])).collect();
        let groups: Vec<&str> = (0..4).map(|i| &chars[i * 4..i * 4 + 4]).collect();
        Self(groups.join("-"))
    }

    /// The hash of what a person typed: case, spaces and dashes do not matter.
    pub fn hash_of(typed: &str) -> TokenHash {
        let normalized: String =
            typed.chars().filter(|c| !c.is_whitespace() && *c != '-').flat_map(char::to_lowercase).collect();
        TokenHash::of(&normalized)
    }

    /// The hash under which the code is stored.
    pub fn hash(&self) -> TokenHash {
        Self::hash_of(&self.0)
    }

    /// Whether `typed` could be a recovery code: 16 characters of the alphabet once case, spaces
    /// and dashes are set aside.
    pub fn looks_like(typed: &str) -> bool {
        let chars = typed.chars().filter(|c| !c.is_whitespace() && *c != '-').flat_map(char::to_lowercase);
        let mut count = 0;
        for c in chars {
            if !u8::try_from(c).is_ok_and(|b| RECOVERY_ALPHABET.contains(&b)) {
                return false;
            }
            count += 1;
        }
        count == 16
    }

    /// The code as shown to its user, once.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for RecoveryCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RecoveryCode(***)")
    }
}

/// Failures of managing two-factor authentication.
#[derive(Debug, thiserror::Error)]
pub enum TwoFactorError {
    /// The code (or recovery code) is missing, wrong, expired or already used, or the current
    /// password is missing or wrong: every failing one of `code` and `password` is named.
    #[error("invalid fields: {0}")]
    Invalid(FieldErrors),
    /// `setup` or `enable` while TOTP is already on.
    #[error("two-factor authentication is already enabled")]
    AlreadyEnabled,
    /// `disable` while TOTP is off.
    #[error("two-factor authentication is not enabled")]
    NotEnabled,
    /// `enable` before `setup`.
    #[error("call setup first to get a secret")]
    NotSetUp,
    /// Too many wrong codes in a row; nothing is checked until `until`.
    #[error("too many wrong codes; try again later")]
    Locked {
        /// When codes are checked again.
        until: DateTime<Utc>,
    },
    /// Anything else: the store failed.
    #[error(transparent)]
    Unknown(#[from] anyhow::Error),
}

impl From<workbench_core::RepositoryError> for TwoFactorError {
    fn from(e: workbench_core::RepositoryError) -> Self {
        TwoFactorError::Unknown(e.into())
    }
}

/// How a second factor was proven.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecondFactor {
    /// A code of the user's authenticator app.
    Totp,
    /// One of the user's single-use recovery codes.
    RecoveryCode,
}

impl SecondFactor {
    /// The factor's name in the audit trail (`totp`, `recovery_code`).
    pub fn as_str(self) -> &'static str {
        match self {
            SecondFactor::Totp => "totp",
            SecondFactor::RecoveryCode => "recovery_code",
        }
    }
}

/// What checking a second factor found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SecondFactorOutcome {
    /// The code was right, and is now spent.
    Proven(SecondFactor),
    /// No code, or a wrong or used one.
    Refused,
    /// Too many wrong codes in a row: nothing was checked.
    Locked { until: DateTime<Utc> },
}

/// Checks and spends a second factor: a TOTP code (its step is then used up) or a recovery code
/// (then spent). Wrong codes count towards a temporary lock. Shared by sign-in and by turning
/// TOTP off.
#[derive(Clone)]
pub(crate) struct SecondFactorCheck {
    pub(crate) users: Arc<dyn UserRepository>,
    pub(crate) totp: Arc<dyn TotpVerifier>,
}

impl SecondFactorCheck {
    /// Whether `code` or `recovery_code` proves the second factor of `user`, spending it if so.
    pub(crate) async fn spend(
        &self,
        user: &User,
        code: Option<&str>,
        recovery_code: Option<&str>,
    ) -> Result<SecondFactorOutcome, workbench_core::RepositoryError> {
        let Some(state) = self.users.totp_state(user.id).await? else { return Ok(SecondFactorOutcome::Refused) };
        let at = now();
        if let Some(until) = state.locked_until.filter(|until| *until > at) {
            return Ok(SecondFactorOutcome::Locked { until });
        }
        let Some(secret) = state.secret.filter(|_| state.enabled) else { return Ok(SecondFactorOutcome::Refused) };
        let code = code.map(str::trim).filter(|c| !c.is_empty());
        let recovery_code = recovery_code.map(str::trim).filter(|c| !c.is_empty());
        if let Some(code) = code
            && let Some(step) = self.totp.verify(&secret, code, at)
            && self.users.use_totp_step(user.id, step).await?
        {
            self.users.clear_second_factor_failures(user.id).await?;
            return Ok(SecondFactorOutcome::Proven(SecondFactor::Totp));
        }
        if let Some(typed) = recovery_code
            && self.users.use_recovery_code(user.id, &RecoveryCode::hash_of(typed), at).await?
        {
            self.users.clear_second_factor_failures(user.id).await?;
            return Ok(SecondFactorOutcome::Proven(SecondFactor::RecoveryCode));
        }
        if code.is_none() && recovery_code.is_none() {
            // Asking for the second factor is not a guess.
            return Ok(SecondFactorOutcome::Refused);
        }
        let locked = self
            .users
            .record_second_factor_failure(user.id, MAX_SECOND_FACTOR_FAILURES, at + SECOND_FACTOR_LOCKOUT)
            .await?;
        Ok(match locked {
            Some(until) => SecondFactorOutcome::Locked { until },
            None => SecondFactorOutcome::Refused,
        })
    }
}

/// What a wrong code is called, wherever one is refused.
const WRONG_CODE: &str = "is invalid, expired or already used";

/// Setting up, enabling and disabling TOTP for the signed-in user.
#[derive(Clone)]
pub struct TwoFactorService {
    users: Arc<dyn UserRepository>,
    totp: Arc<dyn TotpVerifier>,
    hasher: Arc<dyn PasswordHasher>,
    issuer_label: String,
}

impl std::fmt::Debug for TwoFactorService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TwoFactorService").field("issuer_label", &self.issuer_label).finish_non_exhaustive()
    }
}

impl TwoFactorService {
    /// The service over the accounts in `users`, checking codes with `totp` and passwords with
    /// `hasher`; secrets are issued under the label `Workbench`.
    pub fn new(users: Arc<dyn UserRepository>, totp: Arc<dyn TotpVerifier>, hasher: Arc<dyn PasswordHasher>) -> Self {
        Self { users, totp, hasher, issuer_label: "Workbench".into() }
    }

    /// A new secret for an authenticator app, pending until [`Self::enable`]. Calling it again
    /// before enabling replaces the pending secret; once enabled, the secret is never shown again.
    pub async fn setup(&self, id: UserId) -> Result<TotpSetup, TwoFactorError> {
        let user = self.account(id).await?;
        let secret = self.totp.generate_secret();
        if !self.users.set_pending_totp(user.id, secret.clone(), now()).await? {
            return Err(TwoFactorError::AlreadyEnabled);
        }
        let otpauth_url = self.totp.otpauth_url(&secret, &user.email)?;
        Ok(TotpSetup { secret, otpauth_url })
    }

    /// Turns TOTP on once `code` proves the app holds the pending secret and `password` is the
    /// account's current one (accounts without a password, made through a provider, send none),
    /// and returns the recovery codes: the only time anyone sees them.
    pub async fn enable(
        &self,
        id: UserId,
        code: &str,
        password: Option<&str>,
        client: &ClientInfo,
    ) -> Result<Vec<RecoveryCode>, TwoFactorError> {
        let user = self.account(id).await?;
        let state = self.users.totp_state(user.id).await?.ok_or(TwoFactorError::NotSetUp)?;
        if state.enabled {
            return Err(TwoFactorError::AlreadyEnabled);
        }
        let secret = state.secret.ok_or(TwoFactorError::NotSetUp)?;
        let mut v = Validator::default();
        // The confirming code does not use up its step: the user's next move is usually to sign in
        // (on this device or another) with the code the app still shows, and refusing it as a
        // replay would be a trap. It proved the secret over an authenticated session; a sign-in
        // still needs the password, and spends the step it uses.
        match code.trim() {
            "" => v.fail("code", "is required"),
            code if self.totp.verify(&secret, code, now()).is_none() => v.fail("code", WRONG_CODE),
            _ => {}
        }
        self.check_password(&user, password, &mut v).await?;
        v.finish().map_err(TwoFactorError::Invalid)?;
        let codes: Vec<RecoveryCode> = (0..RECOVERY_CODES).map(|_| RecoveryCode::generate()).collect();
        let at = now();
        let audit = NewAuditEntry::new(AuditAction::TotpEnabled, client).by(user.id).on(user.id).at(at);
        let hashes = codes.iter().map(RecoveryCode::hash).collect();
        if !self.users.enable_totp(user.id, None, hashes, at, vec![audit]).await? {
            // A concurrent request enabled it (or disabled and cleared the secret) meanwhile.
            return Err(TwoFactorError::AlreadyEnabled);
        }
        Ok(codes)
    }

    /// Turns TOTP off. `code` is a current TOTP code or, for someone who lost their device, an
    /// unused recovery code; `password` is the current password, when the account has one.
    ///
    /// The code is spent only once the password is right. Before that it is judged without being
    /// spent, which a recovery code cannot be: with a wrong password, a code shaped like a
    /// recovery code is not judged (only `password` is named).
    pub async fn disable(
        &self,
        id: UserId,
        code: &str,
        password: Option<&str>,
        client: &ClientInfo,
    ) -> Result<(), TwoFactorError> {
        let user = &self.account(id).await?;
        if !user.totp_enabled {
            return Err(TwoFactorError::NotEnabled);
        }
        let code = code.trim();
        let mut v = Validator::default();
        self.check_password(user, password, &mut v).await?;
        let password_ok = v.is_valid();
        if code.is_empty() {
            v.fail("code", "is required");
        } else if !password_ok && self.plainly_wrong(user, code).await? {
            v.fail("code", WRONG_CODE);
        }
        v.finish().map_err(TwoFactorError::Invalid)?;
        let check = SecondFactorCheck { users: self.users.clone(), totp: self.totp.clone() };
        let factor = match check.spend(user, Some(code), Some(code)).await? {
            SecondFactorOutcome::Proven(factor) => factor,
            SecondFactorOutcome::Refused => {
                return Err(TwoFactorError::Invalid(FieldErrors::single("code", WRONG_CODE)));
            }
            SecondFactorOutcome::Locked { until } => return Err(TwoFactorError::Locked { until }),
        };
        let audit = NewAuditEntry::new(AuditAction::TotpDisabled, client)
            .by(user.id)
            .on(user.id)
            .with("second_factor", factor.as_str());
        self.users.disable_totp(user.id, now(), vec![audit]).await?;
        Ok(())
    }

    /// Names `password` in `v` when the account has a password and `password` is missing or not
    /// it. An account without one (made through a provider) has nothing to check.
    async fn check_password(
        &self,
        user: &User,
        password: Option<&str>,
        v: &mut Validator,
    ) -> Result<(), TwoFactorError> {
        check_current_password(self.users.as_ref(), self.hasher.as_ref(), user.id, password, v).await?;
        Ok(())
    }

    /// Whether `code` is wrong without spending anything: not a current, unused TOTP code, and not
    /// shaped like a recovery code (which only spending can judge). A locked second factor
    /// judges nothing.
    async fn plainly_wrong(&self, user: &User, code: &str) -> Result<bool, TwoFactorError> {
        let Some(state) = self.users.totp_state(user.id).await? else { return Ok(false) };
        let at = now();
        if state.locked_until.is_some_and(|until| until > at) || RecoveryCode::looks_like(code) {
            return Ok(false);
        }
        let Some(secret) = state.secret.filter(|_| state.enabled) else { return Ok(true) };
        let unused = |step: i64| state.last_step.is_none_or(|last| step > last);
        Ok(!self.totp.verify(&secret, code, at).is_some_and(unused))
    }

    /// The signed-in account, as stored now.
    async fn account(&self, id: UserId) -> Result<User, TwoFactorError> {
        // The caller was authenticated a moment ago: only a concurrent deletion gets here.
        self.users.find(id).await?.ok_or_else(|| anyhow::anyhow!("the signed-in account {id} no longer exists").into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{MockPasswordHasher, MockTotpVerifier, MockUserRepository};

    /// The service, with a hasher for which only "right password" is right.
    fn service(users: MockUserRepository, totp: MockTotpVerifier) -> TwoFactorService {
        let mut hasher = MockPasswordHasher::new();
        hasher.expect_verify().returning(|password, hash| Ok(hash.is_some() && password == "right password"));
        TwoFactorService::new(Arc::new(users), Arc::new(totp), Arc::new(hasher))
    }

    /// The fields a refusal names.
    fn fields<T: std::fmt::Debug>(result: Result<T, TwoFactorError>) -> Vec<String> {
        match result {
            Err(TwoFactorError::Invalid(errors)) => errors.as_slice().iter().map(|e| e.field.clone()).collect(),
            other => panic!("expected a 422, got {other:?}"),
        }
    }

    fn user(totp_enabled: bool) -> User {
        User { totp_enabled, ..User::sample(1) }
    }

    fn verifier() -> MockTotpVerifier {
        let mut totp = MockTotpVerifier::new();
        totp.expect_verify().returning(|_, code, _| (code == "123456").then_some(1000));
        totp
    }

    fn state(enabled: bool, secret: Option<&str>) -> TotpState {
        TotpState { secret: secret.map(str::to_owned), enabled, last_step: None, locked_until: None }
    }

    #[test]
    fn recovery_codes_are_long_distinct_and_forgiving_to_type() {
        let a = RecoveryCode::generate();
        assert_eq!(a.expose().len(), 19);
        assert_ne!(a, RecoveryCode::generate());
        assert_eq!(RecoveryCode::hash_of(&a.expose().to_uppercase().replace('-', " ")), a.hash());
        assert_eq!(format!("{a:?}"), "RecoveryCode(***)");
    }

    #[tokio::test]
    async fn setup_refuses_once_enabled_so_the_secret_is_never_shown_again() {
        let mut users = MockUserRepository::new();
        users.expect_find().returning(|_| Ok(Some(user(true))));
        users.expect_password_hash().returning(|_| Ok(None));
        users.expect_set_pending_totp().returning(|_, _, _| Ok(false));
        let mut totp = MockTotpVerifier::new();
        totp.expect_generate_secret().returning(|| "SECRET".into());
        let svc = service(users, totp);
        assert!(matches!(svc.setup(UserId(1)).await, Err(TwoFactorError::AlreadyEnabled)));
    }

    #[tokio::test]
    async fn enable_needs_a_valid_code_and_stores_only_hashes() {
        let mut users = MockUserRepository::new();
        users.expect_find().returning(|_| Ok(Some(user(false))));
        users.expect_password_hash().returning(|_| Ok(None));
        users.expect_totp_state().returning(|_| Ok(Some(state(false, Some("S")))));
        let stored = Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = stored.clone();
        users.expect_enable_totp().times(1).returning(move |_, used_step, codes, _, audit| {
            assert_eq!(used_step, None, "the confirming code may still sign in");
            assert_eq!(audit[0].action, AuditAction::TotpEnabled);
            *sink.lock().unwrap() = codes;
            Ok(true)
        });
        let svc = service(users, verifier());
        let client = ClientInfo::default();
        assert_eq!(fields(svc.enable(UserId(1), "000000", None, &client).await), ["code"]);
        let codes = svc.enable(UserId(1), "123456", None, &client).await.unwrap();
        assert_eq!(codes.len(), RECOVERY_CODES);
        let hashes: Vec<_> = codes.iter().map(RecoveryCode::hash).collect();
        assert_eq!(*stored.lock().unwrap(), hashes);
    }

    #[tokio::test]
    async fn enable_before_setup_is_refused() {
        let mut users = MockUserRepository::new();
        users.expect_find().returning(|_| Ok(Some(user(false))));
        users.expect_password_hash().returning(|_| Ok(None));
        users.expect_totp_state().returning(|_| Ok(Some(state(false, None))));
        let svc = service(users, verifier());
        let err = svc.enable(UserId(1), "123456", None, &ClientInfo::default()).await;
        assert!(matches!(err, Err(TwoFactorError::NotSetUp)));
    }

    #[tokio::test]
    async fn a_used_step_is_refused() {
        let mut users = MockUserRepository::new();
        users.expect_find().returning(|_| Ok(Some(user(true))));
        users.expect_password_hash().returning(|_| Ok(None));
        users.expect_totp_state().returning(|_| Ok(Some(state(true, Some("S")))));
        users.expect_use_totp_step().returning(|_, _| Ok(false));
        users.expect_use_recovery_code().returning(|_, _, _| Ok(false));
        users.expect_record_second_factor_failure().times(1).returning(|_, _, _| Ok(None));
        users.expect_disable_totp().never();
        let svc = service(users, verifier());
        assert_eq!(fields(svc.disable(UserId(1), "123456", None, &ClientInfo::default()).await), ["code"]);
    }

    #[tokio::test]
    async fn disable_accepts_a_recovery_code() {
        let mut users = MockUserRepository::new();
        users.expect_find().returning(|_| Ok(Some(user(true))));
        users.expect_password_hash().returning(|_| Ok(None));
        users.expect_totp_state().returning(|_| Ok(Some(state(true, Some("S")))));
        users.expect_use_recovery_code().returning(|_, _, _| Ok(true));
        users.expect_clear_second_factor_failures().returning(|_| Ok(()));
        users
            .expect_disable_totp()
            .withf(|_, _, audit| audit[0].details["second_factor"] == "recovery_code")
            .times(1)
            .returning(|_, _, _| Ok(()));
        let svc = service(users, verifier());
        svc.disable(UserId(1), "abcd-efgh-jkmn-pqrs", None, &ClientInfo::default()).await.unwrap();
    }

    #[tokio::test]
    async fn a_locked_second_factor_checks_nothing() {
        let mut users = MockUserRepository::new();
        users.expect_find().returning(|_| Ok(Some(user(true))));
        users.expect_password_hash().returning(|_| Ok(None));
        let until = now() + SECOND_FACTOR_LOCKOUT;
        users
            .expect_totp_state()
            .returning(move |_| Ok(Some(TotpState { locked_until: Some(until), ..state(true, Some("S")) })));
        users.expect_use_totp_step().never();
        let svc = service(users, verifier());
        let err = svc.disable(UserId(1), "123456", None, &ClientInfo::default()).await;
        assert!(matches!(err, Err(TwoFactorError::Locked { until: u }) if u == until), "{err:?}");
    }

    #[tokio::test]
    async fn the_last_allowed_wrong_code_locks() {
        let mut users = MockUserRepository::new();
        users.expect_find().returning(|_| Ok(Some(user(true))));
        users.expect_password_hash().returning(|_| Ok(None));
        users.expect_totp_state().returning(|_| Ok(Some(state(true, Some("S")))));
        users.expect_use_recovery_code().returning(|_, _, _| Ok(false));
        let until = now() + SECOND_FACTOR_LOCKOUT;
        users
            .expect_record_second_factor_failure()
            .withf(|_, limit, _| *limit == MAX_SECOND_FACTOR_FAILURES)
            .returning(move |_, _, _| Ok(Some(until)));
        let svc = service(users, verifier());
        let err = svc.disable(UserId(1), "000000", None, &ClientInfo::default()).await;
        assert!(matches!(err, Err(TwoFactorError::Locked { .. })), "{err:?}");
    }

    fn with_password(totp_enabled: bool) -> MockUserRepository {
        let mut users = MockUserRepository::new();
        users.expect_find().returning(move |_| Ok(Some(user(totp_enabled))));
        users.expect_password_hash().returning(|_| Ok(Some("hash".into())));
        users.expect_totp_state().returning(move |_| Ok(Some(state(totp_enabled, Some("S")))));
        users
    }

    #[tokio::test]
    async fn enable_takes_the_current_password_and_names_every_wrong_field() {
        let mut users = with_password(false);
        users.expect_enable_totp().times(1).returning(|_, _, _, _, _| Ok(true));
        let svc = service(users, verifier());
        let client = ClientInfo::default();
        let enable =
            |code: &'static str, password: Option<&'static str>| svc.enable(UserId(1), code, password, &client);
        assert_eq!(fields(enable("000000", None).await), ["code", "password"]);
        assert_eq!(fields(enable("", Some("wrong")).await), ["code", "password"]);
        assert_eq!(fields(enable("123456", None).await), ["password"]);
        assert_eq!(fields(enable("123456", Some("")).await), ["password"]);
        assert_eq!(fields(enable("123456", Some("wrong")).await), ["password"]);
        assert_eq!(fields(enable("000000", Some("right password")).await), ["code"]);
        assert_eq!(enable("123456", Some("right password")).await.unwrap().len(), RECOVERY_CODES);
    }

    #[tokio::test]
    async fn an_account_without_a_password_needs_only_the_code() {
        let mut users = MockUserRepository::new();
        users.expect_find().returning(|_| Ok(Some(user(false))));
        users.expect_password_hash().returning(|_| Ok(None));
        users.expect_totp_state().returning(|_| Ok(Some(state(false, Some("S")))));
        users.expect_enable_totp().times(1).returning(|_, _, _, _, _| Ok(true));
        let mut hasher = MockPasswordHasher::new();
        hasher.expect_verify().never();
        let svc = TwoFactorService::new(Arc::new(users), Arc::new(verifier()), Arc::new(hasher));
        svc.enable(UserId(1), "123456", None, &ClientInfo::default()).await.unwrap();
    }

    #[tokio::test]
    async fn disable_with_a_wrong_password_spends_no_code() {
        let mut users = with_password(true);
        users.expect_use_totp_step().never();
        users.expect_use_recovery_code().never();
        users.expect_record_second_factor_failure().never();
        users.expect_disable_totp().never();
        let svc = service(users, verifier());
        let client = ClientInfo::default();
        let disable =
            |code: &'static str, password: Option<&'static str>| svc.disable(UserId(1), code, password, &client);
        assert_eq!(fields(disable("000000", None).await), ["password", "code"]);
        assert_eq!(fields(disable("", Some("wrong")).await), ["password", "code"]);
        // A right code is not spent, and not named.
        assert_eq!(fields(disable("123456", Some("wrong")).await), ["password"]);
        // Only spending could judge a recovery code.
        assert_eq!(fields(disable("abcd-efgh-jkmn-pqrs", Some("wrong")).await), ["password"]);
    }

    #[tokio::test]
    async fn disable_with_the_right_password_spends_the_code() {
        let mut users = with_password(true);
        users.expect_use_totp_step().times(1).returning(|_, _| Ok(true));
        users.expect_clear_second_factor_failures().returning(|_| Ok(()));
        users.expect_disable_totp().times(1).returning(|_, _, _| Ok(()));
        let svc = service(users, verifier());
        svc.disable(UserId(1), "123456", Some("right password"), &ClientInfo::default()).await.unwrap();
    }

    #[test]
    fn mfa_tokens_are_long_distinct_and_redacted() {
        let a = MfaToken::generate();
        assert_eq!(a.expose().len(), 64, "256 bits");
        assert_ne!(a, MfaToken::generate());
        assert_ne!(a.hash().as_str(), a.expose());
        assert_eq!(format!("{a:?}"), "MfaToken(***)");
    }

    #[test]
    fn recovery_codes_are_recognised_by_shape() {
        assert!(RecoveryCode::looks_like(RecoveryCode::generate().expose()));
        assert!(RecoveryCode::looks_like("ABCD EFGH JKMN PQRS"));
        assert!(!RecoveryCode::looks_like("123456"));
        assert!(!RecoveryCode::looks_like("abcd-efgh-jkmn-pqr0"));
    }
}
