//! The SQLite token store: one file in WAL mode, the embedded default.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDateTime, Utc};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqlitePool};

use super::{InsertOutcome, Lookup, StoreError, TokenRecord, TokenStore};

/// Time format of Django's SQLite backend: naive UTC with microseconds. Every
/// value written has the same width, so text comparison orders times correctly.
const TIME_FORMAT: &str = "%Y-%m-%d %H:%M:%S%.6f";

/// Migrations of the token table, applied in order by [`SqliteStore::migrate`].
const TOKEN_MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    name: "knox_authtoken",
    sql: include_str!("../../migrations/sqlite/0001_knox_authtoken.sql"),
}];

/// A token store on SQLite.
///
/// ```no_run
/// # async fn run() -> Result<(), axum_knox::store::StoreError> {
/// let store = axum_knox::store::SqliteStore::open("sqlite://knox.sqlite3").await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if missing) the database at `url`, in WAL mode, and
    /// applies the token migrations.
    ///
    /// `sqlite::memory:` opens a private in-memory database on one connection.
    ///
    /// # Errors
    ///
    /// [`StoreError::Database`] when the URL is invalid or the file cannot be
    /// opened, [`StoreError::Migration`] when a migration fails.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let pool = connect(url).await?;
        let store = Self::new(pool);
        store.migrate().await?;
        Ok(store)
    }

    /// Wraps an existing pool without migrating it.
    pub fn new(pool: SqlitePool) -> Self {
        Self { pool }
    }

    /// Returns the connection pool, to share it with a user backend.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Applies the embedded token migrations that this database lacks.
    ///
    /// Progress is kept in `knox_migrations`, apart from the application's own
    /// sqlx migrations table.
    ///
    /// # Errors
    ///
    /// [`StoreError::Migration`] when a migration fails; nothing of it is kept.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        apply_migrations(&self.pool, "tokens", TOKEN_MIGRATIONS).await
    }
}

/// Opens a SQLite pool for `url` in WAL mode with a busy timeout.
///
/// # Errors
///
/// [`StoreError::Database`] when the URL is invalid or the database cannot be opened.
pub async fn connect(url: &str) -> Result<SqlitePool, StoreError> {
    let in_memory = url.contains(":memory:") || url.contains("mode=memory");
    let options = SqliteConnectOptions::from_str(url)?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(Duration::from_secs(10))
        .foreign_keys(true);

    // WAL lets readers run beside the one writer. A private in-memory database
    // exists per connection, so it gets exactly one.
    let max_connections = if in_memory { 1 } else { 8 };
    let pool = SqlitePoolOptions::new()
        .max_connections(max_connections)
        .min_connections(1)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(options)
        .await?;
    Ok(pool)
}

/// One embedded schema change.
#[derive(Debug)]
pub(crate) struct Migration {
    pub(crate) version: i64,
    pub(crate) name: &'static str,
    pub(crate) sql: &'static str,
}

/// Applies the migrations of `component` not yet recorded in `knox_migrations`,
/// each in its own write transaction, so two processes starting together apply
/// each one once.
pub(crate) async fn apply_migrations(
    pool: &SqlitePool,
    component: &str,
    migrations: &[Migration],
) -> Result<(), StoreError> {
    let mut connection = pool.acquire().await.map_err(StoreError::Migration)?;
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS knox_migrations (
            component TEXT NOT NULL,
            version INTEGER NOT NULL,
            name TEXT NOT NULL,
            applied_at TEXT NOT NULL,
            PRIMARY KEY (component, version)
        )",
    )
    .execute(&mut *connection)
    .await
    .map_err(StoreError::Migration)?;

    for migration in migrations {
        // BEGIN IMMEDIATE takes the write lock before the check, so the check and
        // the schema change cannot interleave with another process's.
        sqlx::query("BEGIN IMMEDIATE")
            .execute(&mut *connection)
            .await
            .map_err(StoreError::Migration)?;
        let result = apply_one(&mut connection, component, migration).await;
        let end = if result.is_ok() { "COMMIT" } else { "ROLLBACK" };
        let ended = sqlx::query(end).execute(&mut *connection).await;
        result?;
        ended.map_err(StoreError::Migration)?;
    }
    Ok(())
}

async fn apply_one(
    connection: &mut sqlx::SqliteConnection,
    component: &str,
    migration: &Migration,
) -> Result<(), StoreError> {
    let applied: Option<i64> = sqlx::query_scalar(
        "SELECT version FROM knox_migrations WHERE component = ? AND version = ?",
    )
    .bind(component)
    .bind(migration.version)
    .fetch_optional(&mut *connection)
    .await
    .map_err(StoreError::Migration)?;
    if applied.is_some() {
        return Ok(());
    }

    sqlx::raw_sql(migration.sql)
        .execute(&mut *connection)
        .await
        .map_err(StoreError::Migration)?;
    sqlx::query(
        "INSERT INTO knox_migrations (component, version, name, applied_at) VALUES (?, ?, ?, ?)",
    )
    .bind(component)
    .bind(migration.version)
    .bind(migration.name)
    .bind(encode_time(Utc::now()))
    .execute(&mut *connection)
    .await
    .map_err(StoreError::Migration)?;
    tracing::info!(target: "knox", component, version = migration.version, name = migration.name, "applied migration");
    Ok(())
}

/// Writes a time as Django's SQLite backend does.
pub(crate) fn encode_time(time: DateTime<Utc>) -> String {
    time.naive_utc().format(TIME_FORMAT).to_string()
}

