//! Password hashing with Argon2id in PHC string format.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::store::StoreError;

/// Hashes and verifies passwords with Argon2id.
///
/// [`PasswordHasher::default`] uses the argon2 crate's recommended cost
/// (19 MiB, 2 passes). [`PasswordHasher::with_cost`] lowers it for tests and
/// benchmarks; never lower it in production. Verification reads the cost from
/// the stored hash, so hashes made at any cost keep verifying.
#[derive(Clone, Default)]
pub struct PasswordHasher {
    params: Params,
    /// A hash verified against when a username is unknown, so an unknown user
    /// costs as much time as a wrong password.
    decoy: std::sync::Arc<std::sync::OnceLock<String>>,
}

impl std::fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordHasher")
            .field("memory_kib", &self.params.m_cost())
            .field("iterations", &self.params.t_cost())
            .finish()
    }
}

impl PasswordHasher {
    /// Creates a hasher with `memory_kib` KiB of memory and `iterations` passes.
    ///
    /// # Errors
    ///
    /// [`StoreError::PasswordHash`] when argon2 rejects the cost (memory below
    /// 8 KiB or zero iterations).
    pub fn with_cost(memory_kib: u32, iterations: u32) -> Result<Self, StoreError> {
        let params =
            Params::new(memory_kib, iterations, 1, None).map_err(|_| StoreError::PasswordHash)?;
        Ok(Self {
            params,
            decoy: Default::default(),
        })
    }

    /// Creates a hasher at the cheapest cost argon2 accepts, for tests and load
    /// benchmarks only.
    pub fn insecure_fast() -> Self {
        Self::with_cost(Params::MIN_M_COST, Params::MIN_T_COST).unwrap_or_default()
    }

    fn argon2(&self) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone())
    }

    /// Hashes `password` with a fresh random salt into a PHC string.
    ///
    /// # Errors
    ///
    /// [`StoreError::PasswordHash`] when hashing fails.
    pub fn hash(&self, password: &str) -> Result<String, StoreError> {
        let salt = SaltString::generate(&mut OsRng);
        self.argon2()
            .hash_password(password.as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .map_err(|_| StoreError::PasswordHash)
    }

    /// Returns whether `password` matches the PHC string `stored`. A malformed
    /// stored hash never matches.
    pub fn verify(&self, password: &str, stored: &str) -> bool {
        let Ok(parsed) = PasswordHash::new(stored) else {
            return false;
        };
        self.argon2()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    }
}

impl PasswordHasher {
    /// Hashes `password` on a blocking thread, since Argon2 is CPU-bound by design.
    ///
    /// # Errors
    ///
    /// [`StoreError::PasswordHash`] when hashing fails.
    pub async fn hash_blocking(&self, password: &str) -> Result<String, StoreError> {
        let hasher = self.clone();
        let password = password.to_owned();
        tokio::task::spawn_blocking(move || hasher.hash(&password))
            .await
            .map_err(|_| StoreError::PasswordHash)?
    }

    /// Verifies `password` against `stored` on a blocking thread. With no
    /// stored hash (an unknown user) it verifies against a decoy hash and
    /// returns `false`, taking the same time as a wrong password.
    ///
    /// # Errors
    ///
    /// [`StoreError::PasswordHash`] when the decoy cannot be made.
    pub async fn verify_blocking(
        &self,
        password: &str,
        stored: Option<String>,
    ) -> Result<bool, StoreError> {
        let known = stored.is_some();
        let stored = match stored {
            Some(stored) => stored,
            None => self.decoy()?,
        };
        let hasher = self.clone();
        let password = password.to_owned();
        let matches = tokio::task::spawn_blocking(move || hasher.verify(&password, &stored))
            .await
            .map_err(|_| StoreError::PasswordHash)?;
        Ok(known && matches)
    }

    fn decoy(&self) -> Result<String, StoreError> {
        if let Some(hash) = self.decoy.get() {
            return Ok(hash.clone());
        }
        let hash = self.hash("decoy password for unknown users")?;
        Ok(self.decoy.get_or_init(|| hash).clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_then_verify() {
        let hasher = PasswordHasher::insecure_fast();
        let stored = hasher.hash("pässword:with:colons").unwrap();
        assert!(stored.starts_with("$argon2id$"));
        assert!(hasher.verify("pässword:with:colons", &stored));
        assert!(!hasher.verify("password", &stored));
    }

    #[test]
    fn malformed_hash_never_matches() {
        let hasher = PasswordHasher::insecure_fast();
        assert!(!hasher.verify("x", "not a hash"));
        assert!(!hasher.verify("", ""));
    }

    #[test]
    fn rejects_too_low_cost() {
        assert!(PasswordHasher::with_cost(1, 1).is_err());
    }
}
