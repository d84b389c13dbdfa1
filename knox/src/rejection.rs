//! Rejections: every way authentication or a view can fail, with knox's
//! status codes and messages.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::store::StoreError;

/// The shortest time between two logged store failures.
const STORE_ERROR_LOG_INTERVAL: Duration = Duration::from_secs(1);

/// Lets one event through per [`STORE_ERROR_LOG_INTERVAL`] and counts the rest.
#[derive(Debug)]
struct LogLimiter {
    start: Instant,
    /// Milliseconds from `start` to the last event let through, plus one;
    /// zero before the first.
    last: AtomicU64,
    suppressed: AtomicU64,
}

impl LogLimiter {
    fn new(start: Instant) -> Self {
        Self {
            start,
            last: AtomicU64::new(0),
            suppressed: AtomicU64::new(0),
        }
    }

    /// Returns `Some` with the number of events held back since the last one
    /// let through when the event at `now` may be logged, and `None` when it
    /// is held back.
    fn admit(&self, now: Instant) -> Option<u64> {
        let elapsed = now.saturating_duration_since(self.start).as_millis();
        let stamp = u64::try_from(elapsed).unwrap_or(u64::MAX - 1) + 1;
        let last = self.last.load(Ordering::Acquire);
        let interval = STORE_ERROR_LOG_INTERVAL.as_millis() as u64;
        let due = last == 0 || stamp.saturating_sub(last) >= interval;
        if !due
            || self
                .last
                .compare_exchange(last, stamp, Ordering::AcqRel, Ordering::Acquire)
                .is_err()
        {
            self.suppressed.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        Some(self.suppressed.swap(0, Ordering::Relaxed))
    }
}

/// The reason a request was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RejectionKind {
    /// No credentials of the expected scheme were sent.
    MissingCredentials,
    /// The token header has the scheme word but no token.
    TokenHeaderWithoutToken,
    /// The token header has more than one word after the scheme.
    TokenContainsSpaces,
    /// The token is unknown, expired or revoked.
    InvalidToken,
    /// The token's user is inactive or no longer exists.
    InactiveUser,
    /// The Basic header has the scheme word but no credentials.
    BasicHeaderWithoutCredentials,
    /// The Basic header has more than one word after the scheme.
    BasicCredentialsContainSpaces,
    /// The Basic credentials are not base64 of UTF-8 `username:password`.
    BasicCredentialsNotDecodable,
    /// The username and password do not match an active user.
    InvalidCredentials,
    /// The user already has as many tokens as the view allows.
    TokenLimitExceeded,
    /// The token or user store failed; the client may retry.
    StoreUnavailable,
    /// The server is misconfigured, for example a hook returned an invalid prefix.
    ServerMisconfigured,
    /// The refresh request body is malformed; the text names the problem.
    InvalidRequestBody(String),
    /// A refresh came inside the minimum issue interval.
    Throttled {
        /// Whole seconds until the next refresh may succeed, at least 1.
        retry_after_secs: u64,
    },
    /// Refresh tokens are off for this view.
    RefreshDisabled,
}

/// The authentication scheme a 401 response challenges the client with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Challenge {
    /// `WWW-Authenticate: <AUTH_HEADER_PREFIX>`, for token-protected routes.
    Token(HeaderValue),
    /// `WWW-Authenticate: Basic realm="api"`, for the login view.
    Basic,
}

/// A rejected request: a status, a JSON body and, for 401, a challenge header.
///
/// The body never contains the presented token or credentials.
///
/// | kind | status | body |
/// | --- | --- | --- |
/// | `MissingCredentials` | 401 | `{"detail": "Authentication credentials were not provided."}` |
/// | `TokenHeaderWithoutToken` | 401 | `{"detail": "Invalid token header. No credentials provided."}` |
/// | `TokenContainsSpaces` | 401 | `{"detail": "Invalid token header. Token string should not contain spaces."}` |
/// | `InvalidToken` | 401 | `{"detail": "Invalid token."}` |
/// | `InactiveUser` | 401 | `{"detail": "User inactive or deleted."}` |
/// | `InvalidCredentials` | 401 | `{"detail": "Invalid username/password."}` |
/// | `TokenLimitExceeded` | 403 | `{"error": "Maximum amount of tokens allowed per user exceeded."}` |
/// | `InvalidRequestBody` | 400 | `{"detail": "<what is wrong>"}` |
/// | `Throttled` | 429 | `{"detail": "Request was throttled."}` with `Retry-After` |
/// | `RefreshDisabled` | 404 | `{"detail": "Not found."}` |
/// | `StoreUnavailable` | 503 | `{"detail": "Service temporarily unavailable, try again later."}` |
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnoxRejection {
    kind: RejectionKind,
    challenge: Option<Challenge>,
}

impl KnoxRejection {
    /// Creates a rejection of `kind` with an optional 401 challenge.
    pub fn new(kind: RejectionKind, challenge: Option<Challenge>) -> Self {
        Self { kind, challenge }
    }

