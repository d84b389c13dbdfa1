//! Runtime settings, named after django-rest-knox's `REST_KNOX` entries.

use std::fmt;
use std::time::Duration;

mod load;

pub use load::{
    LoadError, LoadProblem, Origin, SettingsLoader, CONFIG_VARIABLE, ENV_PREFIX, SETTING_NAMES,
};

use crate::crypto::{DEFAULT_TOKEN_CHARACTER_LENGTH, MAXIMUM_TOKEN_PREFIX_LENGTH};
use crate::expiry;

/// The default `EXPIRY_DATETIME_FORMAT`: ISO 8601 with microseconds and `Z`,
/// as Django REST framework writes a UTC datetime.
pub const DEFAULT_EXPIRY_DATETIME_FORMAT: &str = "%Y-%m-%dT%H:%M:%S%.6fZ";

/// The default `REFRESH_TOKEN_PREFIX`, so a leaked refresh token is recognised
/// as one at a glance.
pub const DEFAULT_REFRESH_TOKEN_PREFIX: &str = "refresh_";

/// Validated runtime settings.
///
/// Build them with [`Settings::builder`]; [`Settings::default`] carries knox's
/// defaults. A `#[knox_view]` argument overrides the matching setting for that
/// view only.
///
/// | knox setting | method | default |
/// | --- | --- | --- |
/// | `TOKEN_TTL` | [`token_ttl`](Self::token_ttl) | 10 hours (`None`: never expires) |
/// | `TOKEN_LIMIT_PER_USER` | [`token_limit_per_user`](Self::token_limit_per_user) | `None` (no limit) |
/// | `AUTO_REFRESH` | [`auto_refresh`](Self::auto_refresh) | `false` |
/// | `AUTO_REFRESH_MAX_TTL` | [`auto_refresh_max_ttl`](Self::auto_refresh_max_ttl) | `None` |
/// | `MIN_REFRESH_INTERVAL` | [`min_refresh_interval`](Self::min_refresh_interval) | 60 seconds |
/// | `AUTH_HEADER_PREFIX` | [`auth_header_prefix`](Self::auth_header_prefix) | `Token` |
/// | `TOKEN_PREFIX` | [`token_prefix`](Self::token_prefix) | empty |
/// | `AUTH_TOKEN_CHARACTER_LENGTH` | [`auth_token_character_length`](Self::auth_token_character_length) | 64 |
/// | `EXPIRY_DATETIME_FORMAT` | [`expiry_datetime_format`](Self::expiry_datetime_format) | `%Y-%m-%dT%H:%M:%S%.6fZ` |
/// | `ENABLE_REFRESH_TOKEN` | [`enable_refresh_token`](Self::enable_refresh_token) | `false` |
/// | `REFRESH_TOKEN_TTL` | [`refresh_token_ttl`](Self::refresh_token_ttl) | 30 days |
/// | `MIN_REFRESH_TOKEN_ISSUE_INTERVAL` | [`min_refresh_token_issue_interval`](Self::min_refresh_token_issue_interval) | 0 (no throttle) |
/// | `MAX_TOKEN_HISTORY` | [`max_token_history`](Self::max_token_history) | 10 |
/// | `REFRESH_TOKEN_REUSE_LEEWAY` | [`refresh_token_reuse_leeway`](Self::refresh_token_reuse_leeway) | `None` (off) |
/// | `REFRESH_TOKEN_PREFIX` | [`refresh_token_prefix`](Self::refresh_token_prefix) | `refresh_` |
/// | `AUTH_CACHE_TTL` (axum-knox only) | [`auth_cache_ttl`](Self::auth_cache_ttl) | `None` (no cache) |
///
/// `SECURE_HASH_ALGORITHM` is fixed to SHA-512 and `USER_SERIALIZER` is the
/// `serializer` argument of `#[knox_view]`.
#[derive(Clone, PartialEq, Eq)]
pub struct Settings {
    token_ttl: Option<Duration>,
    token_limit_per_user: Option<u32>,
    auto_refresh: bool,
    auto_refresh_max_ttl: Option<Duration>,
    min_refresh_interval: Duration,
    auth_header_prefix: String,
    token_prefix: String,
    auth_token_character_length: usize,
    expiry_datetime_format: String,
    enable_refresh_token: bool,
    refresh_token_ttl: Duration,
    min_refresh_token_issue_interval: Duration,
    max_token_history: u32,
    refresh_token_reuse_leeway: Option<Duration>,
    refresh_token_prefix: String,
    auth_cache_ttl: Option<Duration>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            token_ttl: Some(Duration::from_secs(10 * 60 * 60)),
            token_limit_per_user: None,
            auto_refresh: false,
            auto_refresh_max_ttl: None,
            min_refresh_interval: Duration::from_secs(60),
            auth_header_prefix: "Token".to_owned(),
            token_prefix: String::new(),
            auth_token_character_length: DEFAULT_TOKEN_CHARACTER_LENGTH,
            expiry_datetime_format: DEFAULT_EXPIRY_DATETIME_FORMAT.to_owned(),
            enable_refresh_token: false,
            refresh_token_ttl: Duration::from_secs(30 * 24 * 60 * 60),
            min_refresh_token_issue_interval: Duration::ZERO,
            max_token_history: 10,
            refresh_token_reuse_leeway: None,
            refresh_token_prefix: DEFAULT_REFRESH_TOKEN_PREFIX.to_owned(),
            auth_cache_ttl: None,
        }
    }
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // No field is secret; this lists them with knox's names for start-up logs.
        f.debug_struct("Settings")
            .field("TOKEN_TTL", &self.token_ttl)
            .field("TOKEN_LIMIT_PER_USER", &self.token_limit_per_user)
            .field("AUTO_REFRESH", &self.auto_refresh)
            .field("AUTO_REFRESH_MAX_TTL", &self.auto_refresh_max_ttl)
            .field("MIN_REFRESH_INTERVAL", &self.min_refresh_interval)
            .field("AUTH_HEADER_PREFIX", &self.auth_header_prefix)
            .field("TOKEN_PREFIX", &self.token_prefix)
            .field(
                "AUTH_TOKEN_CHARACTER_LENGTH",
                &self.auth_token_character_length,
            )
            .field("EXPIRY_DATETIME_FORMAT", &self.expiry_datetime_format)
            .field("ENABLE_REFRESH_TOKEN", &self.enable_refresh_token)
            .field("REFRESH_TOKEN_TTL", &self.refresh_token_ttl)
            .field(
                "MIN_REFRESH_TOKEN_ISSUE_INTERVAL",
                &self.min_refresh_token_issue_interval,
            )
            .field("MAX_TOKEN_HISTORY", &self.max_token_history)
            .field(
                "REFRESH_TOKEN_REUSE_LEEWAY",
                &self.refresh_token_reuse_leeway,
            )
            .field("REFRESH_TOKEN_PREFIX", &self.refresh_token_prefix)
            .field("AUTH_CACHE_TTL", &self.auth_cache_ttl)
            .finish()
    }
}

