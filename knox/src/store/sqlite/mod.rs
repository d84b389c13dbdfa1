//! The SQLite token store: one file in WAL mode, the embedded default.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDateTime, Utc};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqliteConnection, SqlitePool};

mod writer;

use self::writer::{Checkpoints, Writer};
use super::batch::{InsertQueue, PendingInsert};
use super::lease::Lender;
use super::rotation::{decide, Decision, RotationRules, RotationState};
use super::{
    InsertOutcome, Lookup, NewFamily, NewRefreshToken, RefreshLookup, RefreshTokenRecord,
    RotationOutcome, StoreError, TokenRecord, TokenStore, TokenTable,
};

/// Time format of Django's SQLite backend: naive UTC with microseconds. Every
/// value written has the same width, so text comparison orders times correctly.
const TIME_FORMAT: &str = "%Y-%m-%d %H:%M:%S%.6f";

/// Migrations of the token table, applied in order by [`SqliteStore::migrate`].
const TOKEN_MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "knox_authtoken",
        sql: include_str!("../../../migrations/sqlite/0001_knox_authtoken.sql"),
    },
    Migration {
        version: 2,
        name: "refresh_tokens",
        sql: include_str!("../../../migrations/sqlite/0002_refresh_tokens.sql"),
    },
];

/// Migrations applied beside Django's `knox_authtoken`: every token migration
/// except the ones that create or change that table.
const REFRESH_MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    name: "refresh_tokens",
    sql: include_str!("../../../migrations/sqlite/0002_refresh_tokens.sql"),
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
    table: TokenTable,
    /// Queues this process's writes. SQLite allows one writer at a time, and a
    /// connection that finds the lock taken sleeps in its busy handler with
    /// back-off. Waiting here in FIFO order avoids those sleeps and the busy
    /// timeout under bursts of writes.
    write_lock: Arc<tokio::sync::Mutex<()>>,
    /// Logins waiting to be written together; see [`InsertQueue`].
    inserts: Arc<InsertQueue>,
    checkpoints: Arc<Checkpoints>,
    /// Connections for token lookups; see [`Lender`].
    reads: Arc<Lender<sqlx::Sqlite>>,
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
        Self {
            table: TokenTable::Own,
            write_lock: Arc::default(),
            inserts: Arc::default(),
            checkpoints: Arc::default(),
            reads: Arc::new(Lender::new(pool.clone())),
            pool,
        }
    }

    /// Uses the `knox_authtoken` table that django-rest-knox's migrations
    /// created in a Django project's database, so Django and this store accept
    /// each other's tokens.
    ///
    /// The store never creates, alters or indexes `knox_authtoken`. It creates
    /// only its own tables if they are missing: `knox_migrations`,
    /// `knox_refresh_family` and `knox_refresh_token`, which every logout
    /// reads, with refresh tokens on or off. It stores `token_key` as knox
    /// does, the token's first 15 characters, so knox finds prefixed tokens
    /// issued here. [`migrate`](Self::migrate) on this store applies only the
    /// refresh tables' migrations.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), axum_knox::store::StoreError> {
    /// use axum_knox::store::{sqlite, SqliteStore};
    ///
    /// let pool = sqlite::connect("sqlite:///srv/django/db.sqlite3").await?;
    /// let store = SqliteStore::existing_knox_tables(pool).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`StoreError::MissingTable`] when `knox_authtoken` does not exist,
    /// [`StoreError::Migration`] when creating the refresh tables fails,
    /// [`StoreError::Database`] when the database fails.
    pub async fn existing_knox_tables(pool: SqlitePool) -> Result<Self, StoreError> {
        let exists: Option<i64> = sqlx::query_scalar(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'knox_authtoken'",
        )
        .fetch_optional(&pool)
        .await?;
        if exists.is_none() {
            return Err(StoreError::MissingTable {
                table: "knox_authtoken",
                fix: "run Django's migrations first (`python manage.py migrate knox`)",
            });
        }

        let store = Self {
            table: TokenTable::Django,
            write_lock: Arc::default(),
            inserts: Arc::default(),
            checkpoints: Arc::default(),
            reads: Arc::new(Lender::new(pool.clone())),
            pool,
        };
        store.migrate().await?;
        Ok(store)
    }

    /// Returns the connection pool, to share it with a user backend.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Applies the embedded token migrations that this database lacks; on a
    /// store made by [`existing_knox_tables`](Self::existing_knox_tables), only
    /// those of the refresh tables.
    ///
    /// Progress is kept in `knox_migrations`, apart from the application's own
    /// sqlx migrations table.
    ///
    /// # Errors
    ///
    /// [`StoreError::Migration`] when a migration fails; nothing of it is kept.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        match self.table {
            TokenTable::Own => apply_migrations(&self.pool, "tokens", TOKEN_MIGRATIONS).await,
            TokenTable::Django => apply_migrations(&self.pool, "refresh", REFRESH_MIGRATIONS).await,
        }
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
        // A connection to a local file does not go stale, so the check before
        // each use would only add a round trip to the connection's thread.
        .test_before_acquire(false)
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
        family: Option<&NewFamily>,
        limit: Option<u32>,
        now: DateTime<Utc>,
    ) -> Result<InsertOutcome, StoreError> {
        let insert = PendingInsert::new(token, family, limit, now);
        let writer = Writer {
            pool: self.pool.clone(),
            table: self.table,
            write_lock: Arc::clone(&self.write_lock),
            checkpoints: Arc::clone(&self.checkpoints),
        };
        self.inserts.insert(&writer, insert).await
    }

    async fn find_token(&self, digest: &str, now: DateTime<Utc>) -> Result<Lookup, StoreError> {
        let row = self
            .reads
            .read(|connection| {
                let digest = digest.to_owned();
                Box::pin(async move {
                    sqlx::query(
                        "SELECT digest, token_key, CAST(user_id AS TEXT) AS user_id, created, expiry
                         FROM knox_authtoken WHERE digest = ?",
                    )
                    .bind(digest)
                    .fetch_optional(connection)
                    .await
                })
            })
            .await?;
        let Some(row) = row else {
            return Ok(Lookup::Missing);
        };

        let record = decode_record(&row)?;
        if !record.is_expired(now) {
            return Ok(Lookup::Live(record));
        }

        // The condition on expiry keeps a concurrent auto-refresh from being undone.
        let _write = self.write_lock.lock().await;
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
        let write = self.write_lock.lock().await;
        let updated: Option<String> = sqlx::query_scalar(
            "UPDATE knox_authtoken SET expiry = ?1
             WHERE digest = ?2 AND expiry IS NOT NULL AND expiry < ?1
             RETURNING expiry",
        )
        .bind(&new_expiry)
        .bind(digest)
        .fetch_optional(&self.pool)
        .await?;
        drop(write);
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

    async fn delete_token(&self, digest: &str) -> Result<u64, StoreError> {
        let _write = self.write_lock.lock().await;
        let mut transaction = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let family: Option<String> = sqlx::query_scalar(
            "SELECT family_id FROM knox_refresh_token WHERE access_digest = ? LIMIT 1",
        )
        .bind(digest)
        .fetch_optional(&mut *transaction)
        .await?;
        let deleted = match family {
            Some(family_id) => revoke_family(&mut transaction, &family_id).await?,
            None => sqlx::query("DELETE FROM knox_authtoken WHERE digest = ?")
                .bind(digest)
                .execute(&mut *transaction)
                .await?
                .rows_affected(),
        };
        transaction.commit().await?;
        Ok(deleted)
    }

    async fn delete_user_tokens(&self, user_id: &str) -> Result<u64, StoreError> {
        let _write = self.write_lock.lock().await;
        let mut transaction = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let mut deleted = 0;
        for statement in [
            "DELETE FROM knox_authtoken WHERE user_id = ?",
            "DELETE FROM knox_refresh_token WHERE user_id = ?",
        ] {
            deleted += sqlx::query(statement)
                .bind(user_id)
                .execute(&mut *transaction)
                .await?
                .rows_affected();
        }
        sqlx::query("DELETE FROM knox_refresh_family WHERE user_id = ?")
            .bind(user_id)
            .execute(&mut *transaction)
            .await?;
        transaction.commit().await?;
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
        let now = encode_time(now);
        let _write = self.write_lock.lock().await;
        let mut transaction = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let tokens = sqlx::query("DELETE FROM knox_authtoken WHERE expiry <= ?")
            .bind(&now)
            .execute(&mut *transaction)
            .await?
            .rows_affected();
        // Deleting a family cascades to its refresh tokens.
        let families = sqlx::query("DELETE FROM knox_refresh_family WHERE expiry <= ?")
            .bind(&now)
            .execute(&mut *transaction)
            .await?
            .rows_affected();
        transaction.commit().await?;
        Ok(tokens + families)
    }

    async fn find_refresh_token(&self, digest: &str) -> Result<Option<RefreshLookup>, StoreError> {
        let row = sqlx::query(
            "SELECT digest, family_id, CAST(user_id AS TEXT) AS user_id
             FROM knox_refresh_token WHERE digest = ?",
        )
        .bind(digest)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            Ok(RefreshLookup {
                digest: row.try_get("digest")?,
                family_id: row.try_get("family_id")?,
                user_id: row.try_get("user_id")?,
            })
        })
        .transpose()
    }

    async fn rotate_refresh_token(
        &self,
        presented: &str,
        access: &TokenRecord,
        next: &NewRefreshToken,
        rules: &RotationRules,
        now: DateTime<Utc>,
    ) -> Result<RotationOutcome, StoreError> {
        // The write lock makes the check and the rotation one step: of several
        // concurrent requests with one token, exactly one sees it unconsumed.
        let _write = self.write_lock.lock().await;
        let mut transaction = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let row = sqlx::query(
            "SELECT r.generation, r.consumed, f.id AS family_id, CAST(f.user_id AS TEXT) AS user_id,
                    f.generation AS family_generation, f.last_issued, f.expiry
             FROM knox_refresh_token r JOIN knox_refresh_family f ON f.id = r.family_id
             WHERE r.digest = ?",
        )
        .bind(presented)
        .fetch_optional(&mut *transaction)
        .await?;
        let Some(row) = row else {
            return Ok(RotationOutcome::Missing);
        };

        let family_id: String = row.try_get("family_id")?;
        let user_id: String = row.try_get("user_id")?;
        let consumed: Option<String> = row.try_get("consumed")?;
        let last_issued: String = row.try_get("last_issued")?;
        let family_expiry: String = row.try_get("expiry")?;
        let state = RotationState {
            generation: row.try_get("generation")?,
            consumed: consumed
                .as_deref()
                .map(|text| decode_time(text, "consumed"))
                .transpose()?,
            family_generation: row.try_get("family_generation")?,
            family_last_issued: decode_time(&last_issued, "last_issued")?,
            family_expiry: decode_time(&family_expiry, "expiry")?,
        };

        let outcome = match decide(&state, rules, now) {
            Decision::Throttled { retry_after } => {
                return Ok(RotationOutcome::Throttled { retry_after })
            }
            Decision::Expired => {
                revoke_family(&mut transaction, &family_id).await?;
                RotationOutcome::Expired { user_id }
            }
            Decision::Reused => {
                revoke_family(&mut transaction, &family_id).await?;
                RotationOutcome::Reused { user_id, family_id }
            }
            Decision::Rotate => {
                let generation = state.family_generation + 1;
                let mut access = access.clone();
                access.expiry = Some(access.expiry.map_or(state.family_expiry, |expiry| {
                    expiry.min(state.family_expiry)
                }));
                rotate(
                    &mut transaction,
                    self.table,
                    &family_id,
                    generation,
                    &access,
                    next,
                    rules,
                    now,
                    state.family_expiry,
                )
                .await?;
                RotationOutcome::Rotated {
                    refresh: RefreshTokenRecord {
                        family_id,
                        user_id,
                        generation,
                        created: now,
                        expiry: state.family_expiry,
                    },
                    access_expiry: access.expiry,
                }
            }
        };
        transaction.commit().await?;
        Ok(outcome)
    }
}

