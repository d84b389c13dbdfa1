//! The PostgreSQL token store, for several app instances on one database.
//!
//! Check-then-write steps hold locks that every instance respects: logins of
//! one user serialise on a transaction-scoped advisory lock keyed by the user
//! id, and a rotation locks its family row with `SELECT ... FOR UPDATE`.
//!
//! User ids are strings here, but `knox_authtoken.user_id` is TEXT only in
//! this store's own schema: Django's is the integer type of its user's
//! primary key. So the statements that bind a user id into that column are
//! built once per store with a cast to the column's type. The cast keeps them
//! valid and the index on `user_id` usable. Every read returns `user_id::text`.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions, PgRow};
use sqlx::{PgConnection, PgPool, Row};

use super::batch::{
    accepted, counted_at, decide_limits, limited_users, BatchWriter, InsertQueue, PendingInsert,
};
use super::lease::Lender;
use super::rotation::{decide, Decision, RotationRules, RotationState};
use super::{
    InsertOutcome, Lookup, NewFamily, NewRefreshToken, RefreshLookup, RefreshTokenRecord,
    Revocation, RevocationHandler, RotationOutcome, StoreError, TokenRecord, TokenStore,
    TokenTable,
};

/// Migrations of the token tables, applied in order by [`PgStore::migrate`].
const TOKEN_MIGRATIONS: &[PgMigration] = &[
    PgMigration {
        version: 1,
        name: "knox_authtoken",
        sql: include_str!("../../migrations/postgres/0001_knox_authtoken.sql"),
    },
    PgMigration {
        version: 2,
        name: "refresh_tokens",
        sql: include_str!("../../migrations/postgres/0002_refresh_tokens.sql"),
    },
];

/// Migrations applied beside Django's `knox_authtoken`: every token migration
/// except the ones that create or change that table.
const REFRESH_MIGRATIONS: &[PgMigration] = &[PgMigration {
    version: 1,
    name: "refresh_tokens",
    sql: include_str!("../../migrations/postgres/0002_refresh_tokens.sql"),
}];

/// Key of the advisory lock that serialises migrations across instances.
const MIGRATION_LOCK: i64 = 0x6b6e_6f78_6d69_6772; // "knoxmigr"

/// A token store on PostgreSQL.
///
/// ```no_run
/// # async fn run() -> Result<(), axum_knox::store::StoreError> {
/// let store = axum_knox::store::PgStore::open("postgres://postgres@127.0.0.1:5432/app").await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
    table: TokenTable,
    statements: Arc<UserIdStatements>,
    /// Logins waiting to be written together; see [`InsertQueue`].
    inserts: Arc<InsertQueue>,
    /// Connections for token lookups; see [`Lender`].
    reads: Arc<Lender<sqlx::Postgres>>,
}