impl Settings {
    /// Starts a builder from knox's defaults.
    ///
    /// ```
    /// use std::time::Duration;
    /// use axum_knox::Settings;
    ///
    /// let settings = Settings::builder()
    ///     .token_ttl(Some(Duration::from_secs(3600)))
    ///     .token_limit_per_user(Some(5))
    ///     .token_prefix("kx_")
    ///     .build()
    ///     .expect("valid settings");
    /// assert_eq!(settings.token_limit_per_user(), Some(5));
    ///
    /// let error = Settings::builder().token_prefix("far_too_long_").build().unwrap_err();
    /// assert!(error.to_string().contains("at most 10 characters"));
    /// ```
    pub fn builder() -> SettingsBuilder {
        SettingsBuilder {
            settings: Settings::default(),
        }
    }

    /// How long a new token lives (`TOKEN_TTL`); `None` means it never expires.
    pub fn token_ttl(&self) -> Option<Duration> {
        self.token_ttl
    }

    /// Maximum number of live tokens per user (`TOKEN_LIMIT_PER_USER`).
    pub fn token_limit_per_user(&self) -> Option<u32> {
        self.token_limit_per_user
    }

    /// Whether each authenticated request slides the token's expiry (`AUTO_REFRESH`).
    pub fn auto_refresh(&self) -> bool {
        self.auto_refresh
    }

