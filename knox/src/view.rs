//! The machinery behind `#[knox_view]`: view options, overridable hooks, and
//! the login, logout and logout-all handlers.

use std::future::Future;
use std::time::Duration;

use axum::extract::{FromRef, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use crate::expiry;
use crate::extract::Auth;
use crate::header::{decode_basic, parse_scheme, SchemeCredentials};
use crate::knox::{IssuedToken, Knox, TokenOptions};
use crate::rejection::{Challenge, KnoxRejection, RejectionKind};

/// What `#[knox_view(...)]` fixed at compile time; `None` falls back to the
/// runtime [`Settings`](crate::Settings).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ViewOptions {
    /// `ttl`: `Some(None)` for `ttl = none`, `Some(Some(d))` for a duration.
    pub ttl: Option<Option<Duration>>,
    /// `token_limit`.
    pub token_limit: Option<u32>,
    /// `expiry_format`.
    pub expiry_format: Option<&'static str>,
    /// `prefix`.
    pub prefix: Option<&'static str>,
    /// `refresh(...)`: `Some` turns refresh tokens on for the view; `None`
    /// follows `ENABLE_REFRESH_TOKEN`.
    pub refresh: Option<RefreshOptions>,
}

impl ViewOptions {
    /// Options with every argument absent.
    pub const EMPTY: Self = Self {
        ttl: None,
        token_limit: None,
        expiry_format: None,
        prefix: None,
        refresh: None,
    };
}

/// The options of `refresh(...)`; `None` falls back to the runtime settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RefreshOptions {
    /// `ttl`: the absolute lifetime of a refresh family (`REFRESH_TOKEN_TTL`).
    pub ttl: Option<Duration>,
    /// `min_issue_interval` (`MIN_REFRESH_TOKEN_ISSUE_INTERVAL`).
    pub min_issue_interval: Option<Duration>,
    /// `max_history` (`MAX_TOKEN_HISTORY`).
    pub max_history: Option<u32>,
    /// `reuse_leeway` (`REFRESH_TOKEN_REUSE_LEEWAY`).
    pub reuse_leeway: Option<Duration>,
}

impl RefreshOptions {
    /// Options that take every value from the runtime settings.
    pub const SETTINGS: Self = Self {
        ttl: None,
        min_issue_interval: None,
        max_history: None,
        reuse_leeway: None,
    };
}

/// A view declared with `#[knox_view]`. The macro implements this trait;
/// implement [`KnoxHooks`] to customise the view.
pub trait KnoxView: Send + Sync + Sized + 'static {
    /// The user type of the view's [`Knox`] state.
    type User: Clone + Send + Sync + 'static;

    /// The arguments of the attribute.
    const OPTIONS: ViewOptions;

    /// The view value passed to hooks as `self`.
    const VIEW: Self;

    /// Serializes `user` with the `serializer` argument; `Ok(None)` without one.
    ///
    /// # Errors
    ///
    /// The serializer's error.
    fn configured_user_data(user: &Self::User) -> Result<Option<Value>, serde_json::Error>;
}

/// What every hook sees of the current request.
#[non_exhaustive]
pub struct Context<'a, U> {
    /// The authenticated user.
    pub user: &'a U,
    /// The request head: method, URI, headers and extensions.
    pub request: &'a Parts,
    /// The shared state: settings, stores and clock.
    pub knox: &'a Knox<U>,
    /// The time the request is handled at, from the configured clock.
    pub now: DateTime<Utc>,
    /// What [`KnoxHooks::context`] returned, for serializers and response hooks.
    pub extra: Map<String, Value>,
}

/// The overridable steps of a view, named after knox's view methods without `get_`.
///
/// `#[knox_view]` implements this trait with every default. With the
/// `custom_hooks` argument it does not, and an `impl KnoxHooks for MyView`
/// block overrides any subset; a misspelled method or a wrong signature is
/// then a compile error.
///
/// ```
/// use std::time::Duration;
/// use axum_knox::{knox_view, Context, KnoxHooks};
/// use axum_knox::users::SqliteUser;
///
/// #[knox_view(custom_hooks)]
/// pub struct AdminViews;
///
/// impl KnoxHooks for AdminViews {
///     // Administrators get short-lived tokens.
///     fn token_ttl(&self, ctx: &Context<'_, SqliteUser>) -> Option<Duration> {
///         if ctx.user.username.starts_with("admin") {
///             Some(Duration::from_secs(15 * 60))
///         } else {
///             ctx.knox.settings().token_ttl()
///         }
///     }
/// }
/// ```
pub trait KnoxHooks: KnoxView {
    /// Returns extra context for the other hooks (knox's `get_context`).
    fn context(&self, request: &Parts) -> Map<String, Value> {
        let _ = request;
        Map::new()
    }

    /// Returns the lifetime of a new token (`get_token_ttl`); `None`: never expires.
    fn token_ttl(&self, ctx: &Context<'_, Self::User>) -> Option<Duration> {
        match Self::OPTIONS.ttl {
            Some(ttl) => ttl,
            None => ctx.knox.settings().token_ttl(),
        }
    }