impl PgStore {
    /// Connects to `url` and applies the token migrations.
    ///
    /// # Errors
    ///
    /// [`StoreError::Database`] when the URL is invalid or the server cannot be
    /// reached, [`StoreError::Migration`] when a migration fails.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let store = Self::new(connect(url).await?);
        store.migrate().await?;
        Ok(store)
    }

    /// Wraps an existing pool without migrating it. The store expects its own
    /// schema, in which `knox_authtoken.user_id` is TEXT.
    pub fn new(pool: PgPool) -> Self {
        Self {
            reads: Arc::new(Lender::new(pool.clone())),
            pool,
            table: TokenTable::Own,
            statements: Arc::new(UserIdStatements::new(UserIdColumn::Text)),
            inserts: Arc::default(),
        }
    }

    /// Uses the `knox_authtoken` table that django-rest-knox's migrations
    /// created in a Django project's database, so Django and this store accept
    /// each other's tokens.
    ///
    /// The table is found through the pool's `search_path`. The store reads
    /// the type of its `user_id` column (Django's `integer` for the default
    /// user model, `bigint` or `uuid` for custom ones) and casts user ids to
    /// it. It never creates, alters or indexes `knox_authtoken`. It creates
    /// only its own tables if they are missing: `knox_migrations`,
    /// `knox_refresh_family` and `knox_refresh_token`, which every logout
    /// reads, with refresh tokens on or off. It stores `token_key` as knox
    /// does, the token's first 15 characters, so knox finds prefixed tokens
    /// issued here. [`migrate`](Self::migrate) on this store applies only the
    /// refresh tables' migrations.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), axum_knox::store::StoreError> {
    /// use axum_knox::store::{postgres, PgStore};
    ///
    /// let pool = postgres::connect("postgres://django@127.0.0.1:5432/django").await?;
    /// let store = PgStore::existing_knox_tables(pool).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`StoreError::MissingTable`] when `knox_authtoken` does not exist,
    /// [`StoreError::UnsupportedColumnType`] when its `user_id` is neither an
    /// integer, text nor a UUID, [`StoreError::Migration`] when creating the
    /// refresh tables fails, [`StoreError::Database`] when the database fails.
    pub async fn existing_knox_tables(pool: PgPool) -> Result<Self, StoreError> {
        let sql_type: Option<String> = sqlx::query_scalar(
            "SELECT format_type(atttypid, atttypmod) FROM pg_attribute
             WHERE attrelid = to_regclass('knox_authtoken') AND attname = 'user_id'
               AND NOT attisdropped",
        )
        .fetch_optional(&pool)
        .await?;
        let Some(sql_type) = sql_type else {
            return Err(StoreError::MissingTable {
                table: "knox_authtoken",
                fix: "run Django's migrations first (`python manage.py migrate knox`)",
            });
        };
        let column = UserIdColumn::from_sql_type(&sql_type).ok_or_else(|| {
            StoreError::UnsupportedColumnType {
                table: "knox_authtoken",
                column: "user_id",
                sql_type,
            }
        })?;

        let store = Self {
            reads: Arc::new(Lender::new(pool.clone())),
            pool,
            table: TokenTable::Django,
            statements: Arc::new(UserIdStatements::new(column)),
            inserts: Arc::default(),
        };
        store.migrate().await?;
        Ok(store)
    }

    /// Returns the connection pool, to share it with a user backend.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Applies the embedded token migrations that this database lacks; on a
    /// store made by [`existing_knox_tables`](Self::existing_knox_tables), only
    /// those of the refresh tables.
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

/// Type of `knox_authtoken.user_id`, to which a bound user id is cast.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum UserIdColumn {
    Text,
    SmallInt,
    Integer,
    BigInt,
    Uuid,
}

impl UserIdColumn {
    /// Maps a type as `format_type` names it, such as `integer` or
    /// `character varying(36)`; `None` for a type no user id is bound to.
    fn from_sql_type(sql_type: &str) -> Option<Self> {
        match sql_type {
            "text" => Some(Self::Text),
            "smallint" => Some(Self::SmallInt),
            "integer" => Some(Self::Integer),
            "bigint" => Some(Self::BigInt),
            "uuid" => Some(Self::Uuid),
            varchar if varchar.starts_with("character varying") => Some(Self::Text),
            _ => None,
        }
    }

    /// Returns the SQL for bind parameter `$n` as a value of this type.
    ///
    /// The cast applies to the parameter, never to the column, so a
    /// comparison with `user_id` can use its index.
    fn parameter(self, n: u8) -> String {
        self.cast(&format!("${n}"))
    }

    /// Returns the SQL for the text `expression` as a value of this type.
    fn cast(self, expression: &str) -> String {
        let sql_type = match self {
            Self::Text => return expression.to_owned(),
            Self::SmallInt => "smallint",
            Self::Integer => "integer",
            Self::BigInt => "bigint",
            Self::Uuid => "uuid",
        };
        format!("CAST({expression} AS {sql_type})")
    }
}

/// The statements that bind a user id into `knox_authtoken.user_id`, built
/// once for the column's type. The refresh tables are this store's own, with
/// TEXT user ids, in either schema.
#[derive(Debug)]
struct UserIdStatements {
    insert_token: String,
    insert_tokens: String,
    delete_user_tokens: String,
    count_live_tokens: String,
    count_sessions: String,
}

