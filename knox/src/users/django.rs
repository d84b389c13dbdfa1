//! Django's `auth_user` table as the user backend, for services that move
//! endpoints from Django to axum on one database.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::Utc;
use sqlx::{Row, SqlitePool};

use super::django_password::{self, DEFAULT_ITERATIONS};
use super::{KnoxUser, UserBackend};
use crate::store::sqlite::encode_time;
use crate::store::StoreError;

/// Salt of the decoy hash checked for unknown usernames. It is not secret:
/// the decoy only costs time and never matches.
const DECOY_SALT: &str = "axumknoxdecoysalt";

/// Django's `auth_user` table as a [`UserBackend`], on SQLite or PostgreSQL.
///
/// It reads `id`, `username`, `password` and `is_active` of Django's default
/// user model and never creates or alters the table. Login verifies Django's
/// default `pbkdf2_sha256` hashes with
/// [`check_password`](super::django_password::check_password). A user whose
/// hash comes from another hasher fails to log in, with a warning in the log.
/// That lasts until Django re-hashes the password with PBKDF2 at the user's
/// next login there, because this backend never rewrites a hash.
///
/// A successful password check of an active user sets `last_login`, as
/// Django's `update_last_login` does for a knox login. Unlike Django, it does
/// so even when the login is then turned away at the token limit.
/// [`update_last_login(false)`](Self::update_last_login) turns this off.
///
/// ```no_run
/// # async fn run() -> Result<(), axum_knox::store::StoreError> {
/// use axum_knox::store::{sqlite, SqliteStore};
/// use axum_knox::users::DjangoUsers;
/// use axum_knox::{Knox, Settings};
///
/// let pool = sqlite::connect("sqlite:///srv/django/db.sqlite3").await?;
/// let store = SqliteStore::existing_knox_tables(pool.clone()).await?;
/// let users = DjangoUsers::sqlite(pool);
/// let knox = Knox::new(store, users, Settings::default());
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct DjangoUsers {
    database: Database,
    /// A hash checked when the username is unknown, so that a login for an
    /// unknown user costs as much time as one with a wrong password.
    decoy: Arc<str>,
    update_last_login: bool,
}

#[derive(Debug, Clone)]
enum Database {
    Sqlite(SqlitePool),
    #[cfg(feature = "postgres")]
    Postgres(sqlx::PgPool),
}

/// A row of `auth_user` with its password hash, which never leaves this module.
struct UserRow {
    user: KnoxUser,
    password: String,
}

impl DjangoUsers {
    /// Reads `auth_user` through a SQLite pool on Django's database file.
    pub fn sqlite(pool: SqlitePool) -> Self {
        Self::on(Database::Sqlite(pool))
    }

    /// Reads `auth_user` through a PostgreSQL pool, found through the pool's
    /// `search_path`.
    #[cfg(feature = "postgres")]
    pub fn postgres(pool: sqlx::PgPool) -> Self {
        Self::on(Database::Postgres(pool))
    }

    fn on(database: Database) -> Self {
        Self {
            database,
            decoy: decoy_hash(DEFAULT_ITERATIONS),
            update_last_login: true,
        }
    }

    /// Sets the PBKDF2 iterations of the decoy check for unknown usernames.
    ///
    /// The default is Django 5.2's 1,000,000. Set it to your Django version's
    /// `PBKDF2PasswordHasher.iterations`, or to your own subclass's, so an
    /// unknown username takes as long as a known one.
    #[must_use]
    pub fn unknown_user_iterations(mut self, iterations: u32) -> Self {
        self.decoy = decoy_hash(iterations.max(1));
        self
    }

    /// Sets whether a successful password check writes `last_login`; on by default.
    #[must_use]
    pub fn update_last_login(mut self, update: bool) -> Self {
        self.update_last_login = update;
        self
    }

    /// Finds a user by username.
    ///
    /// # Errors
    ///
    /// [`StoreError::Database`] when the query fails.
    pub async fn find_by_username(&self, username: &str) -> Result<Option<KnoxUser>, StoreError> {
        Ok(self.user_row(username).await?.map(|row| row.user))
    }

    async fn user_row(&self, username: &str) -> Result<Option<UserRow>, StoreError> {
        // auth_user.id is an `integer` column on PostgreSQL, decoded here as i64.
        let row = match &self.database {
            Database::Sqlite(pool) => sqlx::query(
                "SELECT id, username, is_active, password FROM auth_user WHERE username = ?",
            )
            .bind(username)
            .fetch_optional(pool)
            .await?
            .map(|row| decode_row(&row))
            .transpose()?,
            #[cfg(feature = "postgres")]
            Database::Postgres(pool) => sqlx::query(
                "SELECT id::bigint AS id, username, is_active, password
                 FROM auth_user WHERE username = $1",
            )
            .bind(username)
            .fetch_optional(pool)
            .await?
            .map(|row| decode_row(&row))
            .transpose()?,
        };
        Ok(row)
    }

