//! Token storage: the [`TokenStore`] trait and its SQLite and PostgreSQL implementations.
//!
//! Every store keeps knox's `knox_authtoken` table: `digest` (primary key),
//! `token_key`, `user_id`, `created` and `expiry`. User ids cross this
//! boundary as strings, so integer and UUID ids both work.
//!
//! A store either owns that table, created by its own migrations (`open`,
//! `migrate`), or shares the table that django-rest-knox's migrations created
//! (`existing_knox_tables`), so a Django service and an axum service accept
//! each other's tokens on one database. Sharing, the store never creates,
//! alters or indexes `knox_authtoken`; it creates only its own refresh tables.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

mod batch;
pub(crate) mod lease;
#[cfg(feature = "postgres")]
pub mod postgres;
pub mod rotation;
pub mod sqlite;

#[cfg(feature = "postgres")]
pub use postgres::PgStore;
pub use rotation::{RotationRules, RotationState};
pub use sqlite::SqliteStore;

/// Owner of the `knox_authtoken` table, which decides what a store may change in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenTable {
    /// The store's own migrations created it; it may migrate and index it.
    Own,
    /// django-rest-knox's migrations created it and Django owns it: the store
    /// never changes its schema and writes `token_key` as knox does.
    Django,
}

impl TokenTable {
    /// Returns the `token_key` to store for a token whose key is `key`.
    ///
    /// knox finds a token by `token[:15]`, prefix included, and then compares
    /// digests, so in Django's table the key must be exactly those 15
    /// characters or knox rejects a prefixed token issued here. `key` is the
    /// prefix plus 15 random characters, so its first 15 characters are the
    /// token's first 15.
    pub(crate) fn stored_token_key(self, key: &str) -> &str {
        match self {
            TokenTable::Own => key,
            TokenTable::Django => key.get(..crate::crypto::TOKEN_KEY_LENGTH).unwrap_or(key),
        }
    }
}

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

/// A refresh token family: every pair issued from one login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FamilyRecord {
    /// Random id of the family.
    pub id: String,
    /// Id of the user the family belongs to.
    pub user_id: String,
    /// When the family began, at login.
    pub created: DateTime<Utc>,
    /// The family's absolute expiry; no refresh token of it lives longer.
    pub expiry: DateTime<Utc>,
}

/// A refresh token about to be stored: its digest, never the token.
#[derive(Clone, PartialEq, Eq)]
pub struct NewRefreshToken {
    /// SHA-512 hex digest of the full refresh token.
    pub digest: String,
    /// The token's prefix and its first 15 random characters.
    pub token_key: String,
}

impl std::fmt::Debug for NewRefreshToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewRefreshToken")
            .field("digest", &"<redacted>")
            .field("token_key", &self.token_key)
            .finish()
    }
}

/// A new family and its first refresh token, stored with the login's access token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewFamily {
    /// The family.
    pub family: FamilyRecord,
    /// Its first refresh token.
    pub token: NewRefreshToken,
}

/// A stored refresh token as rotation returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshTokenRecord {
    /// The family the token belongs to.
    pub family_id: String,
    /// Id of the token's user.
    pub user_id: String,
    /// Position of the token in its family, from 1 at login.
    pub generation: i64,
    /// When the token was issued.
    pub created: DateTime<Utc>,
    /// When the token expires: the family's expiry.
    pub expiry: DateTime<Utc>,
}

/// A refresh token found by digest, before any rotation.
#[derive(Clone, PartialEq, Eq)]
pub struct RefreshLookup {
    /// SHA-512 hex digest of the token.
    pub digest: String,
    /// The family the token belongs to.
    pub family_id: String,
    /// Id of the token's user.
    pub user_id: String,
}

impl std::fmt::Debug for RefreshLookup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RefreshLookup")
            .field("digest", &"<redacted>")
            .field("family_id", &self.family_id)
            .field("user_id", &self.user_id)
            .finish()
    }
}

/// Result of presenting a refresh token for rotation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RotationOutcome {
    /// The new pair is stored and the old pair retired.
    Rotated {
        /// The new refresh token.
        refresh: RefreshTokenRecord,
        /// The new access token's expiry, capped at the family's expiry.
        access_expiry: Option<DateTime<Utc>>,
    },
    /// No refresh token has this digest.
    Missing,
    /// The family outlived its absolute lifetime and was deleted.
    Expired {
        /// The family's user.
        user_id: String,
    },
    /// A superseded token was replayed; the family and all its tokens were revoked.
    Reused {
        /// The family's user.
        user_id: String,
        /// The revoked family.
        family_id: String,
    },
    /// The newest token came inside the minimum issue interval; nothing changed.
    Throttled {
        /// Time until the family may issue again.
        retry_after: std::time::Duration,
    },
}