async fn insert_access_tokens<'a>(
    connection: &mut SqliteConnection,
    table: TokenTable,
    tokens: impl Iterator<Item = &'a TokenRecord>,
) -> Result<(), StoreError> {
    let rows: Vec<_> = tokens
        .map(|token| {
            serde_json::json!([
                token.digest,
                table.stored_token_key(&token.token_key),
                token.user_id,
                encode_time(token.created),
                token.expiry.map(encode_time),
            ])
        })
        .collect();
    if rows.is_empty() {
        return Ok(());
    }
    // The rows travel as one JSON array, so a single prepared statement
    // inserts any number of them. A text user id such as "42" lands as the
    // integer 42 in Django's INTEGER column, since SQLite converts by the
    // column's affinity.
    sqlx::query(
        "INSERT INTO knox_authtoken (digest, token_key, user_id, created, expiry)
         SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'),
                json_extract(value, '$[2]'), json_extract(value, '$[3]'),
                json_extract(value, '$[4]')
         FROM json_each(?)",
    )
    .bind(serde_json::Value::Array(rows).to_string())
    .execute(connection)
    .await?;
    Ok(())
}

async fn insert_refresh_token(
    connection: &mut SqliteConnection,
    token: &NewRefreshToken,
    family_id: &str,
    generation: i64,
    access: &TokenRecord,
    expiry: DateTime<Utc>,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO knox_refresh_token
             (digest, family_id, generation, user_id, token_key, access_digest, created, expiry)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&token.digest)
    .bind(family_id)
    .bind(generation)
    .bind(&access.user_id)
    .bind(&token.token_key)
    .bind(&access.digest)
    .bind(encode_time(access.created))
    .bind(encode_time(expiry))
    .execute(connection)
    .await?;
    Ok(())
}

