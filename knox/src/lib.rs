//! Token authentication for axum, modelled on django-rest-knox.
//!
//! A user logs in once with HTTP Basic credentials and receives an opaque
//! random token; later requests send `Authorization: Token <token>`. Tokens are
//! stored only as SHA-512 digests in knox's `knox_authtoken` table, expire,
//! can be limited per user, can slide their expiry on use, and are revoked by
//! logout or logout-all.
//!
//! - [`knox_view`] declares the login, logout and logout-all views on a unit
//!   struct, with its arguments checked at compile time.
//! - [`Auth`] is the extractor for protected routes.
//! - [`Knox`] is the shared state: [`Settings`], a [`TokenStore`](store::TokenStore)
//!   and a [`UserBackend`](users::UserBackend).
//!
//! ```no_run
//! use axum::{routing::get, Json, Router};
//! use axum_knox::{knox_view, Auth, Knox, Settings};
//! use axum_knox::store::SqliteStore;
//! use axum_knox::users::{PasswordHasher, KnoxUser, SqliteUsers};
//!
//! #[knox_view(ttl = "10h", token_limit = 5)]
//! pub struct AuthViews;
//!
//! async fn me(auth: Auth<KnoxUser>) -> Json<KnoxUser> {
//!     Json(auth.user)
//! }
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let store = SqliteStore::open("sqlite://app.sqlite3").await?;
//! let users = SqliteUsers::new(store.pool().clone(), PasswordHasher::default());
//! users.migrate().await?;
//! let knox = Knox::new(store, users, Settings::default());
//!
//! let app = Router::new()
//!     .nest("/api/auth", AuthViews::router())
//!     .route("/api/me", get(me))
//!     .with_state(knox);
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//! axum::serve(listener, app).await?;
//! # Ok(()) }
//! ```

mod cache;
pub mod clock;
pub mod crypto;
pub mod expiry;
mod extract;
mod handlers;
mod header;
mod knox;
mod rejection;
pub mod settings;
pub mod store;
pub mod users;
mod view;

#[doc = include_str!("knox_view.md")]
pub use axum_knox_macros::knox_view;
pub use extract::{Auth, AuthToken};
pub use handlers::{authenticate_basic, view_router};
pub use header::BasicCredentials;
pub use knox::{
    IssueError, IssuedRefreshToken, IssuedToken, Knox, NewSessionRefresh, TokenOptions,
};
pub use rejection::{Challenge, KnoxRejection, RejectionKind};
pub use settings::{Settings, SettingsBuilder, SettingsError};
pub use view::{
    refresh_policy, Context, KnoxHooks, KnoxView, RefreshOptions, RefreshPolicy, UserSerializer,
    ViewAction, ViewOptions,
};

/// Paths used by code that `#[knox_view]` generates. Not a public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::handlers::view_router;
    pub use crate::users::KnoxUser as DefaultUser;
    pub use crate::view::{KnoxHooks, KnoxView, RefreshOptions, UserSerializer, ViewOptions};
    pub use crate::Knox;
    pub use axum::extract::FromRef;
    pub use axum::Router;
    pub use serde_json::Error as SerdeJsonError;
    pub use serde_json::Value;
    pub use std::option::Option::{self, None, Some};
    pub use std::result::Result::Ok;
    pub use std::time::Duration;
}