/// A revocation announced by another process sharing the store.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Revocation {
    /// Some tokens of this user were revoked.
    User(String),
    /// Announcements may have been lost, for example on a reconnect: forget everything.
    All,
}

/// Receives revocations from [`TokenStore::watch_revocations`]; returns
/// `false` to stop watching.
pub type RevocationHandler = std::sync::Arc<dyn Fn(Revocation) -> bool + Send + Sync>;

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
    /// Stores `token`, and with `family` a new refresh family and its first
    /// refresh token paired with it, unless `limit` is set and the user
    /// already has that many live sessions at `now`.
    ///
    /// A session is a live family, or a live access token outside any family.
    /// Expired tokens and families never count.
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the database fails; nothing is stored then.
    async fn insert_token(
        &self,
        token: &TokenRecord,
        family: Option<&NewFamily>,
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

    /// Deletes one access token; if it belongs to a refresh family, revokes the
    /// whole family. Returns how many access and refresh tokens were deleted.
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the database fails.
    async fn delete_token(&self, digest: &str) -> Result<u64, StoreError>;

    /// Deletes every access token, refresh token and family of a user;
    /// returns how many access and refresh tokens there were.
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

    /// Looks a refresh token up by digest without changing anything, to find
    /// its user before rotation.
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the database fails.
    async fn find_refresh_token(&self, digest: &str) -> Result<Option<RefreshLookup>, StoreError>;

    /// Rotates the refresh token with digest `presented`, in one transaction:
    /// decides with [`rotation::decide`], and on rotation stores `access` and
    /// `next` as the family's new pair, supersedes the newest token and deletes
    /// the family's older access tokens.
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the database fails; nothing changes then.
    async fn rotate_refresh_token(
        &self,
        presented: &str,
        access: &TokenRecord,
        next: &NewRefreshToken,
        rules: &RotationRules,
        now: DateTime<Utc>,
    ) -> Result<RotationOutcome, StoreError>;

    /// Deletes every token and family expired at `now`; returns how many
    /// access tokens and families.
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the database fails.
    async fn purge_expired(&self, now: DateTime<Utc>) -> Result<u64, StoreError>;

    /// Calls `handler` with every revocation that any process makes on this
    /// store, until `handler` returns `false`. Stores that cannot announce
    /// revocations return at once; caches then rely on their TTL alone.
    ///
    /// # Errors
    ///
    /// [`StoreError`] when watching cannot start.
    async fn watch_revocations(&self, handler: RevocationHandler) -> Result<(), StoreError> {
        let _ = handler;
        Ok(())
    }
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
    /// A table the store expects to exist is missing, such as Django's
    /// `knox_authtoken` before `manage.py migrate knox` has run.
    #[error("table `{table}` not found; {fix}")]
    MissingTable {
        /// Name of the table.
        table: &'static str,
        /// The command that creates the table.
        fix: &'static str,
    },
    /// An existing column has a type the store cannot bind its values to.
    #[error("column `{table}.{column}` has the unsupported type `{sql_type}`")]
    UnsupportedColumnType {
        /// Name of the table.
        table: &'static str,
        /// Name of the column.
        column: &'static str,
        /// The column's type, as the database names it.
        sql_type: String,
    },
}

/// Returns whether `error` leaves its connection unusable: a failed socket or
/// connection thread, or the server ending the session (SQLSTATE class `08`,
/// or `57P01` to `57P05` on PostgreSQL, such as at a restart).
pub(crate) fn is_connection_error(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(database) => database
            .code()
            .is_some_and(|code| code.starts_with("08") || code.starts_with("57P0")),
        _ => false,
    }
}

/// Returns whether `error` is a wait that ran out rather than a rejected
/// statement: SQLite's busy or locked database after its busy timeout, or
/// PostgreSQL's statement timeout (`57014`) or unavailable lock (`55P03`).
pub(crate) fn is_timeout_error(error: &sqlx::Error) -> bool {
    let sqlx::Error::Database(database) = error else {
        return matches!(error, sqlx::Error::PoolTimedOut);
    };
    let Some(code) = database.code() else {
        return false;
    };
    if database
        .try_downcast_ref::<sqlx::sqlite::SqliteError>()
        .is_some()
    {
        // An extended SQLite code keeps the primary code in its low byte:
        // 5 is SQLITE_BUSY and 6 SQLITE_LOCKED.
        return code
            .parse::<u32>()
            .is_ok_and(|code| matches!(code & 0xff, 5 | 6));
    }
    code == "57014" || code == "55P03"
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        StoreError::Database(error)
    }
}