    /// Returns the prefix of a new token (`get_token_prefix`).
    fn token_prefix<'a>(&self, ctx: &Context<'a, Self::User>) -> &'a str {
        match Self::OPTIONS.prefix {
            Some(prefix) => prefix,
            None => ctx.knox.settings().token_prefix(),
        }
    }

    /// Returns the maximum number of live tokens per user (`get_token_limit_per_user`).
    fn token_limit_per_user(&self, ctx: &Context<'_, Self::User>) -> Option<u32> {
        match Self::OPTIONS.token_limit {
            Some(limit) => Some(limit),
            None => ctx.knox.settings().token_limit_per_user(),
        }
    }

    /// Returns the `user` field of the login body (`get_user_serializer_class`);
    /// `None` leaves the field out.
    fn serialize_user(&self, ctx: &Context<'_, Self::User>) -> Option<Value> {
        match Self::configured_user_data(ctx.user) {
            Ok(data) => data,
            Err(error) => {
                tracing::error!(target: "knox", error = %error, "user serializer failed; `user` left out of the response");
                None
            }
        }
    }

    /// Returns the strftime format of `expiry` (`get_expiry_datetime_format`).
    fn expiry_datetime_format<'a>(&self, ctx: &Context<'a, Self::User>) -> &'a str {
        match Self::OPTIONS.expiry_format {
            Some(format) => format,
            None => ctx.knox.settings().expiry_datetime_format(),
        }
    }

    /// Formats an expiry for the response body (`format_expiry_datetime`);
    /// `null` for a token that never expires.
    fn format_expiry_datetime(
        &self,
        ctx: &Context<'_, Self::User>,
        expiry: Option<DateTime<Utc>>,
    ) -> Value {
        let Some(expiry) = expiry else {
            return Value::Null;
        };
        let format = self.expiry_datetime_format(ctx);
        match expiry::format(expiry, format) {
            Some(text) => Value::String(text),
            None => {
                tracing::error!(target: "knox", format, "invalid expiry format from a hook; using ISO 8601");
                let fallback = crate::settings::DEFAULT_EXPIRY_DATETIME_FORMAT;
                Value::String(expiry::format(expiry, fallback).unwrap_or_default())
            }
        }
    }

    /// Issues and stores the token (`create_token`), enforcing `limit` atomically.
    fn create_token(
        &self,
        ctx: &Context<'_, Self::User>,
        ttl: Option<Duration>,
        limit: Option<u32>,
    ) -> impl Future<Output = Result<IssuedToken, KnoxRejection>> + Send {
        async move {
            let prefix = self.token_prefix(ctx);
            let options = TokenOptions { prefix, ttl, limit };
            ctx.knox
                .issue_token(ctx.user, options)
                .await
                .map_err(KnoxRejection::from)
        }
    }

    /// Builds the login body (`get_post_response_data`): `expiry`, `token` and,
    /// with a serializer, `user`.
    fn post_response_data(
        &self,
        ctx: &Context<'_, Self::User>,
        issued: &IssuedToken,
    ) -> Map<String, Value> {
        let mut data = Map::new();
        data.insert(
            "expiry".to_owned(),
            self.format_expiry_datetime(ctx, issued.record.expiry),
        );
        data.insert("token".to_owned(), Value::String(issued.token.clone()));
        if let Some(user) = self.serialize_user(ctx) {
            data.insert("user".to_owned(), user);
        }
        data
    }

    /// Builds the logout and logout-all response (`get_post_response`): 204 by default.
    fn post_response(&self, ctx: &Context<'_, Self::User>) -> Response {
        let _ = ctx;
        StatusCode::NO_CONTENT.into_response()
    }

    /// Authenticates the login request (knox's `authentication_classes`): HTTP
    /// Basic against the user backend by default. A knox token is not accepted.
    fn authenticate(
        &self,
        knox: &Knox<Self::User>,
        request: &Parts,
    ) -> impl Future<Output = Result<Self::User, KnoxRejection>> + Send {
        authenticate_basic(knox, request)
    }

    /// Runs after a successful login (knox's `user_logged_in` signal).
    fn user_logged_in(&self, ctx: &Context<'_, Self::User>, issued: &IssuedToken) {
        let _ = ctx;
        tracing::info!(target: "knox", event = "user_logged_in", user.id = %issued.record.user_id, "user logged in");
    }

    /// Runs after logout and logout-all (knox's `user_logged_out` signal);
    /// `revoked` is the number of tokens deleted.
    fn user_logged_out(&self, ctx: &Context<'_, Self::User>, revoked: u64) {
        let user_id = ctx.knox.users().user_id(ctx.user);
        tracing::info!(target: "knox", event = "user_logged_out", user.id = %user_id, revoked, "user logged out");
    }
}

