//! A ready users table on PostgreSQL, for examples and tests of several instances.

use async_trait::async_trait;
use chrono::Utc;
use sqlx::{PgPool, Row};

use super::{KnoxUser, PasswordHasher, UserBackend};
use crate::store::lease::Lender;
use crate::store::postgres::{apply_migrations, PgMigration};
use crate::store::StoreError;

const USER_MIGRATIONS: &[PgMigration] = &[PgMigration {
    version: 1,
    name: "knox_user",
    sql: include_str!("../../migrations/postgres/users_0001_knox_user.sql"),
}];

/// The `knox_user` table as a [`UserBackend`], with Argon2id password hashes.
///
/// ```no_run
/// # async fn run() -> Result<(), axum_knox::store::StoreError> {
/// use axum_knox::users::{PasswordHasher, PgUsers};
///
/// let pool = axum_knox::store::postgres::connect("postgres://postgres@127.0.0.1:5432/app").await?;
/// let users = PgUsers::new(pool, PasswordHasher::default());
/// users.migrate().await?;
/// users.create_user("alice", "alice-password").await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct PgUsers {
    pool: PgPool,
    hasher: PasswordHasher,
    /// Connections for the lookups of logins and authentications.
    reads: std::sync::Arc<Lender<sqlx::Postgres>>,
}

impl PgUsers {
    /// Creates the backend on `pool`; call [`migrate`](Self::migrate) once.
    pub fn new(pool: PgPool, hasher: PasswordHasher) -> Self {
        Self {
            reads: std::sync::Arc::new(Lender::new(pool.clone())),
            pool,
            hasher,
        }
    }

    /// Returns the connection pool.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Creates the `knox_user` table if it is missing.
    ///
    /// # Errors
    ///
    /// [`StoreError::Migration`] when the schema change fails.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        apply_migrations(&self.pool, "users", USER_MIGRATIONS).await
    }

    /// Inserts an active user with a freshly hashed password.
    ///
    /// # Errors
    ///
    /// [`StoreError::Database`] when the username is taken or the insert fails.
    pub async fn create_user(
        &self,
        username: &str,
        password: &str,
    ) -> Result<KnoxUser, StoreError> {
        let hash = self.hasher.hash_blocking(password).await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO knox_user (username, password, is_active, date_joined)
             VALUES ($1, $2, TRUE, $3) RETURNING id",
        )
        .bind(username)
        .bind(hash)
        .bind(Utc::now())
        .fetch_one(&self.pool)
        .await?;
        Ok(KnoxUser {
            id,
            username: username.to_owned(),
            is_active: true,
        })
    }

    /// Finds a user by username.
    ///
    /// # Errors
    ///
    /// [`StoreError::Database`] when the query fails.
    pub async fn find_by_username(&self, username: &str) -> Result<Option<KnoxUser>, StoreError> {
        let row = sqlx::query("SELECT id, username, is_active FROM knox_user WHERE username = $1")
            .bind(username)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| decode_user(&row)).transpose()
    }

    /// Sets whether a user may authenticate; returns whether the user exists.
    ///
    /// Deactivation takes effect on the next request of every token the user
    /// holds, since each request checks the flag.
    ///
    /// # Errors
    ///
    /// [`StoreError::Database`] when the update fails.
    pub async fn set_active(&self, id: i64, active: bool) -> Result<bool, StoreError> {
        let updated = sqlx::query("UPDATE knox_user SET is_active = $1 WHERE id = $2")
            .bind(active)
            .bind(id)
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(updated > 0)
    }

    /// Replaces a user's password; returns whether the user exists. Existing
    /// tokens stay valid: revoke them with [`Knox::revoke_all`](crate::Knox::revoke_all).
    ///
    /// # Errors
    ///
    /// [`StoreError`] when hashing or the update fails.
    pub async fn set_password(&self, id: i64, password: &str) -> Result<bool, StoreError> {
        let hash = self.hasher.hash_blocking(password).await?;
        let updated = sqlx::query("UPDATE knox_user SET password = $1 WHERE id = $2")
            .bind(hash)
            .bind(id)
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(updated > 0)
    }
}

fn decode_user(row: &sqlx::postgres::PgRow) -> Result<KnoxUser, StoreError> {
    Ok(KnoxUser {
        id: row.try_get("id")?,
        username: row.try_get("username")?,
        is_active: row.try_get("is_active")?,
    })
}

#[async_trait]
impl UserBackend for PgUsers {
    type User = KnoxUser;

    async fn load_user(&self, id: &str) -> Result<Option<KnoxUser>, StoreError> {
        let Ok(id) = id.parse::<i64>() else {
            return Ok(None);
        };
        let row = self
            .reads
            .read(|connection| {
                Box::pin(
                    sqlx::query("SELECT id, username, is_active FROM knox_user WHERE id = $1")
                        .bind(id)
                        .fetch_optional(connection),
                )
            })
            .await?;
        row.map(|row| decode_user(&row)).transpose()
    }

    async fn verify_credentials(
        &self,
        username: &str,
        password: &str,
    ) -> Result<Option<KnoxUser>, StoreError> {
        let row = self
            .reads
            .read(|connection| {
                let username = username.to_owned();
                Box::pin(async move {
                    sqlx::query(
                        "SELECT id, username, is_active, password FROM knox_user WHERE username = $1",
                    )
                    .bind(username)
                    .fetch_optional(connection)
                    .await
                })
            })
            .await?;

        let (user, stored_hash) = match row {
            Some(row) => (
                Some(decode_user(&row)?),
                Some(row.try_get::<String, _>("password")?),
            ),
            None => (None, None),
        };
        let matches = self.hasher.verify_blocking(password, stored_hash).await?;
        Ok(user.filter(|_| matches))
    }

    fn user_id(&self, user: &KnoxUser) -> String {
        user.id.to_string()
    }

    fn is_active(&self, user: &KnoxUser) -> bool {
        user.is_active
    }
}
