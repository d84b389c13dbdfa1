//! [`Knox`]: the shared state that views and the extractor reach through the router state.

use std::sync::Arc;
use std::time::Duration;

use axum::http::{header, HeaderMap, HeaderValue};
use chrono::{DateTime, TimeDelta, Utc};

use crate::cache::{AuthCache, Hit};
use crate::clock::{Clock, SystemClock};
use crate::crypto::{self, GeneratedToken};
use crate::extract::{Auth, AuthToken};
use crate::header::{parse_scheme, SchemeCredentials};
use crate::rejection::{Challenge, KnoxRejection, RejectionKind};
use crate::settings::{validate_prefix, Settings, SettingsError};
use crate::store::{
    FamilyRecord, InsertOutcome, Lookup, NewFamily, NewRefreshToken, RefreshTokenRecord,
    Revocation, RevocationHandler, StoreError, TokenRecord, TokenStore,
};
use crate::users::UserBackend;

/// Longest token string that is hashed at all: a maximum prefix plus the
/// maximum character length. Anything longer cannot be a token of ours.
pub(crate) const MAXIMUM_PRESENTED_TOKEN_LENGTH: usize =
    crypto::MAXIMUM_TOKEN_PREFIX_LENGTH + crate::settings::MAXIMUM_TOKEN_CHARACTER_LENGTH;

/// The token store, the user backend, the settings and the clock, shared by
/// every view and extractor of one user type.
///
/// Cloning is cheap. Put it in the router state and implement
/// [`FromRef`](axum::extract::FromRef) if the state contains more than `Knox`.
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use axum_knox::{Knox, Settings};
/// use axum_knox::store::SqliteStore;
/// use axum_knox::users::{PasswordHasher, SqliteUsers};
///
/// let store = SqliteStore::open("sqlite://app.sqlite3").await?;
/// let users = SqliteUsers::new(store.pool().clone(), PasswordHasher::default());
/// users.migrate().await?;
/// let knox = Knox::new(store, users, Settings::default());
/// # Ok(()) }
/// ```
pub struct Knox<U> {
    inner: Arc<Inner<U>>,
}

struct Inner<U> {
    store: Arc<dyn TokenStore>,
    users: Arc<dyn UserBackend<User = U>>,
    settings: Settings,
    clock: Arc<dyn Clock>,
    token_challenge: HeaderValue,
    cache: Option<AuthCache<U>>,
}

impl<U> Clone for Knox<U> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<U> std::fmt::Debug for Knox<U> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Knox")
            .field("settings", &self.inner.settings)
            .finish_non_exhaustive()
    }
}

/// A token just issued: the only place its plaintext exists.
#[derive(Clone)]
pub struct IssuedToken {
    /// The access token to hand to the client.
    pub token: String,
    /// The stored row.
    pub record: TokenRecord,
    /// The refresh token issued beside it, when refresh tokens are on.
    pub refresh: Option<IssuedRefreshToken>,
}

impl std::fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedToken")
            .field("token", &"<redacted>")
            .field("record", &self.record)
            .field("refresh", &self.refresh)
            .finish()
    }
}

/// A refresh token just issued, with its plaintext.
#[derive(Clone)]
pub struct IssuedRefreshToken {
    /// The refresh token to hand to the client.
    pub token: String,
    /// Its stored details.
    pub record: RefreshTokenRecord,
}

impl std::fmt::Debug for IssuedRefreshToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedRefreshToken")
            .field("token", &"<redacted>")
            .field("record", &self.record)
            .finish()
    }
}

/// A new refresh family and its first token, issued at login beside the access token.
#[derive(Debug, Clone)]
pub struct NewSessionRefresh {
    /// The family, with its absolute expiry.
    pub family: FamilyRecord,
    /// The family's first refresh token.
    pub token: GeneratedToken,
}