    /// Upper bound on a token's lifetime under auto-refresh, counted from its
    /// creation (`AUTO_REFRESH_MAX_TTL`).
    pub fn auto_refresh_max_ttl(&self) -> Option<Duration> {
        self.auto_refresh_max_ttl
    }

    /// Smallest move of the expiry that auto-refresh writes (`MIN_REFRESH_INTERVAL`).
    pub fn min_refresh_interval(&self) -> Duration {
        self.min_refresh_interval
    }

    /// Scheme word of the `Authorization` header (`AUTH_HEADER_PREFIX`).
    pub fn auth_header_prefix(&self) -> &str {
        &self.auth_header_prefix
    }

    /// Prefix of new tokens (`TOKEN_PREFIX`).
    pub fn token_prefix(&self) -> &str {
        &self.token_prefix
    }

    /// Number of random hex characters in a new token (`AUTH_TOKEN_CHARACTER_LENGTH`).
    pub fn auth_token_character_length(&self) -> usize {
        self.auth_token_character_length
    }

    /// chrono strftime format of `expiry` in login responses (`EXPIRY_DATETIME_FORMAT`).
    pub fn expiry_datetime_format(&self) -> &str {
        &self.expiry_datetime_format
    }

    /// Whether views without a `refresh` argument issue refresh tokens
    /// (`ENABLE_REFRESH_TOKEN`).
    pub fn enable_refresh_token(&self) -> bool {
        self.enable_refresh_token
    }

    /// Absolute lifetime of a refresh family, counted from login (`REFRESH_TOKEN_TTL`).
    pub fn refresh_token_ttl(&self) -> Duration {
        self.refresh_token_ttl
    }

    /// Minimum time between two refreshes of one family
    /// (`MIN_REFRESH_TOKEN_ISSUE_INTERVAL`); zero disables the throttle.
    pub fn min_refresh_token_issue_interval(&self) -> Duration {
        self.min_refresh_token_issue_interval
    }

    /// Number of superseded refresh tokens per family that keep their details
    /// (`MAX_TOKEN_HISTORY`). Replays of older ones are still detected.
    pub fn max_token_history(&self) -> u32 {
        self.max_token_history
    }

    /// How long the direct predecessor of a family's newest refresh token may
    /// be presented again, for retried requests (`REFRESH_TOKEN_REUSE_LEEWAY`).
    pub fn refresh_token_reuse_leeway(&self) -> Option<Duration> {
        self.refresh_token_reuse_leeway
    }

    /// Prefix of new refresh tokens (`REFRESH_TOKEN_PREFIX`).
    pub fn refresh_token_prefix(&self) -> &str {
        &self.refresh_token_prefix
    }

    /// How long this process may authenticate a token from memory
    /// (`AUTH_CACHE_TTL`, an axum-knox setting); `None` reads the store on
    /// every request, as knox does.
    ///
    /// Revocations made through this process take effect at once either way.
    /// A revocation made by another process, or a user deactivated without
    /// [`Knox::invalidate_user`](crate::Knox::invalidate_user), takes effect
    /// here within this TTL.
    pub fn auth_cache_ttl(&self) -> Option<Duration> {
        self.auth_cache_ttl
    }
}

/// Builder for [`Settings`]; [`build`](Self::build) validates every value.
#[derive(Debug, Clone)]
#[must_use]
pub struct SettingsBuilder {
    settings: Settings,
}

impl SettingsBuilder {
    /// Sets `TOKEN_TTL`; `None` issues tokens that never expire.
    pub fn token_ttl(mut self, ttl: Option<Duration>) -> Self {
        self.settings.token_ttl = ttl;
        self
    }

