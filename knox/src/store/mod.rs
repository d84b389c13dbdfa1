//! Token storage: the [`TokenStore`] trait and its SQLite implementation.
//!
//! Every store keeps knox's `knox_authtoken` table: `digest` (primary key),
//! `token_key`, `user_id`, `created` and `expiry`. User ids cross this
//! boundary as strings, so integer and UUID ids both work.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

pub mod sqlite;

pub use sqlite::SqliteStore;

/// A token row as stored: never the token itself, only its digest.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenRecord {
    /// SHA-512 hex digest of the full token.
    pub digest: String,
    /// The token's prefix and its first 15 random characters, for display and audits.
    pub token_key: String,
    /// Id of the user the token belongs to.
    pub user_id: String,
    /// When the token was issued.
    pub created: DateTime<Utc>,
    /// When the token expires; `None` means never.
    pub expiry: Option<DateTime<Utc>>,
}

impl std::fmt::Debug for TokenRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The digest authenticates a request in no way, but it is kept out of logs all the same.
        f.debug_struct("TokenRecord")
            .field("digest", &"<redacted>")
            .field("token_key", &self.token_key)
            .field("user_id", &self.user_id)
            .field("created", &self.created)
            .field("expiry", &self.expiry)
            .finish()
    }
}

impl TokenRecord {
    /// Returns whether the token is expired at `now`.
    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        self.expiry.is_some_and(|expiry| expiry <= now)
    }
}

/// Result of looking a token up by digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// The token exists and has not expired.
    Live(TokenRecord),
    /// The token had expired; its row has been deleted.
    Expired(TokenRecord),
    /// No token has this digest.
    Missing,
}

/// Result of inserting a token under a per-user limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InsertOutcome {
    /// The token was stored.
    Inserted,
    /// The user already has as many live tokens as the limit allows; nothing was stored.
    LimitReached,
}

/// Storage of token digests.
///
/// Implementations make each method atomic on its own: in particular
/// [`insert_token`](Self::insert_token) checks the limit and inserts in one
/// step, so concurrent logins cannot pass the limit together.
#[async_trait]
pub trait TokenStore: Send + Sync + 'static {
    /// Stores `token` unless `limit` is set and the user already has that many
    /// live tokens at `now`. Expired tokens never count.
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the database fails.
    async fn insert_token(
        &self,
        token: &TokenRecord,
        limit: Option<u32>,
        now: DateTime<Utc>,
    ) -> Result<InsertOutcome, StoreError>;

    /// Looks a token up by digest. An expired token is deleted and reported as
    /// [`Lookup::Expired`], whether or not a purge has run.
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the database fails.
    async fn find_token(&self, digest: &str, now: DateTime<Utc>) -> Result<Lookup, StoreError>;

    /// Moves a token's expiry forward to `new_expiry` if it is earlier now, and
    /// returns the stored expiry afterwards. Returns `Ok(None)` when the token
    /// no longer exists, for example after a concurrent logout.
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the database fails.
    async fn extend_expiry(
        &self,
        digest: &str,
        new_expiry: DateTime<Utc>,
    ) -> Result<Option<Option<DateTime<Utc>>>, StoreError>;

    /// Deletes one token; returns whether it existed.
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the database fails.
    async fn delete_token(&self, digest: &str) -> Result<bool, StoreError>;

    /// Deletes every token of a user; returns how many there were.
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the database fails.
    async fn delete_user_tokens(&self, user_id: &str) -> Result<u64, StoreError>;

    /// Counts a user's live tokens at `now`.
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the database fails.
    async fn count_live_tokens(&self, user_id: &str, now: DateTime<Utc>)
        -> Result<u64, StoreError>;

    /// Deletes every token expired at `now`; returns how many.
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the database fails.
    async fn purge_expired(&self, now: DateTime<Utc>) -> Result<u64, StoreError>;
}

/// A failure of the token or user store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database could not be reached or returned an error.
    #[error("database error")]
    Database(#[source] sqlx::Error),
    /// Applying the embedded migrations failed.
    #[error("applying knox migrations failed")]
    Migration(#[source] sqlx::Error),
    /// A stored value could not be read, such as a time in an unknown format.
    #[error("invalid stored value in column `{column}`")]
    InvalidValue {
        /// Column that held the value.
        column: &'static str,
    },
    /// Hashing or verifying a password failed.
    #[error("password hashing failed")]
    PasswordHash,
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        StoreError::Database(error)
    }
}