/// Counts a user's live sessions: live families, plus live access tokens
/// that belong to no family.
async fn count_sessions(
    connection: &mut SqliteConnection,
    user_id: &str,
    now: DateTime<Utc>,
) -> Result<i64, StoreError> {
    let count = sqlx::query_scalar(
        "SELECT
            (SELECT COUNT(*) FROM knox_authtoken a
             WHERE a.user_id = ?1 AND (a.expiry IS NULL OR a.expiry > ?2)
               AND NOT EXISTS (SELECT 1 FROM knox_refresh_token r WHERE r.access_digest = a.digest))
          + (SELECT COUNT(*) FROM knox_refresh_family f WHERE f.user_id = ?1 AND f.expiry > ?2)",
    )
    .bind(user_id)
    .bind(encode_time(now))
    .fetch_one(connection)
    .await?;
    Ok(count)
}

/// Deletes a family, its refresh tokens and its access tokens; returns how
/// many access and refresh tokens were deleted.
async fn revoke_family(
    connection: &mut SqliteConnection,
    family_id: &str,
) -> Result<u64, StoreError> {
    let access = sqlx::query(
        "DELETE FROM knox_authtoken WHERE digest IN
             (SELECT access_digest FROM knox_refresh_token WHERE family_id = ? AND access_digest IS NOT NULL)",
    )
    .bind(family_id)
    .execute(&mut *connection)
    .await?
    .rows_affected();
    let refresh = sqlx::query("DELETE FROM knox_refresh_token WHERE family_id = ?")
        .bind(family_id)
        .execute(&mut *connection)
        .await?
        .rows_affected();
    sqlx::query("DELETE FROM knox_refresh_family WHERE id = ?")
        .bind(family_id)
        .execute(&mut *connection)
        .await?;
    Ok(access + refresh)
}

