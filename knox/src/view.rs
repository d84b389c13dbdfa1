//! The machinery behind `#[knox_view]`: view options and overridable hooks.

use std::future::Future;
use std::time::Duration;

use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use crate::crypto::{generate_family_id, GeneratedToken};
use crate::expiry;
use crate::knox::{add, IssuedToken, Knox, NewSessionRefresh, TokenOptions};
use crate::rejection::KnoxRejection;
use crate::store::{FamilyRecord, RotationRules};

/// Arguments that `#[knox_view(...)]` fixed at compile time; `None` falls back to the
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

/// The current request as every hook receives it.
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
    /// The map [`KnoxHooks::context`] returned, for serializers and response hooks.
    pub extra: Map<String, Value>,
    /// The view that is running.
    pub action: ViewAction,
}

/// The view a hook runs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ViewAction {
    /// `POST login`
    Login,
    /// `POST refresh`
    Refresh,
    /// `POST logout`
    Logout,
    /// `POST logoutall`
    LogoutAll,
}

/// The refresh policy of a view: its `refresh(...)` options over the settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefreshPolicy {
    /// Absolute lifetime of a family, counted from login.
    pub ttl: Duration,
    /// The rotation rules: throttle, leeway and history.
    pub rules: RotationRules,
}

/// Returns the refresh policy of view `V`, or `None` when refresh tokens are
/// off for it: no `refresh(...)` argument and `ENABLE_REFRESH_TOKEN` off.
pub fn refresh_policy<V: KnoxView>(settings: &crate::Settings) -> Option<RefreshPolicy> {
    let options = match V::OPTIONS.refresh {
        Some(options) => options,
        None if settings.enable_refresh_token() => RefreshOptions::SETTINGS,
        None => return None,
    };
    Some(RefreshPolicy {
        ttl: options.ttl.unwrap_or(settings.refresh_token_ttl()),
        rules: RotationRules {
            min_issue_interval: options
                .min_issue_interval
                .unwrap_or(settings.min_refresh_token_issue_interval()),
            reuse_leeway: options
                .reuse_leeway
                .or(settings.refresh_token_reuse_leeway()),
            max_history: options.max_history.unwrap_or(settings.max_token_history()),
        },
    })
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
/// use axum_knox::users::KnoxUser;
///
/// #[knox_view(custom_hooks)]
/// pub struct AdminViews;
///
/// impl KnoxHooks for AdminViews {
///     // Administrators get short-lived tokens.
///     fn token_ttl(&self, ctx: &Context<'_, KnoxUser>) -> Option<Duration> {
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

    /// Issues and stores the token (`create_token`), and with `refresh` the
    /// new refresh family beside it, enforcing `limit` atomically.
    fn create_token(
        &self,
        ctx: &Context<'_, Self::User>,
        ttl: Option<Duration>,
        limit: Option<u32>,
        refresh: Option<NewSessionRefresh>,
    ) -> impl Future<Output = Result<IssuedToken, KnoxRejection>> + Send {
        async move {
            let prefix = self.token_prefix(ctx);
            let options = TokenOptions { prefix, ttl, limit };
            ctx.knox
                .issue_token(ctx.user, options, refresh)
                .await
                .map_err(KnoxRejection::from)
        }
    }

    /// Returns the absolute lifetime of a new refresh family (`get_refresh_token_ttl`).
    fn refresh_token_ttl(&self, ctx: &Context<'_, Self::User>) -> Duration {
        refresh_policy::<Self>(ctx.knox.settings())
            .map_or(ctx.knox.settings().refresh_token_ttl(), |policy| policy.ttl)
    }

    /// Creates the family record a login starts (`create_refresh_family`).
    fn create_refresh_family(&self, ctx: &Context<'_, Self::User>, ttl: Duration) -> FamilyRecord {
        FamilyRecord {
            id: generate_family_id(),
            user_id: ctx.knox.users().user_id(ctx.user),
            created: ctx.now,
            expiry: add(ctx.now, ttl),
        }
    }

    /// Generates a refresh token (`create_refresh_token`), prefixed with
    /// `REFRESH_TOKEN_PREFIX`. The store keeps only its digest.
    fn create_refresh_token(&self, ctx: &Context<'_, Self::User>) -> GeneratedToken {
        let settings = ctx.knox.settings();
        GeneratedToken::generate(
            settings.refresh_token_prefix(),
            settings.auth_token_character_length(),
        )
    }

    /// Runs after a refresh token was stored, at login or rotation (`add_refresh_token`).
    fn add_refresh_token(&self, ctx: &Context<'_, Self::User>, issued: &IssuedToken) {
        let _ = ctx;
        if let Some(refresh) = &issued.refresh {
            tracing::debug!(target: "knox", generation = refresh.record.generation, user.id = %refresh.record.user_id, family = %refresh.record.family_id, "refresh token issued");
        }
    }

    /// Builds the login and refresh body (`get_post_response_data`): `expiry`,
    /// `token`, with a serializer `user` (login only), and with refresh tokens
    /// `refresh_token` and `refresh_token_expiry`.
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
        if ctx.action == ViewAction::Login {
            if let Some(user) = self.serialize_user(ctx) {
                data.insert("user".to_owned(), user);
            }
        }
        if let Some(refresh) = &issued.refresh {
            data.insert(
                "refresh_token".to_owned(),
                Value::String(refresh.token.clone()),
            );
            data.insert(
                "refresh_token_expiry".to_owned(),
                self.format_expiry_datetime(ctx, Some(refresh.record.expiry)),
            );
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
        crate::handlers::authenticate_basic(knox, request)
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