    /// Sets `TOKEN_LIMIT_PER_USER`; `None` removes the limit.
    pub fn token_limit_per_user(mut self, limit: Option<u32>) -> Self {
        self.settings.token_limit_per_user = limit;
        self
    }

    /// Sets `AUTO_REFRESH`.
    pub fn auto_refresh(mut self, enabled: bool) -> Self {
        self.settings.auto_refresh = enabled;
        self
    }

    /// Sets `AUTO_REFRESH_MAX_TTL`.
    pub fn auto_refresh_max_ttl(mut self, max_ttl: Option<Duration>) -> Self {
        self.settings.auto_refresh_max_ttl = max_ttl;
        self
    }

    /// Sets `MIN_REFRESH_INTERVAL`.
    pub fn min_refresh_interval(mut self, interval: Duration) -> Self {
        self.settings.min_refresh_interval = interval;
        self
    }

    /// Sets `AUTH_HEADER_PREFIX`, the scheme word clients send before the token.
    pub fn auth_header_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.settings.auth_header_prefix = prefix.into();
        self
    }

    /// Sets `TOKEN_PREFIX`.
    pub fn token_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.settings.token_prefix = prefix.into();
        self
    }

    /// Sets `AUTH_TOKEN_CHARACTER_LENGTH`.
    pub fn auth_token_character_length(mut self, length: usize) -> Self {
        self.settings.auth_token_character_length = length;
        self
    }

    /// Sets `EXPIRY_DATETIME_FORMAT`, a chrono strftime format.
    pub fn expiry_datetime_format(mut self, format: impl Into<String>) -> Self {
        self.settings.expiry_datetime_format = format.into();
        self
    }

    /// Sets `ENABLE_REFRESH_TOKEN`.
    pub fn enable_refresh_token(mut self, enabled: bool) -> Self {
        self.settings.enable_refresh_token = enabled;
        self
    }

    /// Sets `REFRESH_TOKEN_TTL`.
    pub fn refresh_token_ttl(mut self, ttl: Duration) -> Self {
        self.settings.refresh_token_ttl = ttl;
        self
    }

    /// Sets `MIN_REFRESH_TOKEN_ISSUE_INTERVAL`.
    pub fn min_refresh_token_issue_interval(mut self, interval: Duration) -> Self {
        self.settings.min_refresh_token_issue_interval = interval;
        self
    }

    /// Sets `MAX_TOKEN_HISTORY`.
    pub fn max_token_history(mut self, history: u32) -> Self {
        self.settings.max_token_history = history;
        self
    }

    /// Sets `REFRESH_TOKEN_REUSE_LEEWAY`; `None` turns the leeway off.
    pub fn refresh_token_reuse_leeway(mut self, leeway: Option<Duration>) -> Self {
        self.settings.refresh_token_reuse_leeway = leeway;
        self
    }

    /// Sets `REFRESH_TOKEN_PREFIX`.
    pub fn refresh_token_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.settings.refresh_token_prefix = prefix.into();
        self
    }

    /// Sets `AUTH_CACHE_TTL`; `None` turns the cache off.
    pub fn auth_cache_ttl(mut self, ttl: Option<Duration>) -> Self {
        self.settings.auth_cache_ttl = ttl;
        self
    }

    /// Validates the values and returns the settings.
    ///
    /// # Errors
    ///
    /// Returns the first [`SettingsError`] found, checking in the order of the
    /// variants.
    pub fn build(self) -> Result<Settings, SettingsError> {
        let settings = self.settings;

        validate_prefix("TOKEN_PREFIX", &settings.token_prefix)?;
        validate_header_prefix(&settings.auth_header_prefix)?;
        let length = settings.auth_token_character_length;
        if length == 0 || length % 2 != 0 || length > MAXIMUM_TOKEN_CHARACTER_LENGTH {
            return Err(SettingsError::InvalidCharacterLength { length });
        }
        if settings.token_ttl == Some(Duration::ZERO) {
            return Err(SettingsError::ZeroDuration {
                setting: "TOKEN_TTL",
            });
        }
        if settings.auth_cache_ttl == Some(Duration::ZERO) {
            return Err(SettingsError::ZeroDuration {
                setting: "AUTH_CACHE_TTL",
            });
        }
        if settings.auto_refresh_max_ttl == Some(Duration::ZERO) {
            return Err(SettingsError::ZeroDuration {
                setting: "AUTO_REFRESH_MAX_TTL",
            });
        }
        if !expiry::is_valid_format(&settings.expiry_datetime_format) {
            return Err(SettingsError::InvalidExpiryFormat {
                format: settings.expiry_datetime_format,
            });
        }
        if let (true, Some(ttl)) = (settings.auto_refresh, settings.token_ttl) {
            if settings.min_refresh_interval >= ttl {
                return Err(SettingsError::RefreshIntervalNotShorterThanTtl {
                    interval: settings.min_refresh_interval,
                    ttl,
                });
            }
        }

        validate_refresh(&settings)?;

        Ok(settings)
    }
}

