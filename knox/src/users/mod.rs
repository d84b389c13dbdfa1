//! The application's users, as the views and the extractor see them.

use async_trait::async_trait;

use crate::store::StoreError;

pub mod django;
pub mod django_password;
pub mod password;
#[cfg(feature = "postgres")]
pub mod postgres;
pub mod sqlite;

pub use django::DjangoUsers;
pub use password::PasswordHasher;
#[cfg(feature = "postgres")]
pub use postgres::PgUsers;
pub use sqlite::SqliteUsers;

use serde::Serialize;

/// A user of the bundled `knox_user` table or of Django's `auth_user`, on
/// SQLite or PostgreSQL. The password hash is not loaded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KnoxUser {
    /// Primary key.
    pub id: i64,
    /// Unique login name.
    pub username: String,
    /// Whether the user may authenticate.
    pub is_active: bool,
}

/// Access to the application's users: loading by id, checking credentials and
/// whether an account is active.
///
/// User ids cross this trait as strings (`"42"`, or a UUID's text), which is
/// how the token table's `user_id` column is read and written.
///
/// ```
/// use axum_knox::users::UserBackend;
/// use axum_knox::store::StoreError;
///
/// #[derive(Clone)]
/// struct Account { id: u64, name: String, active: bool }
///
/// struct Accounts(Vec<Account>);
///
/// #[async_trait::async_trait]
/// impl UserBackend for Accounts {
///     type User = Account;
///
///     async fn load_user(&self, id: &str) -> Result<Option<Account>, StoreError> {
///         Ok(self.0.iter().find(|a| a.id.to_string() == id).cloned())
///     }
///
///     async fn verify_credentials(&self, username: &str, password: &str)
///         -> Result<Option<Account>, StoreError> {
///         // A real backend compares a password hash here.
///         Ok(self.0.iter().find(|a| a.name == username && password == "secret").cloned())
///     }
///
///     fn user_id(&self, user: &Account) -> String { user.id.to_string() }
///
///     fn is_active(&self, user: &Account) -> bool { user.active }
/// }
/// ```
#[async_trait]
pub trait UserBackend: Send + Sync + 'static {
    /// The application's user type, handed to handlers by the extractor.
    type User: Clone + Send + Sync + 'static;

    /// Loads a user by id; `Ok(None)` when no such user exists.
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the user store fails.
    async fn load_user(&self, id: &str) -> Result<Option<Self::User>, StoreError>;

    /// Returns the user whose username and password match, or `Ok(None)`.
    ///
    /// Implementations should take the same time whether or not the user exists,
    /// so a failed login does not reveal which usernames are taken.
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the user store fails.
    async fn verify_credentials(
        &self,
        username: &str,
        password: &str,
    ) -> Result<Option<Self::User>, StoreError>;

    /// Returns the id that tokens of `user` are stored under.
    fn user_id(&self, user: &Self::User) -> String;

    /// Returns whether `user` may authenticate. Inactive users get 401
    /// `User inactive or deleted.` with any token.
    fn is_active(&self, user: &Self::User) -> bool;
}