/// Authenticates HTTP Basic credentials against the user backend, as DRF's
/// `BasicAuthentication` does. Every failure is a 401 with a Basic challenge,
/// and a failed login never reveals whether the username exists.
///
/// # Errors
///
/// A 401 [`KnoxRejection`] for missing, malformed or wrong credentials and for
/// an inactive user; a 503 when the user store fails.
pub async fn authenticate_basic<U: Clone + Send + Sync + 'static>(
    knox: &Knox<U>,
    request: &Parts,
) -> Result<U, KnoxRejection> {
    let reject = |kind| KnoxRejection::new(kind, Some(Challenge::Basic));
    let header = request
        .headers
        .get(header::AUTHORIZATION)
        .map(HeaderValue::as_bytes)
        .unwrap_or_default();

    let encoded = match parse_scheme(header, "Basic") {
        SchemeCredentials::NotThisScheme => return Err(reject(RejectionKind::MissingCredentials)),
        SchemeCredentials::Empty => {
            return Err(reject(RejectionKind::BasicHeaderWithoutCredentials))
        }
        SchemeCredentials::ContainsSpaces => {
            return Err(reject(RejectionKind::BasicCredentialsContainSpaces))
        }
        SchemeCredentials::Present(encoded) => encoded,
    };
    let Some(credentials) = decode_basic(encoded) else {
        return Err(reject(RejectionKind::BasicCredentialsNotDecodable));
    };

    let users = knox.users();
    match users
        .verify_credentials(&credentials.username, &credentials.password)
        .await
    {
        // An inactive user gets the same answer as a wrong password, as Django's
        // ModelBackend gives, so the response reveals nothing about the account.
        Ok(Some(user)) if users.is_active(&user) => Ok(user),
        Ok(_) => {
            tracing::debug!(target: "knox", "login with invalid credentials");
            Err(reject(RejectionKind::InvalidCredentials))
        }
        Err(error) => Err(KnoxRejection::store_unavailable(&error)),
    }
}

/// Builds the router of a view: `POST login`, `POST logout`, `POST logoutall`.
pub fn view_router<V, S>() -> Router<S>
where
    V: KnoxHooks,
    S: Clone + Send + Sync + 'static,
    Knox<V::User>: FromRef<S>,
{
    Router::new()
        .route("/login", post(login::<V>))
        .route("/logout", post(logout::<V>))
        .route("/logoutall", post(logout_all::<V>))
}

async fn login<V: KnoxHooks>(State(knox): State<Knox<V::User>>, request: Parts) -> Response {
    let view = V::VIEW;
    let user = match view.authenticate(&knox, &request).await {
        Ok(user) => user,
        Err(rejection) => return rejection.into_response(),
    };

    let ctx = Context {
        user: &user,
        request: &request,
        knox: &knox,
        now: knox.now(),
        extra: view.context(&request),
    };
    let ttl = view.token_ttl(&ctx);
    let limit = view.token_limit_per_user(&ctx);
    let issued = match view.create_token(&ctx, ttl, limit).await {
        Ok(issued) => issued,
        Err(rejection) => return rejection.into_response(),
    };
    view.user_logged_in(&ctx, &issued);

    let body = view.post_response_data(&ctx, &issued);
    // The body holds a fresh credential: no cache may keep it.
    let headers = [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))];
    (StatusCode::OK, headers, Json(Value::Object(body))).into_response()
}

async fn logout<V: KnoxHooks>(
    State(knox): State<Knox<V::User>>,
    auth: Auth<V::User>,
    request: Parts,
) -> Response {
    let revoked = match knox.store().delete_token(auth.token.digest()).await {
        Ok(existed) => u64::from(existed),
        Err(error) => return KnoxRejection::store_unavailable(&error).into_response(),
    };
    respond_logged_out::<V>(&knox, &auth.user, &request, revoked)
}

async fn logout_all<V: KnoxHooks>(
    State(knox): State<Knox<V::User>>,
    auth: Auth<V::User>,
    request: Parts,
) -> Response {
    let revoked = match knox.store().delete_user_tokens(&auth.token.user_id).await {
        Ok(revoked) => revoked,
        Err(error) => return KnoxRejection::store_unavailable(&error).into_response(),
    };
    respond_logged_out::<V>(&knox, &auth.user, &request, revoked)
}

fn respond_logged_out<V: KnoxHooks>(
    knox: &Knox<V::User>,
    user: &V::User,
    request: &Parts,
    revoked: u64,
) -> Response {
    let view = V::VIEW;
    let ctx = Context {
        user,
        request,
        knox,
        now: knox.now(),
        extra: view.context(request),
    };
    view.user_logged_out(&ctx, revoked);
    view.post_response(&ctx)
}

/// Serializes a user with a `serializer` type: a `Serialize` type built `From<&User>`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot serialize the view's user type `{U}`",
    label = "this serializer",
    note = "a serializer implements `serde::Serialize` and `From<&{U}>`"
)]
pub trait UserSerializer<U> {
    /// Converts and serializes `user`.
    ///
    /// # Errors
    ///
    /// The error of `serde_json::to_value`.
    fn to_user_data(user: &U) -> Result<Value, serde_json::Error>;
}

impl<T, U> UserSerializer<U> for T
where
    T: serde::Serialize + for<'a> From<&'a U>,
{
    fn to_user_data(user: &U) -> Result<Value, serde_json::Error> {
        serde_json::to_value(T::from(user))
    }
}
