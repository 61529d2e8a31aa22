//! bcrypt password hashing on the blocking thread pool.

use async_trait::async_trait;
use workbench_users::{Password, PasswordHasher};

/// [`PasswordHasher`] with bcrypt. Hashing runs on Tokio's blocking pool: at the default cost it
/// takes tens of milliseconds of CPU, which would stall every request sharing the executor.
#[derive(Clone)]
pub struct BcryptHasher {
    cost: u32,
    /// A hash of a random password at the same cost, checked when there is no real hash, so that
    /// an unknown email costs as much time as a wrong password.
    dummy_hash: String,
}

impl std::fmt::Debug for BcryptHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BcryptHasher").field("cost", &self.cost).finish_non_exhaustive()
    }
}

impl BcryptHasher {
    /// A hasher at `cost` (4 to 31; 12 is a sound production default, tests use 4).
    pub fn new(cost: u32) -> anyhow::Result<Self> {
        anyhow::ensure!((4..=31).contains(&cost), "BCRYPT_COST must be 4 to 31, not {cost}");
        let dummy_hash = bcrypt::hash(uuid::Uuid::new_v4().to_string(), cost)?;
        Ok(Self { cost, dummy_hash })
    }

    pub fn cost(&self) -> u32 {
        self.cost
    }
}

#[async_trait]
impl PasswordHasher for BcryptHasher {
    async fn hash(&self, password: &str) -> anyhow::Result<String> {
        let password = password.to_owned();
        let cost = self.cost;
        Ok(tokio::task::spawn_blocking(move || bcrypt::hash(password, cost)).await??)
    }

    async fn verify(&self, password: &str, hash: Option<String>) -> anyhow::Result<bool> {
        // A password over bcrypt's 72-byte limit can never have been stored (they are refused at
        // registration), but it must still cost the same work as any other wrong password.
        let acceptable = password.len() <= Password::MAX_BYTES;
        let real = hash.is_some() && acceptable;
        let candidate = if acceptable { password.to_owned() } else { String::new() };
        let hash = hash.filter(|_| acceptable).unwrap_or_else(|| self.dummy_hash.clone());
        let matched = tokio::task::spawn_blocking(move || bcrypt::verify(candidate, &hash)).await??;
        Ok(real && matched)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_wrong_passwords_do_not() {
        let hasher = BcryptHasher::new(4).unwrap();
        let hash = hasher.hash("correct horse").await.unwrap();
        assert!(hash.starts_with("$2b$04$"));
        assert!(hasher.verify("correct horse", Some(hash.clone())).await.unwrap());
        assert!(!hasher.verify("wrong horse", Some(hash)).await.unwrap());
    }

    #[tokio::test]
    async fn no_hash_and_overlong_passwords_never_verify() {
        let hasher = BcryptHasher::new(4).unwrap();
        assert!(!hasher.verify("anything", None).await.unwrap());
        let long = "x".repeat(80);
        // bcrypt would compare only the first 72 bytes; the hasher must not accept this.
        let hash_of_prefix = hasher.hash(&long[..72]).await.unwrap();
        assert!(!hasher.verify(&long, Some(hash_of_prefix)).await.unwrap());
    }

    #[test]
    fn cost_is_bounded() {
        assert!(BcryptHasher::new(3).is_err());
        assert!(BcryptHasher::new(32).is_err());
    }
}