/// Stores the family's next pair and retires the previous one.
#[allow(
    clippy::too_many_arguments,
    reason = "one call site, every argument a distinct piece of the rotation"
)]
async fn rotate(
    connection: &mut SqliteConnection,
    table: TokenTable,
    family_id: &str,
    generation: i64,
    access: &TokenRecord,
    next: &NewRefreshToken,
    rules: &RotationRules,
    now: DateTime<Utc>,
    family_expiry: DateTime<Utc>,
) -> Result<(), StoreError> {
    let now_text = encode_time(now);

    // Retire the old pair: its access token goes, its refresh token is marked consumed.
    sqlx::query(
        "DELETE FROM knox_authtoken WHERE digest IN
             (SELECT access_digest FROM knox_refresh_token WHERE family_id = ? AND access_digest IS NOT NULL)",
    )
    .bind(family_id)
    .execute(&mut *connection)
    .await?;
    sqlx::query(
        "UPDATE knox_refresh_token SET consumed = ? WHERE family_id = ? AND consumed IS NULL",
    )
    .bind(&now_text)
    .bind(family_id)
    .execute(&mut *connection)
    .await?;

    insert_access_tokens(connection, table, std::iter::once(access)).await?;
    insert_refresh_token(
        connection,
        next,
        family_id,
        generation,
        access,
        family_expiry,
    )
    .await?;
    sqlx::query("UPDATE knox_refresh_family SET generation = ?, last_issued = ? WHERE id = ?")
        .bind(generation)
        .bind(&now_text)
        .bind(family_id)
        .execute(&mut *connection)
        .await?;

    // Beyond the history limit a superseded token keeps only its digest and
    // consumed mark: enough to recognise a replay, nothing more.
    sqlx::query(
        "UPDATE knox_refresh_token SET token_key = NULL, access_digest = NULL, created = NULL
         WHERE family_id = ? AND generation < ? AND token_key IS NOT NULL",
    )
    .bind(family_id)
    .bind(generation - i64::from(rules.max_history))
    .execute(&mut *connection)
    .await?;
    Ok(())
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