/// Returns what `None` means for a duration setting that is zero, as a clause
/// of the error message, or nothing where `None` is not allowed.
fn zero_duration_hint(setting: &str) -> &'static str {
    match setting {
        "TOKEN_TTL" => "; use `None` for tokens that never expire",
        "AUTH_CACHE_TTL" => "; use `None` to turn the cache off",
        "AUTO_REFRESH_MAX_TTL" => "; use `None` for no limit",
        "REFRESH_TOKEN_REUSE_LEEWAY" => "; use `None` for no leeway",
        _ => "",
    }
}

/// Checks the refresh settings. A refresh family must outlive the access
/// tokens it renews, and renewing needs access tokens that expire.
fn validate_refresh(settings: &Settings) -> Result<(), SettingsError> {
    validate_prefix("REFRESH_TOKEN_PREFIX", &settings.refresh_token_prefix)?;
    if settings.refresh_token_ttl.is_zero() {
        return Err(SettingsError::ZeroDuration {
            setting: "REFRESH_TOKEN_TTL",
        });
    }
    if settings.refresh_token_reuse_leeway == Some(Duration::ZERO) {
        return Err(SettingsError::ZeroDuration {
            setting: "REFRESH_TOKEN_REUSE_LEEWAY",
        });
    }
    if settings.max_token_history == 0 {
        return Err(SettingsError::ZeroTokenHistory);
    }
    if settings.enable_refresh_token {
        match settings.token_ttl {
            None => return Err(SettingsError::RefreshWithoutTokenTtl),
            Some(ttl) if settings.refresh_token_ttl < ttl => {
                return Err(SettingsError::RefreshTtlShorterThanTokenTtl {
                    refresh_ttl: settings.refresh_token_ttl,
                    ttl,
                })
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// Largest accepted `AUTH_TOKEN_CHARACTER_LENGTH`: 512 random bits, well past
/// any need, keeps header parsing bounded.
pub const MAXIMUM_TOKEN_CHARACTER_LENGTH: usize = 128;

/// Checks a token prefix: at most 10 characters from `[A-Za-z0-9_-]`.
/// `setting` names it in the error.
pub(crate) fn validate_prefix(setting: &'static str, prefix: &str) -> Result<(), SettingsError> {
    let length = prefix.chars().count();
    if length > MAXIMUM_TOKEN_PREFIX_LENGTH {
        return Err(SettingsError::TokenPrefixTooLong { setting, length });
    }
    if let Some(character) = prefix
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '-'))
    {
        return Err(SettingsError::InvalidTokenPrefixCharacter { setting, character });
    }
    Ok(())
}

fn validate_header_prefix(prefix: &str) -> Result<(), SettingsError> {
    // An HTTP auth-scheme is an RFC 9110 token: visible ASCII without separators.
    let is_token_char = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if prefix.is_empty() || !prefix.chars().all(is_token_char) {
        return Err(SettingsError::InvalidHeaderPrefix {
            prefix: prefix.to_owned(),
        });
    }
    Ok(())
}

/// A setting value that [`SettingsBuilder::build`] rejects.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SettingsError {
    /// `TOKEN_PREFIX` or `REFRESH_TOKEN_PREFIX` is longer than 10 characters.
    #[error("{setting} must be at most 10 characters long, got {length}")]
    TokenPrefixTooLong {
        /// knox's name of the setting.
        setting: &'static str,
        /// Length of the rejected prefix in characters.
        length: usize,
    },
    /// A token prefix contains a character outside `[A-Za-z0-9_-]`.
    #[error("{setting} may contain only ASCII letters, digits, `_` and `-`, got {character:?}")]
    InvalidTokenPrefixCharacter {
        /// knox's name of the setting.
        setting: &'static str,
        /// The first rejected character.
        character: char,
    },
    /// `AUTH_HEADER_PREFIX` is empty or not a valid HTTP auth scheme.
    #[error(
        "AUTH_HEADER_PREFIX must be a non-empty HTTP auth scheme such as \"Token\", got {prefix:?}"
    )]
    InvalidHeaderPrefix {
        /// The rejected prefix.
        prefix: String,
    },
    /// `AUTH_TOKEN_CHARACTER_LENGTH` is zero, odd or above the maximum.
    #[error("AUTH_TOKEN_CHARACTER_LENGTH must be an even number from 2 to 128, got {length}")]
    InvalidCharacterLength {
        /// The rejected length.
        length: usize,
    },
    /// A duration setting is zero.
    #[error("{setting} must be longer than zero{}", zero_duration_hint(.setting))]
    ZeroDuration {
        /// knox's name of the setting.
        setting: &'static str,
    },
    /// `EXPIRY_DATETIME_FORMAT` is not a valid chrono strftime format.
    #[error("EXPIRY_DATETIME_FORMAT {format:?} is not a valid strftime format such as \"%Y-%m-%dT%H:%M:%S%.6fZ\"")]
    InvalidExpiryFormat {
        /// The rejected format.
        format: String,
    },
    /// `MAX_TOKEN_HISTORY` is zero.
    #[error("MAX_TOKEN_HISTORY must be at least 1")]
    ZeroTokenHistory,
    /// `ENABLE_REFRESH_TOKEN` is on but `TOKEN_TTL` is `None`.
    #[error("ENABLE_REFRESH_TOKEN needs a TOKEN_TTL: access tokens that never expire have nothing to refresh")]
    RefreshWithoutTokenTtl,
    /// `REFRESH_TOKEN_TTL` is shorter than `TOKEN_TTL`.
    #[error("REFRESH_TOKEN_TTL ({refresh_ttl:?}) must not be shorter than TOKEN_TTL ({ttl:?})")]
    RefreshTtlShorterThanTokenTtl {
        /// The configured refresh TTL.
        refresh_ttl: Duration,
        /// The configured access TTL.
        ttl: Duration,
    },
    /// With `AUTO_REFRESH`, `MIN_REFRESH_INTERVAL` is not shorter than
    /// `TOKEN_TTL`, so the expiry would never slide.
    #[error("MIN_REFRESH_INTERVAL ({interval:?}) must be shorter than TOKEN_TTL ({ttl:?}) when AUTO_REFRESH is on")]
    RefreshIntervalNotShorterThanTtl {
        /// The configured interval.
        interval: Duration,
        /// The configured TTL.
        ttl: Duration,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_knox() {
        let settings = Settings::default();
        assert_eq!(settings.token_ttl(), Some(Duration::from_secs(36_000)));
        assert_eq!(settings.token_limit_per_user(), None);
        assert!(!settings.auto_refresh());
        assert_eq!(settings.auto_refresh_max_ttl(), None);
        assert_eq!(settings.min_refresh_interval(), Duration::from_secs(60));
        assert_eq!(settings.auth_header_prefix(), "Token");
        assert_eq!(settings.token_prefix(), "");
        assert_eq!(settings.auth_token_character_length(), 64);
        assert_eq!(settings.expiry_datetime_format(), "%Y-%m-%dT%H:%M:%S%.6fZ");
        assert_eq!(Settings::builder().build(), Ok(settings));
    }

    #[test]
    fn prefix_too_long_rejected() {
        let error = Settings::builder()
            .token_prefix("abcdefghijk")
            .build()
            .unwrap_err();
        assert_eq!(
            error,
            SettingsError::TokenPrefixTooLong {
                setting: "TOKEN_PREFIX",
                length: 11
            }
        );
        assert!(Settings::builder()
            .token_prefix("abcdefghij")
            .build()
            .is_ok());
    }

    #[test]
    fn prefix_with_space_rejected() {
        let error = Settings::builder().token_prefix("a b").build().unwrap_err();
        assert_eq!(
            error,
            SettingsError::InvalidTokenPrefixCharacter {
                setting: "TOKEN_PREFIX",
                character: ' '
            }
        );
    }

    #[test]
    fn character_length_rejected() {
        for length in [0, 3, 130] {
            let error = Settings::builder()
                .auth_token_character_length(length)
                .build()
                .unwrap_err();
            assert_eq!(error, SettingsError::InvalidCharacterLength { length });
        }
    }

    #[test]
    fn zero_ttl_rejected() {
        let error = Settings::builder()
            .token_ttl(Some(Duration::ZERO))
            .build()
            .unwrap_err();
        assert!(error.to_string().contains("TOKEN_TTL"));
    }

    #[test]
    fn zero_duration_says_what_none_means() {
        let cache = Settings::builder()
            .auth_cache_ttl(Some(Duration::ZERO))
            .build()
            .unwrap_err();
        assert_eq!(
            cache.to_string(),
            "AUTH_CACHE_TTL must be longer than zero; use `None` to turn the cache off"
        );

        let ttl = Settings::builder()
            .token_ttl(Some(Duration::ZERO))
            .build()
            .unwrap_err();
        assert_eq!(
            ttl.to_string(),
            "TOKEN_TTL must be longer than zero; use `None` for tokens that never expire"
        );
    }

    #[test]
    fn bad_expiry_format_rejected() {
        let error = Settings::builder()
            .expiry_datetime_format("%Q")
            .build()
            .unwrap_err();
        assert!(matches!(error, SettingsError::InvalidExpiryFormat { .. }));
    }

    #[test]
    fn header_prefix_rejected() {
        for prefix in ["", "To ken", "Tök"] {
            let error = Settings::builder()
                .auth_header_prefix(prefix)
                .build()
                .unwrap_err();
            assert!(matches!(error, SettingsError::InvalidHeaderPrefix { .. }));
        }
    }

    #[test]
    fn refresh_settings_validated() {
        let shorter = Settings::builder()
            .enable_refresh_token(true)
            .refresh_token_ttl(Duration::from_secs(60))
            .build()
            .unwrap_err();
        assert!(matches!(
            shorter,
            SettingsError::RefreshTtlShorterThanTokenTtl { .. }
        ));
        let never = Settings::builder()
            .enable_refresh_token(true)
            .token_ttl(None)
            .build()
            .unwrap_err();
        assert_eq!(never, SettingsError::RefreshWithoutTokenTtl);
        let history = Settings::builder()
            .max_token_history(0)
            .build()
            .unwrap_err();
        assert_eq!(history, SettingsError::ZeroTokenHistory);
        let prefix = Settings::builder()
            .refresh_token_prefix("rt x")
            .build()
            .unwrap_err();
        assert!(matches!(
            prefix,
            SettingsError::InvalidTokenPrefixCharacter { .. }
        ));
        assert_eq!(Settings::default().refresh_token_prefix(), "refresh_");
    }

    #[test]
    fn refresh_interval_must_be_shorter_than_ttl() {
        let error = Settings::builder()
            .auto_refresh(true)
            .token_ttl(Some(Duration::from_secs(60)))
            .min_refresh_interval(Duration::from_secs(60))
            .build()
            .unwrap_err();
        assert!(matches!(
            error,
            SettingsError::RefreshIntervalNotShorterThanTtl { .. }
        ));
        let without_auto_refresh = Settings::builder()
            .token_ttl(Some(Duration::from_secs(60)))
            .min_refresh_interval(Duration::from_secs(60))
            .build();
        assert!(without_auto_refresh.is_ok());
    }
}