    /// Creates the 503 for a failed store and logs the cause.
    ///
    /// During an outage every request fails alike, so at most one line per
    /// second is logged, counting in `suppressed` the failures not logged
    /// since the line before.
    pub fn store_unavailable(error: &StoreError) -> Self {
        static LIMITER: OnceLock<LogLimiter> = OnceLock::new();
        let limiter = LIMITER.get_or_init(|| LogLimiter::new(Instant::now()));
        if let Some(suppressed) = limiter.admit(Instant::now()) {
            let cause = std::error::Error::source(error)
                .map(ToString::to_string)
                .unwrap_or_default();
            tracing::error!(
                target: "knox",
                error = %error,
                cause = %cause,
                suppressed,
                "token store failed"
            );
        }
        Self::new(RejectionKind::StoreUnavailable, None)
    }

    /// Returns why the request was rejected.
    pub fn kind(&self) -> &RejectionKind {
        &self.kind
    }

    /// Returns the HTTP status of the response.
    pub fn status(&self) -> StatusCode {
        match self.kind {
            RejectionKind::TokenLimitExceeded => StatusCode::FORBIDDEN,
            RejectionKind::StoreUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            RejectionKind::ServerMisconfigured => StatusCode::INTERNAL_SERVER_ERROR,
            RejectionKind::InvalidRequestBody(_) => StatusCode::BAD_REQUEST,
            RejectionKind::Throttled { .. } => StatusCode::TOO_MANY_REQUESTS,
            RejectionKind::RefreshDisabled => StatusCode::NOT_FOUND,
            _ => StatusCode::UNAUTHORIZED,
        }
    }

    /// Returns the message of the response body, as knox and DRF word it.
    pub fn message(&self) -> &str {
        match &self.kind {
            RejectionKind::MissingCredentials => "Authentication credentials were not provided.",
            RejectionKind::TokenHeaderWithoutToken => {
                "Invalid token header. No credentials provided."
            }
            RejectionKind::TokenContainsSpaces => {
                "Invalid token header. Token string should not contain spaces."
            }
            RejectionKind::InvalidToken => "Invalid token.",
            RejectionKind::InactiveUser => "User inactive or deleted.",
            RejectionKind::BasicHeaderWithoutCredentials => {
                "Invalid basic header. No credentials provided."
            }
            RejectionKind::BasicCredentialsContainSpaces => {
                "Invalid basic header. Credentials string should not contain spaces."
            }
            RejectionKind::BasicCredentialsNotDecodable => {
                "Invalid basic header. Credentials not correctly base64 encoded."
            }
            RejectionKind::InvalidCredentials => "Invalid username/password.",
            RejectionKind::TokenLimitExceeded => {
                "Maximum amount of tokens allowed per user exceeded."
            }
            RejectionKind::StoreUnavailable => "Service temporarily unavailable, try again later.",
            RejectionKind::ServerMisconfigured => "A server error occurred.",
            RejectionKind::InvalidRequestBody(detail) => detail,
            RejectionKind::Throttled { .. } => "Request was throttled.",
            RejectionKind::RefreshDisabled => "Not found.",
        }
    }
}

impl std::fmt::Display for KnoxRejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for KnoxRejection {}

impl IntoResponse for KnoxRejection {
    fn into_response(self) -> Response {
        tracing::debug!(target: "knox", kind = ?self.kind, status = self.status().as_u16(), "request rejected");

        // knox reports the token limit under `error`, everything else with DRF's `detail`.
        let key = match self.kind {
            RejectionKind::TokenLimitExceeded => "error",
            _ => "detail",
        };
        let body = Json(serde_json::json!({ key: self.message() }));
        let mut response = (self.status(), body).into_response();

        if let RejectionKind::Throttled { retry_after_secs } = self.kind {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
        }
        if self.status() == StatusCode::UNAUTHORIZED {
            let challenge = match self.challenge {
                Some(Challenge::Token(scheme)) => scheme,
                Some(Challenge::Basic) | None => HeaderValue::from_static("Basic realm=\"api\""),
            };
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, challenge);
        }
        response
    }
}

#[cfg(test)]
mod log_limiter_tests {
    use super::*;

    #[test]
    fn admits_one_event_per_interval() {
        let start = Instant::now();
        let limiter = LogLimiter::new(start);

        assert_eq!(limiter.admit(start), Some(0));
        for millis in [1, 10, 500, 999] {
            assert_eq!(limiter.admit(start + Duration::from_millis(millis)), None);
        }
        assert_eq!(
            limiter.admit(start + Duration::from_millis(1_000)),
            Some(4),
            "the next line counts the four held back"
        );
        assert_eq!(limiter.admit(start + Duration::from_millis(1_500)), None);
        assert_eq!(limiter.admit(start + Duration::from_millis(2_000)), Some(1));
    }
}