/// How to issue one token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenOptions<'a> {
    /// Prefix of the new token, at most 10 characters from `[A-Za-z0-9_-]`.
    pub prefix: &'a str,
    /// Lifetime of the token; `None` means it never expires.
    pub ttl: Option<Duration>,
    /// Maximum number of live tokens the user may hold, this one included.
    pub limit: Option<u32>,
}

/// Why [`Knox::issue_token`] issued nothing.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IssueError {
    /// The user already has `limit` live tokens.
    #[error("maximum amount of tokens allowed per user exceeded")]
    LimitReached,
    /// The prefix is invalid.
    #[error("invalid token prefix")]
    InvalidPrefix(#[source] SettingsError),
    /// The store failed.
    #[error("token store failed")]
    Store(#[source] StoreError),
}

impl From<IssueError> for KnoxRejection {
    fn from(error: IssueError) -> Self {
        match error {
            IssueError::LimitReached => KnoxRejection::new(RejectionKind::TokenLimitExceeded, None),
            IssueError::InvalidPrefix(cause) => {
                tracing::error!(target: "knox", error = %cause, "a hook returned an invalid token prefix");
                KnoxRejection::new(RejectionKind::ServerMisconfigured, None)
            }
            IssueError::Store(cause) => KnoxRejection::store_unavailable(&cause),
        }
    }
}

impl<U: Clone + Send + Sync + 'static> Knox<U> {
    /// Creates the state from a token store, a user backend and validated settings.
    pub fn new<S, B>(store: S, users: B, settings: Settings) -> Self
    where
        S: TokenStore,
        B: UserBackend<User = U>,
    {
        Self::from_parts(
            Arc::new(store),
            Arc::new(users),
            settings,
            Arc::new(SystemClock),
        )
    }

    /// Creates the state from shared parts, with an explicit clock.
    pub fn from_parts(
        store: Arc<dyn TokenStore>,
        users: Arc<dyn UserBackend<User = U>>,
        settings: Settings,
        clock: Arc<dyn Clock>,
    ) -> Self {
        // A validated AUTH_HEADER_PREFIX is a visible-ASCII token, so it is a valid header value.
        let token_challenge = HeaderValue::from_str(settings.auth_header_prefix())
            .unwrap_or_else(|_| HeaderValue::from_static("Token"));
        let cache = settings.auth_cache_ttl().map(AuthCache::new);
        let knox = Self {
            inner: Arc::new(Inner {
                store,
                users,
                settings,
                clock,
                token_challenge,
                cache,
            }),
        };
        knox.watch_revocations();
        knox
    }

    /// With a cache, subscribes it to revocations made by other processes, if
    /// the store announces them (PostgreSQL does) and a Tokio runtime is running.
    fn watch_revocations(&self) {
        if self.inner.cache.is_none() {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let store = Arc::clone(&self.inner.store);
        // A weak reference, so the watcher ends once the last Knox is dropped.
        let state = Arc::downgrade(&self.inner);
        let handler: RevocationHandler = Arc::new(move |revocation| {
            let Some(inner) = state.upgrade() else {
                return false;
            };
            if let Some(cache) = &inner.cache {
                match revocation {
                    Revocation::User(user_id) => cache.forget_user(&user_id),
                    _ => cache.clear(),
                }
            }
            true
        });
        runtime.spawn(async move {
            if let Err(error) = store.watch_revocations(handler).await {
                tracing::warn!(target: "knox", error = %error, "cannot watch revocations of other processes; the cache TTL bounds them");
            }
        });
    }

    /// Returns a copy of this state that reads time from `clock`.
    #[must_use]
    pub fn with_clock(&self, clock: impl Clock) -> Self {
        Self::from_parts(
            Arc::clone(&self.inner.store),
            Arc::clone(&self.inner.users),
            self.inner.settings.clone(),
            Arc::new(clock),
        )
    }

    /// Returns the runtime settings.
    pub fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    /// Returns the token store.
    pub fn store(&self) -> &dyn TokenStore {
        self.inner.store.as_ref()
    }

    /// Returns the user backend.
    pub fn users(&self) -> &dyn UserBackend<User = U> {
        self.inner.users.as_ref()
    }

    /// Returns the current time of the configured clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.inner.clock.now()
    }

    pub(crate) fn token_challenge(&self) -> Challenge {
        Challenge::Token(self.inner.token_challenge.clone())
    }

    fn reject(&self, kind: RejectionKind) -> KnoxRejection {
        KnoxRejection::new(kind, Some(self.token_challenge()))
    }

    /// Authenticates a request by its `Authorization` header.
    ///
    /// Returns `Ok(None)` when the header is absent or names another scheme, as
    /// knox leaves such requests to other authenticators.
    ///
    /// # Errors
    ///
    /// A 401 [`KnoxRejection`] with knox's message for a malformed header, an
    /// invalid token or an inactive user; a 503 when a store fails.
    pub async fn authenticate(
        &self,
        headers: &HeaderMap,
    ) -> Result<Option<Auth<U>>, KnoxRejection> {
        let Some(value) = headers.get(header::AUTHORIZATION) else {
            return Ok(None);
        };
        match parse_scheme(value.as_bytes(), self.settings().auth_header_prefix()) {
            SchemeCredentials::NotThisScheme => Ok(None),
            SchemeCredentials::Empty => Err(self.reject(RejectionKind::TokenHeaderWithoutToken)),
            SchemeCredentials::ContainsSpaces => {
                Err(self.reject(RejectionKind::TokenContainsSpaces))
            }
            SchemeCredentials::Present(token) => self.authenticate_token(token).await.map(Some),
        }
    }

    /// Authenticates a token string as sent by a client.
    ///
    /// The token is treated as opaque bytes: any length or encoding gives
    /// [`RejectionKind::InvalidToken`] unless its digest is stored.
    ///
    /// # Errors
    ///
    /// As for [`authenticate`](Self::authenticate).
    pub async fn authenticate_token(&self, token: &[u8]) -> Result<Auth<U>, KnoxRejection> {
        if token.is_empty() || token.len() > MAXIMUM_PRESENTED_TOKEN_LENGTH {
            return Err(self.reject(RejectionKind::InvalidToken));
        }
        let digest = crypto::hash_token(token);
        let now = self.now();

        let cache = self.inner.cache.as_ref();
        match cache.and_then(|cache| cache.get(&digest)) {
            Some(Hit::Missing) => return Err(self.reject(RejectionKind::InvalidToken)),
            Some(Hit::Valid(record, user)) if !record.is_expired(now) => {
                return self.finish_authentication(record, user, now).await;
            }
            // Expired since it was cached: the store deletes it below.
            Some(Hit::Valid(..)) | None => {}
        }
        let epoch = cache.map(AuthCache::epoch);

        let record = match self.store().find_token(&digest, now).await {
            Ok(Lookup::Live(record)) => record,
            Ok(Lookup::Expired(record)) => {
                tracing::info!(target: "knox", event = "token_expired", user.id = %record.user_id, "expired token deleted");
                if let Some(cache) = cache {
                    cache.forget(&digest);
                }
                return Err(self.reject(RejectionKind::InvalidToken));
            }
            Ok(Lookup::Missing) => {
                if let Some(cache) = cache {
                    cache.store_missing(&digest);
                }
                return Err(self.reject(RejectionKind::InvalidToken));
            }
            Err(error) => return Err(KnoxRejection::store_unavailable(&error)),
        };
        // The lookup matched on the digest already. Comparing again in constant
        // time guards against stores whose collation compares case-insensitively.
        if !crypto::digests_match(&record.digest, &digest) {
            return Err(self.reject(RejectionKind::InvalidToken));
        }

        let user = match self.users().load_user(&record.user_id).await {
            Ok(Some(user)) if self.users().is_active(&user) => user,
            Ok(_) => return Err(self.reject(RejectionKind::InactiveUser)),
            Err(error) => return Err(KnoxRejection::store_unavailable(&error)),
        };
        if let (Some(cache), Some(epoch)) = (cache, epoch) {
            cache.store_valid(epoch, &record, &user);
        }
        self.finish_authentication(record, user, now).await
    }

    /// Applies auto-refresh to an authenticated token and builds the result.
    async fn finish_authentication(
        &self,
        record: TokenRecord,
        user: U,
        now: DateTime<Utc>,
    ) -> Result<Auth<U>, KnoxRejection> {
        let expiry = self.auto_refresh(&record, now).await?;
        Ok(Auth {
            user,
            token: AuthToken {
                digest: record.digest,
                token_key: record.token_key,
                user_id: record.user_id,
                created: record.created,
                expiry,
            },
        })
    }

    /// Slides the token's expiry when AUTO_REFRESH is on and the move exceeds
    /// MIN_REFRESH_INTERVAL; returns the stored expiry.
    async fn auto_refresh(
        &self,
        record: &TokenRecord,
        now: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, KnoxRejection> {
        let settings = self.settings();
        let (true, Some(current), Some(ttl)) =
            (settings.auto_refresh(), record.expiry, settings.token_ttl())
        else {
            return Ok(record.expiry);
        };

        let mut new_expiry = add(now, ttl);
        if let Some(max_ttl) = settings.auto_refresh_max_ttl() {
            new_expiry = new_expiry.min(add(record.created, max_ttl));
        }
        // Writes only when the expiry moves by more than the interval, as knox does.
        let interval =
            TimeDelta::from_std(settings.min_refresh_interval()).unwrap_or(TimeDelta::MAX);
        if new_expiry - current <= interval {
            return Ok(record.expiry);
        }

        let cache = self.inner.cache.as_ref();
        match self.store().extend_expiry(&record.digest, new_expiry).await {
            Ok(Some(stored)) => {
                if let Some(cache) = cache {
                    cache.update_expiry(&record.digest, stored);
                }
                Ok(stored)
            }
            // Deleted by a concurrent logout between the lookup and the update.
            Ok(None) => {
                if let Some(cache) = cache {
                    cache.forget(&record.digest);
                }
                Err(self.reject(RejectionKind::InvalidToken))
            }
            Err(error) => Err(KnoxRejection::store_unavailable(&error)),
        }
    }

    /// Generates an access token for the user `user_id` that lives `ttl`,
    /// without storing it.
    ///
    /// # Errors
    ///
    /// [`IssueError::InvalidPrefix`] for a bad prefix.
    pub fn generate_access_token(
        &self,
        user_id: &str,
        prefix: &str,
        ttl: Option<Duration>,
    ) -> Result<(GeneratedToken, TokenRecord), IssueError> {
        validate_prefix("TOKEN_PREFIX", prefix).map_err(IssueError::InvalidPrefix)?;
        let generated =
            GeneratedToken::generate(prefix, self.settings().auth_token_character_length());
        let now = self.now();
        let record = TokenRecord {
            digest: generated.digest.clone(),
            token_key: generated.token_key.clone(),
            user_id: user_id.to_owned(),
            created: now,
            expiry: ttl.map(|ttl| add(now, ttl)),
        };
        Ok((generated, record))
    }

    /// Issues a token for `user`, with `refresh` also a new refresh family,
    /// enforcing `options.limit` atomically.
    ///
    /// # Errors
    ///
    /// [`IssueError::LimitReached`] at the limit, [`IssueError::InvalidPrefix`]
    /// for a bad prefix, [`IssueError::Store`] when the store fails.
    pub async fn issue_token(
        &self,
        user: &U,
        options: TokenOptions<'_>,
        refresh: Option<NewSessionRefresh>,
    ) -> Result<IssuedToken, IssueError> {
        let user_id = self.users().user_id(user);
        let (generated, record) =
            self.generate_access_token(&user_id, options.prefix, options.ttl)?;
        let new_family = refresh.as_ref().map(|refresh| NewFamily {
            family: refresh.family.clone(),
            token: NewRefreshToken {
                digest: refresh.token.digest.clone(),
                token_key: refresh.token.token_key.clone(),
            },
        });

        let inserted = self
            .store()
            .insert_token(&record, new_family.as_ref(), options.limit, record.created)
            .await;
        match inserted {
            Ok(InsertOutcome::Inserted) => Ok(IssuedToken {
                token: generated.token,
                refresh: refresh.map(|refresh| IssuedRefreshToken {
                    token: refresh.token.token,
                    record: RefreshTokenRecord {
                        family_id: refresh.family.id,
                        user_id: refresh.family.user_id,
                        generation: 1,
                        created: refresh.family.created,
                        expiry: refresh.family.expiry,
                    },
                }),
                record,
            }),
            Ok(InsertOutcome::LimitReached) => Err(IssueError::LimitReached),
            Err(error) => Err(IssueError::Store(error)),
        }
    }

    /// Revokes every token of `user`, for password changes, deactivation and
    /// admin actions; returns how many were deleted.
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the store fails.
    pub async fn revoke_all(&self, user: &U) -> Result<u64, StoreError> {
        let user_id = self.users().user_id(user);
        self.revoke_all_for_user_id(&user_id).await
    }

    /// Revokes every token stored under `user_id`; returns how many were deleted.
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the store fails.
    pub async fn revoke_all_for_user_id(&self, user_id: &str) -> Result<u64, StoreError> {
        let deleted = self.store().delete_user_tokens(user_id).await;
        self.invalidate_user(user_id);
        let deleted = deleted?;
        tracing::info!(target: "knox", deleted = deleted, user.id = %user_id, "revoked all tokens of user");
        Ok(deleted)
    }

    /// Revokes one access token, and with refresh tokens its whole family;
    /// returns how many access and refresh tokens were deleted.
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the store fails.
    pub async fn revoke_token(&self, digest: &str, user_id: &str) -> Result<u64, StoreError> {
        let deleted = self.store().delete_token(digest).await;
        // A family revocation removes tokens whose digests this call never receives,
        // so every cached token of the user goes.
        self.invalidate_user(user_id);
        deleted
    }

    /// Makes this process forget every cached token of `user_id`, so the next
    /// request of each reads the store. Call it after deactivating a user in
    /// your own table; other processes see the change within `AUTH_CACHE_TTL`.
    /// Without a cache this does nothing.
    pub fn invalidate_user(&self, user_id: &str) {
        if let Some(cache) = &self.inner.cache {
            cache.forget_user(user_id);
        }
    }

    /// Makes this process forget every cached token.
    pub fn clear_cache(&self) {
        if let Some(cache) = &self.inner.cache {
            cache.clear();
        }
    }

    /// Deletes every expired token; returns how many.
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the store fails.
    pub async fn purge_expired(&self) -> Result<u64, StoreError> {
        let deleted = self.store().purge_expired(self.now()).await?;
        tracing::debug!(target: "knox", deleted = deleted, "purged expired tokens");
        Ok(deleted)
    }

    /// Spawns a task that purges expired tokens every `period`, logging and
    /// retrying on store errors. Abort the returned handle to stop it.
    pub fn spawn_purge_task(&self, period: Duration) -> tokio::task::JoinHandle<()> {
        let knox = self.clone();
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(period);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticker.tick().await;
                if let Err(error) = knox.purge_expired().await {
                    tracing::warn!(target: "knox", error = %error, "purging expired tokens failed; retrying next period");
                }
            }
        })
    }
}

/// Adds a std duration to a time, saturating far in the future.
pub(crate) fn add(time: DateTime<Utc>, duration: Duration) -> DateTime<Utc> {
    TimeDelta::from_std(duration)
        .ok()
        .and_then(|delta| time.checked_add_signed(delta))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}