impl UserIdStatements {
    fn new(column: UserIdColumn) -> Self {
        Self {
            insert_token: format!(
                "INSERT INTO knox_authtoken (digest, token_key, user_id, created, expiry)
                 VALUES ($1, $2, {}, $4, $5)",
                column.parameter(3)
            ),
            // The rows travel as one array per column, so a single prepared
            // statement inserts any number of them.
            insert_tokens: format!(
                "INSERT INTO knox_authtoken (digest, token_key, user_id, created, expiry)
                 SELECT digest, token_key, {}, created, expiry
                 FROM UNNEST($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::timestamptz[])
                     AS row (digest, token_key, user_id, created, expiry)",
                column.cast("user_id")
            ),
            delete_user_tokens: format!(
                "DELETE FROM knox_authtoken WHERE user_id = {}",
                column.parameter(1)
            ),
            count_live_tokens: format!(
                "SELECT COUNT(*) FROM knox_authtoken
                 WHERE user_id = {} AND (expiry IS NULL OR expiry > $2)",
                column.parameter(1)
            ),
            count_sessions: format!(
                "SELECT
                    (SELECT COUNT(*) FROM knox_authtoken a
                     WHERE a.user_id = {} AND (a.expiry IS NULL OR a.expiry > $2)
                       AND NOT EXISTS (SELECT 1 FROM knox_refresh_token r WHERE r.access_digest = a.digest))
                  + (SELECT COUNT(*) FROM knox_refresh_family f WHERE f.user_id = $1 AND f.expiry > $2)",
                column.parameter(1)
            ),
        }
    }
}

/// Opens a PostgreSQL pool for `url`. Connections are made lazily, so the pool
/// exists even while the server is down, and requests get 503 until it is back.
///
/// The pool has at most 16 connections. A [`PgStore`] and a
/// [`PgUsers`](crate::users::PgUsers) on it each keep four of them for their
/// lookups, which leaves eight for writes.
///
/// # Errors
///
/// [`StoreError::Database`] when the URL is invalid.
pub async fn connect(url: &str) -> Result<PgPool, StoreError> {
    let options = PgConnectOptions::from_str(url)?;
    let pool = PgPoolOptions::new()
        .max_connections(16)
        .acquire_timeout(Duration::from_secs(5))
        .connect_lazy_with(options);
    Ok(pool)
}

/// One embedded schema change.
#[derive(Debug)]
pub(crate) struct PgMigration {
    pub(crate) version: i64,
    pub(crate) name: &'static str,
    pub(crate) sql: &'static str,
}

/// Applies the migrations of `component` not yet recorded in `knox_migrations`.
/// An advisory lock makes instances that start together apply each one once.
pub(crate) async fn apply_migrations(
    pool: &PgPool,
    component: &str,
    migrations: &[PgMigration],
) -> Result<(), StoreError> {
    let mut transaction = pool.begin().await.map_err(StoreError::Migration)?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(MIGRATION_LOCK)
        .execute(&mut *transaction)
        .await
        .map_err(StoreError::Migration)?;
    sqlx::raw_sql(
        "CREATE TABLE IF NOT EXISTS knox_migrations (
            component TEXT NOT NULL,
            version BIGINT NOT NULL,
            name TEXT NOT NULL,
            applied_at TIMESTAMPTZ NOT NULL DEFAULT now(),
            PRIMARY KEY (component, version)
        )",
    )
    .execute(&mut *transaction)
    .await
    .map_err(StoreError::Migration)?;

    for migration in migrations {
        let applied: Option<i64> = sqlx::query_scalar(
            "SELECT version FROM knox_migrations WHERE component = $1 AND version = $2",
        )
        .bind(component)
        .bind(migration.version)
        .fetch_optional(&mut *transaction)
        .await
        .map_err(StoreError::Migration)?;
        if applied.is_some() {
            continue;
        }
        sqlx::raw_sql(migration.sql)
            .execute(&mut *transaction)
            .await
            .map_err(StoreError::Migration)?;
        sqlx::query("INSERT INTO knox_migrations (component, version, name) VALUES ($1, $2, $3)")
            .bind(component)
            .bind(migration.version)
            .bind(migration.name)
            .execute(&mut *transaction)
            .await
            .map_err(StoreError::Migration)?;
        tracing::info!(target: "knox", component, version = migration.version, name = migration.name, "applied migration");
    }
    transaction.commit().await.map_err(StoreError::Migration)
}