/// Reads a time written by this store, by Django, or as RFC 3339.
pub(crate) fn decode_time(text: &str, column: &'static str) -> Result<DateTime<Utc>, StoreError> {
    if let Ok(naive) = NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f") {
        return Ok(naive.and_utc());
    }
    DateTime::parse_from_rfc3339(text)
        .map(|time| time.with_timezone(&Utc))
        .map_err(|_| StoreError::InvalidValue { column })
}

fn decode_record(row: &sqlx::sqlite::SqliteRow) -> Result<TokenRecord, StoreError> {
    let created: String = row.try_get("created")?;
    let expiry: Option<String> = row.try_get("expiry")?;
    Ok(TokenRecord {
        digest: row.try_get("digest")?,
        token_key: row.try_get("token_key")?,
        user_id: row.try_get("user_id")?,
        created: decode_time(&created, "created")?,
        expiry: expiry
            .as_deref()
            .map(|text| decode_time(text, "expiry"))
            .transpose()?,
    })
}

#[async_trait]
impl TokenStore for SqliteStore {
    async fn insert_token(
        &self,
        token: &TokenRecord,
        limit: Option<u32>,
        now: DateTime<Utc>,
    ) -> Result<InsertOutcome, StoreError> {
        // One INSERT ... SELECT statement: SQLite takes the write lock before the
        // statement reads, so the count and the insert are one atomic step.
        let inserted = sqlx::query(
            "INSERT INTO knox_authtoken (digest, token_key, user_id, created, expiry)
             SELECT ?1, ?2, ?3, ?4, ?5
             WHERE ?6 IS NULL OR (
                 SELECT COUNT(*) FROM knox_authtoken
                 WHERE user_id = ?3 AND (expiry IS NULL OR expiry > ?7)
             ) < ?6",
        )
        .bind(&token.digest)
        .bind(&token.token_key)
        .bind(&token.user_id)
        .bind(encode_time(token.created))
        .bind(token.expiry.map(encode_time))
        .bind(limit.map(i64::from))
        .bind(encode_time(now))
        .execute(&self.pool)
        .await?
        .rows_affected();

        Ok(if inserted == 1 {
            InsertOutcome::Inserted
        } else {
            InsertOutcome::LimitReached
        })
    }

    async fn find_token(&self, digest: &str, now: DateTime<Utc>) -> Result<Lookup, StoreError> {
        let row = sqlx::query(
            "SELECT digest, token_key, CAST(user_id AS TEXT) AS user_id, created, expiry
             FROM knox_authtoken WHERE digest = ?",
        )
        .bind(digest)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else {
            return Ok(Lookup::Missing);
        };

        let record = decode_record(&row)?;
        if !record.is_expired(now) {
            return Ok(Lookup::Live(record));
        }

        // The condition on expiry keeps a concurrent auto-refresh from being undone.
        sqlx::query("DELETE FROM knox_authtoken WHERE digest = ? AND expiry <= ?")
            .bind(digest)
            .bind(encode_time(now))
            .execute(&self.pool)
            .await?;
        Ok(Lookup::Expired(record))
    }

    async fn extend_expiry(
        &self,
        digest: &str,
        new_expiry: DateTime<Utc>,
    ) -> Result<Option<Option<DateTime<Utc>>>, StoreError> {
        let new_expiry = encode_time(new_expiry);
        let updated: Option<String> = sqlx::query_scalar(
            "UPDATE knox_authtoken SET expiry = ?1
             WHERE digest = ?2 AND expiry IS NOT NULL AND expiry < ?1
             RETURNING expiry",
        )
        .bind(&new_expiry)
        .bind(digest)
        .fetch_optional(&self.pool)
        .await?;
        if let Some(stored) = updated {
            return Ok(Some(Some(decode_time(&stored, "expiry")?)));
        }

        // Nothing was updated: either another request moved the expiry further
        // already, or the token is gone.
        let current: Option<Option<String>> =
            sqlx::query_scalar("SELECT expiry FROM knox_authtoken WHERE digest = ?")
                .bind(digest)
                .fetch_optional(&self.pool)
                .await?;
        current
            .map(|expiry| {
                expiry
                    .as_deref()
                    .map(|text| decode_time(text, "expiry"))
                    .transpose()
            })
            .transpose()
    }

    async fn delete_token(&self, digest: &str) -> Result<bool, StoreError> {
        let deleted = sqlx::query("DELETE FROM knox_authtoken WHERE digest = ?")
            .bind(digest)
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(deleted > 0)
    }

    async fn delete_user_tokens(&self, user_id: &str) -> Result<u64, StoreError> {
        let deleted = sqlx::query("DELETE FROM knox_authtoken WHERE user_id = ?")
            .bind(user_id)
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(deleted)
    }

    async fn count_live_tokens(
        &self,
        user_id: &str,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let count: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM knox_authtoken
             WHERE user_id = ? AND (expiry IS NULL OR expiry > ?)",
        )
        .bind(user_id)
        .bind(encode_time(now))
        .fetch_one(&self.pool)
        .await?;
        Ok(u64::try_from(count).unwrap_or(0))
    }

    async fn purge_expired(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        let deleted = sqlx::query("DELETE FROM knox_authtoken WHERE expiry <= ?")
            .bind(encode_time(now))
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(deleted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_round_trip_in_django_format() {
        let time: DateTime<Utc> = "2026-12-04T19:28:50.123456Z".parse().unwrap();
        let text = encode_time(time);
        assert_eq!(text, "2026-12-04 19:28:50.123456");
        assert_eq!(decode_time(&text, "created").unwrap(), time);
    }

    #[test]
    fn decodes_django_time_without_fraction() {
        let time = decode_time("2026-12-04 19:28:50", "created").unwrap();
        assert_eq!(time.to_rfc3339(), "2026-12-04T19:28:50+00:00");
        assert!(decode_time("yesterday", "created").is_err());
    }
}