    async fn set_last_login(&self, id: i64) -> Result<(), StoreError> {
        match &self.database {
            Database::Sqlite(pool) => {
                sqlx::query("UPDATE auth_user SET last_login = ? WHERE id = ?")
                    .bind(encode_time(Utc::now()))
                    .bind(id)
                    .execute(pool)
                    .await?;
            }
            #[cfg(feature = "postgres")]
            Database::Postgres(pool) => {
                sqlx::query("UPDATE auth_user SET last_login = $1 WHERE id = $2")
                    .bind(Utc::now())
                    .bind(id)
                    .execute(pool)
                    .await?;
            }
        }
        Ok(())
    }
}

fn decoy_hash(iterations: u32) -> Arc<str> {
    // Hashing an empty password only fixes the format; the decoy never matches
    // because an unknown user's check returns false whatever it computes.
    django_password::encode("", DECOY_SALT, iterations).into()
}

fn decode_row<R>(row: &R) -> Result<UserRow, StoreError>
where
    R: Row,
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    for<'a> i64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> bool: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    Ok(UserRow {
        user: decode_user(row)?,
        password: row.try_get("password")?,
    })
}

#[async_trait]
impl UserBackend for DjangoUsers {
    type User = KnoxUser;

    async fn load_user(&self, id: &str) -> Result<Option<KnoxUser>, StoreError> {
        let Ok(id) = id.parse::<i64>() else {
            return Ok(None);
        };
        let row = match &self.database {
            Database::Sqlite(pool) => {
                sqlx::query("SELECT id, username, is_active FROM auth_user WHERE id = ?")
                    .bind(id)
                    .fetch_optional(pool)
                    .await?
                    .map(|row| decode_user(&row))
                    .transpose()?
            }
            #[cfg(feature = "postgres")]
            Database::Postgres(pool) => sqlx::query(
                "SELECT id::bigint AS id, username, is_active FROM auth_user WHERE id = $1",
            )
            .bind(id)
            .fetch_optional(pool)
            .await?
            .map(|row| decode_user(&row))
            .transpose()?,
        };
        Ok(row)
    }

    async fn verify_credentials(
        &self,
        username: &str,
        password: &str,
    ) -> Result<Option<KnoxUser>, StoreError> {
        let row = self.user_row(username).await?;

        // An unknown user, or a hash of another hasher, is checked against the
        // decoy so the response time does not reveal which one it was.
        let supported = row.as_ref().is_some_and(|row| {
            django_password::algorithm(&row.password) == django_password::ALGORITHM
        });
        match row.as_ref().filter(|_| !supported) {
            Some(row) if !django_password::is_usable(&row.password) => tracing::debug!(
                target: "knox",
                event = "unusable_password",
                user.id = %row.user.id,
                "login rejected: the user has an unusable password"
            ),
            Some(row) => tracing::warn!(
                target: "knox",
                event = "unsupported_password_hash",
                user.id = %row.user.id,
                algorithm = django_password::algorithm(&row.password),
                "login rejected: the password hash is not Django's pbkdf2_sha256; \
                 keep PBKDF2PasswordHasher first in PASSWORD_HASHERS so Django re-hashes it"
            ),
            None => {}
        }
        let encoded = match &row {
            Some(row) if supported => row.password.clone(),
            _ => self.decoy.to_string(),
        };

        // PBKDF2 is CPU-bound by design, so it runs off the async worker threads.
        let password = password.to_owned();
        let matches = tokio::task::spawn_blocking(move || {
            django_password::check_password(&password, &encoded)
        })
        .await
        .map_err(|_| StoreError::PasswordHash)?;
        let Some(row) = row.filter(|_| supported && matches) else {
            return Ok(None);
        };

        // Django's login view never reaches update_last_login for an inactive user.
        if self.update_last_login && row.user.is_active {
            self.set_last_login(row.user.id).await?;
        }
        Ok(Some(row.user))
    }

    fn user_id(&self, user: &KnoxUser) -> String {
        user.id.to_string()
    }

    fn is_active(&self, user: &KnoxUser) -> bool {
        user.is_active
    }
}

fn decode_user<R>(row: &R) -> Result<KnoxUser, StoreError>
where
    R: Row,
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    for<'a> i64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> bool: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    Ok(KnoxUser {
        id: row.try_get("id")?,
        username: row.try_get("username")?,
        is_active: row.try_get("is_active")?,
    })
}
