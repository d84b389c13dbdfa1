//! The [`Auth`] extractor for protected routes.

use axum::extract::{FromRef, FromRequestParts, OptionalFromRequestParts};
use axum::http::request::Parts;
use chrono::{DateTime, Utc};

use crate::knox::Knox;
use crate::rejection::{KnoxRejection, RejectionKind};

/// The authenticated user of a request and the token it presented.
///
/// Extracting `Auth<U>` requires `Knox<U>` in the router state (through
/// [`FromRef`]), so a router without it does not compile. A request without
/// a token, or with a header of another scheme, is rejected with 401
/// `Authentication credentials were not provided.`; see
/// [`KnoxRejection`] for the other failures.
///
/// `Option<Auth<U>>` makes authentication optional: no header (or another
/// scheme) gives `None`, but a malformed or invalid token is still a 401.
///
/// ```
/// use axum::{routing::get, Json, Router};
/// use axum_knox::{Auth, Knox};
/// use axum_knox::users::KnoxUser;
///
/// async fn me(auth: Auth<KnoxUser>) -> Json<KnoxUser> {
///     Json(auth.user)
/// }
///
/// async fn greeting(auth: Option<Auth<KnoxUser>>) -> String {
///     match auth {
///         Some(auth) => format!("hello, {}", auth.user.username),
///         None => "hello, stranger".to_owned(),
///     }
/// }
///
/// fn routes() -> Router<Knox<KnoxUser>> {
///     Router::new().route("/me", get(me)).route("/hello", get(greeting))
/// }
/// ```
#[derive(Debug, Clone)]
pub struct Auth<U> {
    /// The authenticated, active user.
    pub user: U,
    /// The token the request presented.
    pub token: AuthToken,
}

/// The details of the token that authenticated a request, as a handler sees them.
#[derive(Clone, PartialEq, Eq)]
pub struct AuthToken {
    pub(crate) digest: String,
    /// The token's prefix and first random characters.
    pub token_key: String,
    /// Id of the token's user.
    pub user_id: String,
    /// When the token was issued.
    pub created: DateTime<Utc>,
    /// The stored expiry after any auto-refresh; `None` means never.
    pub expiry: Option<DateTime<Utc>>,
}

impl AuthToken {
    /// Returns the token's SHA-512 digest, the key of its stored row.
    pub fn digest(&self) -> &str {
        &self.digest
    }
}

impl std::fmt::Debug for AuthToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthToken")
            .field("digest", &"<redacted>")
            .field("token_key", &self.token_key)
            .field("user_id", &self.user_id)
            .field("created", &self.created)
            .field("expiry", &self.expiry)
            .finish()
    }
}

impl<S, U> FromRequestParts<S> for Auth<U>
where
    Knox<U>: FromRef<S>,
    S: Send + Sync,
    U: Clone + Send + Sync + 'static,
{
    type Rejection = KnoxRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let knox = Knox::<U>::from_ref(state);
        match knox.authenticate(&parts.headers).await? {
            Some(auth) => Ok(auth),
            None => Err(KnoxRejection::new(
                RejectionKind::MissingCredentials,
                Some(knox.token_challenge()),
            )),
        }
    }
}

impl<S, U> OptionalFromRequestParts<S> for Auth<U>
where
    Knox<U>: FromRef<S>,
    S: Send + Sync,
    U: Clone + Send + Sync + 'static,
{
    type Rejection = KnoxRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        Knox::<U>::from_ref(state)
            .authenticate(&parts.headers)
            .await
    }
}