fn decode_record(row: &PgRow) -> Result<TokenRecord, StoreError> {
    Ok(TokenRecord {
        digest: row.try_get("digest")?,
        token_key: row.try_get("token_key")?,
        user_id: row.try_get("user_id")?,
        created: row.try_get("created")?,
        expiry: row.try_get("expiry")?,
    })
}

/// Serialises every session change of one user across all connections and
/// instances, until the transaction ends.
async fn lock_user(connection: &mut PgConnection, user_id: &str) -> Result<(), StoreError> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended('knox:user:' || $1, 0))")
        .bind(user_id)
        .execute(connection)
        .await?;
    Ok(())
}

/// Writes batches of logins for a [`PgStore`].
#[derive(Clone)]
struct Writer {
    pool: PgPool,
    table: TokenTable,
    statements: Arc<UserIdStatements>,
}

impl BatchWriter for Writer {
    type Connection = sqlx::pool::PoolConnection<sqlx::Postgres>;

    async fn connect(&self) -> Result<Self::Connection, StoreError> {
        Ok(self.pool.acquire().await?)
    }

    async fn insert_batch(
        &self,
        connection: &mut Self::Connection,
        batch: &[PendingInsert],
    ) -> Result<Vec<InsertOutcome>, StoreError> {
        if batch
            .iter()
            .all(|insert| insert.family.is_none() && insert.limit.is_none())
        {
            // One statement is atomic on its own: no transaction needed.
            insert_access_tokens(
                connection,
                self.table,
                &self.statements,
                batch.iter().map(|insert| &insert.token),
            )
            .await?;
            return Ok(vec![InsertOutcome::Inserted; batch.len()]);
        }

        let mut transaction = sqlx::Connection::begin(&mut **connection).await?;
        // Every instance takes a user's lock before counting that user's
        // sessions. A batch takes its users' locks in sorted order, so two
        // batches that share users cannot wait on each other.
        let users = limited_users(batch);
        for user in &users {
            lock_user(&mut transaction, user).await?;
        }
        let now = counted_at(batch);
        let mut stored = HashMap::new();
        for user in users {
            let sessions = count_sessions(&mut transaction, &self.statements, user, now).await?;
            stored.insert(user, sessions);
        }
        let outcomes = decide_limits(batch, &stored);

        let inserts = accepted(batch, &outcomes);
        let tokens = inserts.clone().map(|insert| &insert.token);
        insert_access_tokens(&mut transaction, self.table, &self.statements, tokens).await?;
        for insert in inserts {
            let Some(new) = &insert.family else {
                continue;
            };
            sqlx::query(
                "INSERT INTO knox_refresh_family (id, user_id, created, expiry, generation, last_issued)
                 VALUES ($1, $2, $3, $4, 1, $3)",
            )
            .bind(&new.family.id)
            .bind(&new.family.user_id)
            .bind(new.family.created)
            .bind(new.family.expiry)
            .execute(&mut *transaction)
            .await?;
            insert_refresh_token(
                &mut transaction,
                &new.token,
                &new.family.id,
                1,
                &insert.token,
                new.family.expiry,
            )
            .await?;
        }
        transaction.commit().await?;
        Ok(outcomes)
    }
}

#[async_trait]
impl TokenStore for PgStore {
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
            statements: Arc::clone(&self.statements),
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
                        "SELECT digest, token_key, user_id::text AS user_id, created, expiry
                         FROM knox_authtoken WHERE digest = $1",
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
        sqlx::query("DELETE FROM knox_authtoken WHERE digest = $1 AND expiry <= $2")
            .bind(digest)
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(Lookup::Expired(record))
    }

    async fn extend_expiry(
        &self,
        digest: &str,
        new_expiry: DateTime<Utc>,
    ) -> Result<Option<Option<DateTime<Utc>>>, StoreError> {
        let updated: Option<Option<DateTime<Utc>>> = sqlx::query_scalar(
            "UPDATE knox_authtoken SET expiry = $1
             WHERE digest = $2 AND expiry IS NOT NULL AND expiry < $1
             RETURNING expiry",
        )
        .bind(new_expiry)
        .bind(digest)
        .fetch_optional(&self.pool)
        .await?;
        if updated.is_some() {
            return Ok(updated);
        }
        // Nothing was updated: another request moved the expiry further, or the token is gone.
        let current = sqlx::query_scalar("SELECT expiry FROM knox_authtoken WHERE digest = $1")
            .bind(digest)
            .fetch_optional(&self.pool)
            .await?;
        Ok(current)
    }

    async fn delete_token(&self, digest: &str) -> Result<u64, StoreError> {
        let mut transaction = self.pool.begin().await?;
        let owner: Option<String> =
            sqlx::query_scalar("SELECT user_id::text FROM knox_authtoken WHERE digest = $1")
                .bind(digest)
                .fetch_optional(&mut *transaction)
                .await?;
        let family: Option<String> = sqlx::query_scalar(
            "SELECT family_id FROM knox_refresh_token WHERE access_digest = $1 LIMIT 1",
        )
        .bind(digest)
        .fetch_optional(&mut *transaction)
        .await?;
        let deleted = match family {
            Some(family_id) => revoke_family(&mut transaction, &family_id).await?,
            None => sqlx::query("DELETE FROM knox_authtoken WHERE digest = $1")
                .bind(digest)
                .execute(&mut *transaction)
                .await?
                .rows_affected(),
        };
        if let Some(user_id) = owner {
            announce_revocation(&mut transaction, &user_id).await?;
        }
        transaction.commit().await?;
        Ok(deleted)
    }

    async fn delete_user_tokens(&self, user_id: &str) -> Result<u64, StoreError> {
        let mut transaction = self.pool.begin().await?;
        lock_user(&mut transaction, user_id).await?;
        let mut deleted = 0;
        for statement in [
            self.statements.delete_user_tokens.as_str(),
            "DELETE FROM knox_refresh_token WHERE user_id = $1",
        ] {
            deleted += sqlx::query(statement)
                .bind(user_id)
                .execute(&mut *transaction)
                .await?
                .rows_affected();
        }
        sqlx::query("DELETE FROM knox_refresh_family WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *transaction)
            .await?;
        announce_revocation(&mut transaction, user_id).await?;
        transaction.commit().await?;
        Ok(deleted)
    }

    async fn count_live_tokens(
        &self,
        user_id: &str,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let count: i64 = sqlx::query_scalar(&self.statements.count_live_tokens)
            .bind(user_id)
            .bind(now)
            .fetch_one(&self.pool)
            .await?;
        Ok(u64::try_from(count).unwrap_or(0))
    }

    async fn purge_expired(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        let mut transaction = self.pool.begin().await?;
        let tokens = sqlx::query("DELETE FROM knox_authtoken WHERE expiry <= $1")
            .bind(now)
            .execute(&mut *transaction)
            .await?
            .rows_affected();
        // Deleting a family cascades to its refresh tokens.
        let families = sqlx::query("DELETE FROM knox_refresh_family WHERE expiry <= $1")
            .bind(now)
            .execute(&mut *transaction)
            .await?
            .rows_affected();
        transaction.commit().await?;
        Ok(tokens + families)
    }

    async fn find_refresh_token(&self, digest: &str) -> Result<Option<RefreshLookup>, StoreError> {
        let row = sqlx::query(
            "SELECT digest, family_id, user_id::text AS user_id FROM knox_refresh_token WHERE digest = $1",
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
        let mut transaction = self.pool.begin().await?;
        let family_id: Option<String> =
            sqlx::query_scalar("SELECT family_id FROM knox_refresh_token WHERE digest = $1")
                .bind(presented)
                .fetch_optional(&mut *transaction)
                .await?;
        let Some(family_id) = family_id else {
            return Ok(RotationOutcome::Missing);
        };

        // Lock the family row; a concurrent rotation of the same family, on any
        // instance, waits here and then reads what this one committed.
        let family = sqlx::query(
            "SELECT user_id::text AS user_id, generation, last_issued, expiry
             FROM knox_refresh_family WHERE id = $1 FOR UPDATE",
        )
        .bind(&family_id)
        .fetch_optional(&mut *transaction)
        .await?;
        // Each statement of a READ COMMITTED transaction sees the latest commits,
        // so this read, after the lock, is current.
        let token =
            sqlx::query("SELECT generation, consumed FROM knox_refresh_token WHERE digest = $1")
                .bind(presented)
                .fetch_optional(&mut *transaction)
                .await?;
        let (Some(family), Some(token)) = (family, token) else {
            return Ok(RotationOutcome::Missing);
        };

        let user_id: String = family.try_get("user_id")?;
        let state = RotationState {
            generation: token.try_get("generation")?,
            consumed: token.try_get("consumed")?,
            family_generation: family.try_get("generation")?,
            family_last_issued: family.try_get("last_issued")?,
            family_expiry: family.try_get("expiry")?,
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
                let pair = NextPair {
                    table: self.table,
                    statements: &self.statements,
                    family_id: &family_id,
                    generation,
                    access: &access,
                    next,
                    family_expiry: state.family_expiry,
                };
                rotate(&mut transaction, &pair, rules, now).await?;
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
        // Every outcome here removed tokens: the old pair, or the whole family.
        let owner = match &outcome {
            RotationOutcome::Rotated { refresh, .. } => Some(refresh.user_id.as_str()),
            RotationOutcome::Expired { user_id } | RotationOutcome::Reused { user_id, .. } => {
                Some(user_id.as_str())
            }
            _ => None,
        };
        if let Some(user_id) = owner {
            announce_revocation(&mut transaction, user_id).await?;
        }
        transaction.commit().await?;
        Ok(outcome)
    }

    async fn watch_revocations(&self, handler: RevocationHandler) -> Result<(), StoreError> {
        let mut listener = PgListener::connect_with(&self.pool).await?;
        listener.listen(REVOCATION_CHANNEL).await?;
        loop {
            match listener.try_recv().await {
                Ok(Some(notification)) => {
                    let revocation = Revocation::User(notification.payload().to_owned());
                    if !handler(revocation) {
                        return Ok(());
                    }
                }
                // The connection dropped and announcements may be lost; the
                // next call reconnects.
                Ok(None) => {
                    tracing::warn!(target: "knox", "revocation listener reconnecting");
                    if !handler(Revocation::All) {
                        return Ok(());
                    }
                }
                Err(error) => {
                    tracing::warn!(target: "knox", error = %error, "revocation listener failed; retrying in 1 s");
                    if !handler(Revocation::All) {
                        return Ok(());
                    }
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }
}

/// Channel of `NOTIFY` announcements of revocations; the payload is a user id.
const REVOCATION_CHANNEL: &str = "knox_revocations";

/// Announces to every listening instance, when the transaction commits, that
/// tokens of `user_id` were revoked.
async fn announce_revocation(
    connection: &mut PgConnection,
    user_id: &str,
) -> Result<(), StoreError> {
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(REVOCATION_CHANNEL)
        .bind(user_id)
        .execute(connection)
        .await?;
    Ok(())
}

async fn insert_access_token(
    connection: &mut PgConnection,
    table: TokenTable,
    statements: &UserIdStatements,
    token: &TokenRecord,
) -> Result<(), StoreError> {
    sqlx::query(&statements.insert_token)
        .bind(&token.digest)
        .bind(table.stored_token_key(&token.token_key))
        .bind(&token.user_id)
        .bind(token.created)
        .bind(token.expiry)
        .execute(connection)
        .await?;
    Ok(())
}

async fn insert_access_tokens<'a>(
    connection: &mut PgConnection,
    table: TokenTable,
    statements: &UserIdStatements,
    tokens: impl Iterator<Item = &'a TokenRecord>,
) -> Result<(), StoreError> {
    let mut digests = Vec::new();
    let mut keys = Vec::new();
    let mut users = Vec::new();
    let mut created = Vec::new();
    let mut expiries = Vec::new();
    for token in tokens {
        digests.push(token.digest.as_str());
        keys.push(table.stored_token_key(&token.token_key));
        users.push(token.user_id.as_str());
        created.push(token.created);
        expiries.push(token.expiry);
    }
    if digests.is_empty() {
        return Ok(());
    }
    sqlx::query(&statements.insert_tokens)
        .bind(digests)
        .bind(keys)
        .bind(users)
        .bind(created)
        .bind(expiries)
        .execute(connection)
        .await?;
    Ok(())
}

async fn insert_refresh_token(
    connection: &mut PgConnection,
    token: &NewRefreshToken,
    family_id: &str,
    generation: i64,
    access: &TokenRecord,
    expiry: DateTime<Utc>,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO knox_refresh_token
             (digest, family_id, generation, user_id, token_key, access_digest, created, expiry)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&token.digest)
    .bind(family_id)
    .bind(generation)
    .bind(&access.user_id)
    .bind(&token.token_key)
    .bind(&access.digest)
    .bind(access.created)
    .bind(expiry)
    .execute(connection)
    .await?;
    Ok(())
}

/// Counts a user's live sessions: live families, plus live access tokens
/// that belong to no family.
async fn count_sessions(
    connection: &mut PgConnection,
    statements: &UserIdStatements,
    user_id: &str,
    now: DateTime<Utc>,
) -> Result<i64, StoreError> {
    let count = sqlx::query_scalar(&statements.count_sessions)
        .bind(user_id)
        .bind(now)
        .fetch_one(connection)
        .await?;
    Ok(count)
}

/// Deletes a family, its refresh tokens and its access tokens; returns how
/// many access and refresh tokens were deleted.
async fn revoke_family(connection: &mut PgConnection, family_id: &str) -> Result<u64, StoreError> {
    let access = sqlx::query(
        "DELETE FROM knox_authtoken WHERE digest IN
             (SELECT access_digest FROM knox_refresh_token WHERE family_id = $1 AND access_digest IS NOT NULL)",
    )
    .bind(family_id)
    .execute(&mut *connection)
    .await?
    .rows_affected();
    let refresh = sqlx::query("DELETE FROM knox_refresh_token WHERE family_id = $1")
        .bind(family_id)
        .execute(&mut *connection)
        .await?
        .rows_affected();
    sqlx::query("DELETE FROM knox_refresh_family WHERE id = $1")
        .bind(family_id)
        .execute(&mut *connection)
        .await?;
    Ok(access + refresh)
}

/// The family's next pair, as stored by [`rotate`].
struct NextPair<'a> {
    table: TokenTable,
    statements: &'a UserIdStatements,
    family_id: &'a str,
    generation: i64,
    access: &'a TokenRecord,
    next: &'a NewRefreshToken,
    family_expiry: DateTime<Utc>,
}

/// Stores the family's next pair and retires the previous one.
async fn rotate(
    connection: &mut PgConnection,
    pair: &NextPair<'_>,
    rules: &RotationRules,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    // Retire the old pair: its access token goes, its refresh token is marked consumed.
    sqlx::query(
        "DELETE FROM knox_authtoken WHERE digest IN
             (SELECT access_digest FROM knox_refresh_token WHERE family_id = $1 AND access_digest IS NOT NULL)",
    )
    .bind(pair.family_id)
    .execute(&mut *connection)
    .await?;
    sqlx::query(
        "UPDATE knox_refresh_token SET consumed = $1 WHERE family_id = $2 AND consumed IS NULL",
    )
    .bind(now)
    .bind(pair.family_id)
    .execute(&mut *connection)
    .await?;

    insert_access_token(connection, pair.table, pair.statements, pair.access).await?;
    insert_refresh_token(
        connection,
        pair.next,
        pair.family_id,
        pair.generation,
        pair.access,
        pair.family_expiry,
    )
    .await?;
    sqlx::query("UPDATE knox_refresh_family SET generation = $1, last_issued = $2 WHERE id = $3")
        .bind(pair.generation)
        .bind(now)
        .bind(pair.family_id)
        .execute(&mut *connection)
        .await?;

    // Beyond the history limit a superseded token keeps only its digest and
    // consumed mark: enough to recognise a replay, nothing more.
    sqlx::query(
        "UPDATE knox_refresh_token SET token_key = NULL, access_digest = NULL, created = NULL
         WHERE family_id = $1 AND generation < $2 AND token_key IS NOT NULL",
    )
    .bind(pair.family_id)
    .bind(pair.generation - i64::from(rules.max_history))
    .execute(&mut *connection)
    .await?;
    Ok(())
}
