//! Settings from a TOML file and `KNOX_*` environment variables.
//!
//! Both sources use knox's setting names: `TOKEN_TTL` in a file (or its
//! lower-case form `token_ttl`), `KNOX_TOKEN_TTL` in the environment. The
//! environment overrides the file, and a `#[knox_view]` argument overrides both
//! for its view.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use super::{Settings, SettingsBuilder, SettingsError};

/// Prefix of the environment variables read by [`SettingsLoader`].
pub const ENV_PREFIX: &str = "KNOX_";

/// The variable that names a settings file for [`SettingsLoader::process_env`].
pub const CONFIG_VARIABLE: &str = "KNOX_CONFIG";

const DURATION: &str = "a duration such as \"90s\", \"10h\" or \"30d\"";
const DURATION_OR_NONE: &str = "a duration such as \"90s\", \"10h\" or \"30d\", or \"none\"";
const BOOLEAN: &str = "true or false";
const COUNT_OR_NONE: &str = "a whole number of at least 1, or \"none\"";
const COUNT: &str = "a whole number of at least 1";

/// Every setting name the loaders accept, in knox's spelling.
pub const SETTING_NAMES: &[&str] = &[
    "TOKEN_TTL",
    "TOKEN_LIMIT_PER_USER",
    "AUTO_REFRESH",
    "AUTO_REFRESH_MAX_TTL",
    "MIN_REFRESH_INTERVAL",
    "AUTH_HEADER_PREFIX",
    "TOKEN_PREFIX",
    "AUTH_TOKEN_CHARACTER_LENGTH",
    "EXPIRY_DATETIME_FORMAT",
    "ENABLE_REFRESH_TOKEN",
    "REFRESH_TOKEN_TTL",
    "MIN_REFRESH_TOKEN_ISSUE_INTERVAL",
    "MAX_TOKEN_HISTORY",
    "REFRESH_TOKEN_REUSE_LEEWAY",
    "REFRESH_TOKEN_PREFIX",
    "AUTH_CACHE_TTL",
];

/// The source of a setting value, for error messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// An environment variable, such as `KNOX_TOKEN_TTL`.
    Env(String),
    /// A key of a settings file or a deserialized map.
    Key(String),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Env(name) => write!(f, "{name}"),
            Origin::Key(name) => write!(f, "setting `{name}`"),
        }
    }
}

/// One problem found while loading settings.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LoadProblem {
    /// A value that does not parse.
    InvalidValue {
        /// The variable or key.
        origin: Origin,
        /// The value as given.
        value: String,
        /// The expected form.
        expected: &'static str,
    },
    /// A `KNOX_*` variable or a file key that names no setting.
    Unknown {
        /// The variable or key.
        origin: Origin,
        /// The closest valid name, if one is close.
        suggestion: Option<String>,
    },
    /// The settings file could not be read or parsed.
    File {
        /// Path of the file.
        path: PathBuf,
        /// The reason, such as the I/O or TOML error.
        reason: String,
    },
    /// The values parse but do not fit together, such as a prefix too long.
    Invalid(SettingsError),
}

impl fmt::Display for LoadProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadProblem::InvalidValue {
                origin: Origin::Env(name),
                value,
                expected,
            } => write!(f, "{name}={value:?}: expected {expected}"),
            LoadProblem::InvalidValue {
                origin: Origin::Key(key),
                value,
                expected,
            } => write!(f, "{key} = {value:?}: expected {expected}"),
            LoadProblem::Unknown { origin, suggestion } => {
                write!(f, "unknown {origin}")?;
                match suggestion {
                    Some(suggestion) => write!(f, "; did you mean {suggestion}?"),
                    None => Ok(()),
                }
            }
            LoadProblem::File { path, reason } => {
                write!(f, "cannot load settings file {}: {reason}", path.display())
            }
            LoadProblem::Invalid(error) => write!(f, "{error}"),
        }
    }
}

/// Every problem found while loading settings, one per line in `Display`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct LoadError {
    problems: Vec<LoadProblem>,
}

impl LoadError {
    /// Returns the problems, in the order they were found.
    pub fn problems(&self) -> &[LoadProblem] {
        &self.problems
    }
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, problem) in self.problems.iter().enumerate() {
            if index > 0 {
                writeln!(f)?;
            }
            write!(f, "{problem}")?;
        }
        Ok(())
    }
}

/// Builds [`Settings`] from defaults, an optional TOML file and environment
/// variables, in that order of precedence (later wins).
///
/// ```
/// use axum_knox::settings::SettingsLoader;
///
/// let settings = SettingsLoader::new()
///     .toml("TOKEN_TTL = \"2h\"\nTOKEN_LIMIT_PER_USER = 3")
///     .env_vars([("KNOX_TOKEN_TTL", "90s")])
///     .load()
///     .expect("valid settings");
/// assert_eq!(settings.token_ttl(), Some(std::time::Duration::from_secs(90)));
/// assert_eq!(settings.token_limit_per_user(), Some(3));
///
/// let error = SettingsLoader::new()
///     .env_vars([("KNOX_TOKEN_TTL", "10 hours")])
///     .load()
///     .unwrap_err();
/// assert_eq!(
///     error.to_string(),
///     r#"KNOX_TOKEN_TTL="10 hours": expected a duration such as "90s", "10h" or "30d", or "none""#
/// );
/// ```
#[derive(Debug, Default)]
#[must_use]
pub struct SettingsLoader {
    base: Option<SettingsBuilder>,
    file: Option<FileSource>,
    env: Vec<(String, String)>,
    allowed_env: Vec<String>,
}

#[derive(Debug)]
enum FileSource {
    Path(PathBuf),
    Text(String),
}

impl SettingsLoader {
    /// Starts from knox's defaults with no sources.
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts from `base` instead of knox's defaults; files and variables still override it.
    pub fn base(mut self, base: SettingsBuilder) -> Self {
        self.base = Some(base);
        self
    }

    /// Reads settings from the TOML file at `path`.
    pub fn file(mut self, path: impl Into<PathBuf>) -> Self {
        self.file = Some(FileSource::Path(path.into()));
        self
    }

    /// Reads settings from TOML text.
    pub fn toml(mut self, text: impl Into<String>) -> Self {
        self.file = Some(FileSource::Text(text.into()));
        self
    }

    /// Reads `KNOX_*` variables from `vars`; other names are ignored.
    pub fn env_vars<K, V>(mut self, vars: impl IntoIterator<Item = (K, V)>) -> Self
    where
        K: Into<String>,
        V: Into<String>,
    {
        self.env.extend(
            vars.into_iter()
                .map(|(key, value)| (key.into(), value.into())),
        );
        self
    }

    /// Reads `KNOX_*` variables of this process, and the file named by
    /// `KNOX_CONFIG` if it is set and no file was given.
    ///
    /// A variable that is not valid Unicode is reported as an invalid value.
    pub fn process_env(mut self) -> Self {
        let vars: Vec<(String, String)> = std::env::vars_os()
            .filter_map(|(key, value)| {
                let key = key.into_string().ok()?;
                let value = value
                    .into_string()
                    .unwrap_or_else(|raw| raw.to_string_lossy().into_owned());
                Some((key, value))
            })
            .collect();
        if self.file.is_none() {
            if let Some((_, path)) = vars.iter().find(|(key, _)| key == CONFIG_VARIABLE) {
                self.file = Some(FileSource::Path(PathBuf::from(path)));
            }
        }
        self.env_vars(vars)
    }

    /// Accepts `name`, a `KNOX_*` variable of the application, without
    /// reporting it as unknown.
    pub fn allow_env(mut self, name: impl Into<String>) -> Self {
        self.allowed_env.push(name.into());
        self
    }

    /// Applies the sources and validates the result.
    ///
    /// # Errors
    ///
    /// A [`LoadError`] listing every invalid value, unknown name and file
    /// problem; or the [`SettingsError`] of the combined values.
    pub fn load(self) -> Result<Settings, LoadError> {
        let mut builder = self.base.unwrap_or_else(Settings::builder);
        let mut problems = Vec::new();

        match &self.file {
            Some(FileSource::Path(path)) => match read_file(path) {
                Ok(values) => builder = apply_map(builder, values, &mut problems),
                Err(problem) => problems.push(problem),
            },
            Some(FileSource::Text(text)) => match parse_toml(text) {
                Ok(values) => builder = apply_map(builder, values, &mut problems),
                Err(reason) => problems.push(LoadProblem::File {
                    path: PathBuf::from("<inline>"),
                    reason,
                }),
            },
            None => {}
        }

        let mut env = self.env;
        env.sort();
        for (variable, value) in env {
            let Some(name) = variable.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            if variable == CONFIG_VARIABLE || self.allowed_env.contains(&variable) {
                continue;
            }
            let origin = Origin::Env(variable.clone());
            if !SETTING_NAMES.contains(&name) {
                let suggestion =
                    closest(name, SETTING_NAMES).map(|name| format!("{ENV_PREFIX}{name}"));
                problems.push(LoadProblem::Unknown { origin, suggestion });
                continue;
            }
            builder = apply(builder, name, &value, origin, &mut problems);
        }

        if !problems.is_empty() {
            return Err(LoadError { problems });
        }
        builder.build().map_err(|error| LoadError {
            problems: vec![LoadProblem::Invalid(error)],
        })
    }
}

/// A scalar value of a settings file: TOML strings, integers, floats and booleans.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
enum Scalar {
    Bool(bool),
    Integer(i64),
    Float(f64),
    Text(String),
}

impl Scalar {
    fn into_text(self) -> String {
        match self {
            Scalar::Bool(value) => value.to_string(),
            Scalar::Integer(value) => value.to_string(),
            Scalar::Float(value) => value.to_string(),
            Scalar::Text(value) => value,
        }
    }
}

fn read_file(path: &Path) -> Result<BTreeMap<String, Scalar>, LoadProblem> {
    let text = std::fs::read_to_string(path).map_err(|error| LoadProblem::File {
        path: path.to_owned(),
        reason: error.to_string(),
    })?;
    parse_toml(&text).map_err(|reason| LoadProblem::File {
        path: path.to_owned(),
        reason,
    })
}

fn parse_toml(text: &str) -> Result<BTreeMap<String, Scalar>, String> {
    toml::from_str(text).map_err(|error| error.message().to_owned())
}

fn apply_map(
    mut builder: SettingsBuilder,
    values: BTreeMap<String, Scalar>,
    problems: &mut Vec<LoadProblem>,
) -> SettingsBuilder {
    for (key, value) in values {
        let name = key.to_ascii_uppercase();
        let origin = Origin::Key(key.clone());
        if !SETTING_NAMES.contains(&name.as_str()) {
            let suggestion = closest(&name, SETTING_NAMES).map(str::to_owned);
            problems.push(LoadProblem::Unknown { origin, suggestion });
            continue;
        }
        builder = apply(builder, &name, &value.into_text(), origin, problems);
    }
    builder
}

/// Parses `value` for the setting `name` and sets it, or records the problem.
fn apply(
    builder: SettingsBuilder,
    name: &str,
    value: &str,
    origin: Origin,
    problems: &mut Vec<LoadProblem>,
) -> SettingsBuilder {
    let text = value.trim();
    let unchanged = builder.clone();
    let result = match name {
        "TOKEN_TTL" => parse_optional_duration(text).map(|ttl| builder.token_ttl(ttl)),
        "TOKEN_LIMIT_PER_USER" => {
            parse_optional_count(text).map(|limit| builder.token_limit_per_user(limit))
        }
        "AUTO_REFRESH" => parse_bool(text).map(|enabled| builder.auto_refresh(enabled)),
        "AUTO_REFRESH_MAX_TTL" => {
            parse_optional_duration(text).map(|ttl| builder.auto_refresh_max_ttl(ttl))
        }
        "MIN_REFRESH_INTERVAL" => {
            parse_duration(text).map(|interval| builder.min_refresh_interval(interval))
        }
        "AUTH_HEADER_PREFIX" => Ok(builder.auth_header_prefix(text)),
        "TOKEN_PREFIX" => Ok(builder.token_prefix(value)),
        "AUTH_TOKEN_CHARACTER_LENGTH" => {
            parse_count(text).map(|length| builder.auth_token_character_length(length as usize))
        }
        "EXPIRY_DATETIME_FORMAT" => Ok(builder.expiry_datetime_format(value)),
        "ENABLE_REFRESH_TOKEN" => {
            parse_bool(text).map(|enabled| builder.enable_refresh_token(enabled))
        }
        "REFRESH_TOKEN_TTL" => parse_duration(text).map(|ttl| builder.refresh_token_ttl(ttl)),
        "MIN_REFRESH_TOKEN_ISSUE_INTERVAL" => {
            parse_duration(text).map(|interval| builder.min_refresh_token_issue_interval(interval))
        }
        "MAX_TOKEN_HISTORY" => parse_count(text).map(|history| builder.max_token_history(history)),
        "REFRESH_TOKEN_REUSE_LEEWAY" => {
            parse_optional_duration(text).map(|leeway| builder.refresh_token_reuse_leeway(leeway))
        }
        "REFRESH_TOKEN_PREFIX" => Ok(builder.refresh_token_prefix(value)),
        "AUTH_CACHE_TTL" => parse_optional_duration(text).map(|ttl| builder.auth_cache_ttl(ttl)),
        _ => unreachable!("every name in SETTING_NAMES has a parser"),
    };
    match result {
        Ok(builder) => builder,
        Err(expected) => {
            // Loading goes on with the value unset, so every problem is reported at once.
            problems.push(LoadProblem::InvalidValue {
                origin,
                value: value.to_owned(),
                expected,
            });
            unchanged
        }
    }
}

/// A parsed value, or the expected form of the value.
type Parsed<T> = Result<T, &'static str>;

/// Returns the candidate closest to `input`, if it is close enough to be a typo.
fn closest<'a>(input: &str, candidates: &[&'a str]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|candidate| (strsim::jaro_winkler(input, candidate), *candidate))
        .filter(|(similarity, _)| *similarity >= 0.85)
        .max_by(|left, right| left.0.total_cmp(&right.0))
        .map(|(_, candidate)| candidate)
}

impl<'de> Deserialize<'de> for Settings {
    /// Reads a map of knox's setting names (upper or lower case) to values,
    /// from any serde format, and validates the result.
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;

        let values = BTreeMap::<String, Scalar>::deserialize(deserializer)?;
        let mut problems = Vec::new();
        let builder = apply_map(Settings::builder(), values, &mut problems);
        if !problems.is_empty() {
            return Err(D::Error::custom(LoadError { problems }));
        }
        builder.build().map_err(D::Error::custom)
    }
}

fn parse_duration_text(text: &str) -> Option<Duration> {
    // A bare number is seconds, as knox's MIN_REFRESH_INTERVAL is.
    if let Ok(seconds) = text.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    // The unit follows its number directly ("10h", "1h 30m"), as in the
    // `#[knox_view]` attribute, so "10 hours" is rejected, not read as 10 hours.
    if has_spaced_unit(text) {
        return None;
    }
    let duration = humantime::parse_duration(text).ok()?;
    // Times are added to timestamps with chrono, whose span ends near 292 million years.
    chrono::TimeDelta::from_std(duration).ok()?;
    Some(duration)
}

/// Returns whether a digit in `text` is followed by whitespace.
pub(crate) fn has_spaced_unit(text: &str) -> bool {
    text.as_bytes()
        .windows(2)
        .any(|pair| pair[0].is_ascii_digit() && pair[1].is_ascii_whitespace())
}

fn parse_duration(text: &str) -> Parsed<Duration> {
    parse_duration_text(text).ok_or(DURATION)
}

fn parse_optional_duration(text: &str) -> Parsed<Option<Duration>> {
    if text.eq_ignore_ascii_case("none") {
        return Ok(None);
    }
    parse_duration_text(text).map(Some).ok_or(DURATION_OR_NONE)
}

fn parse_bool(text: &str) -> Parsed<bool> {
    match text.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(BOOLEAN),
    }
}

fn parse_count(text: &str) -> Parsed<u32> {
    match text.parse::<u32>() {
        Ok(count) if count >= 1 => Ok(count),
        _ => Err(COUNT),
    }
}

fn parse_optional_count(text: &str) -> Parsed<Option<u32>> {
    if text.eq_ignore_ascii_case("none") {
        return Ok(None);
    }
    parse_count(text).map(Some).map_err(|_| COUNT_OR_NONE)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_env(vars: &[(&str, &str)]) -> Result<Settings, LoadError> {
        SettingsLoader::new().env_vars(vars.iter().copied()).load()
    }

    #[test]
    fn every_variable_applies() {
        let settings = load_env(&[
            ("KNOX_TOKEN_TTL", "2s"),
            ("KNOX_TOKEN_LIMIT_PER_USER", "1"),
            ("KNOX_AUTO_REFRESH", "true"),
            ("KNOX_AUTO_REFRESH_MAX_TTL", "1d"),
            ("KNOX_MIN_REFRESH_INTERVAL", "1"),
            ("KNOX_AUTH_HEADER_PREFIX", "Bearer"),
            ("KNOX_TOKEN_PREFIX", "kx_"),
            ("KNOX_AUTH_TOKEN_CHARACTER_LENGTH", "32"),
            ("KNOX_EXPIRY_DATETIME_FORMAT", "%Y-%m-%d"),
            ("KNOX_ENABLE_REFRESH_TOKEN", "1"),
            ("KNOX_REFRESH_TOKEN_TTL", "30d"),
            ("KNOX_MIN_REFRESH_TOKEN_ISSUE_INTERVAL", "5s"),
            ("KNOX_MAX_TOKEN_HISTORY", "4"),
            ("KNOX_REFRESH_TOKEN_REUSE_LEEWAY", "3s"),
            ("KNOX_REFRESH_TOKEN_PREFIX", "rt_"),
            ("KNOX_AUTH_CACHE_TTL", "1s"),
            ("PATH", "/usr/bin"),
        ])
        .unwrap();
        assert_eq!(settings.token_ttl(), Some(Duration::from_secs(2)));
        assert_eq!(settings.token_limit_per_user(), Some(1));
        assert!(settings.auto_refresh());
        assert_eq!(
            settings.auto_refresh_max_ttl(),
            Some(Duration::from_secs(86_400))
        );
        assert_eq!(settings.min_refresh_interval(), Duration::from_secs(1));
        assert_eq!(settings.auth_header_prefix(), "Bearer");
        assert_eq!(settings.token_prefix(), "kx_");
        assert_eq!(settings.auth_token_character_length(), 32);
        assert_eq!(settings.expiry_datetime_format(), "%Y-%m-%d");
        assert!(settings.enable_refresh_token());
        assert_eq!(
            settings.refresh_token_ttl(),
            Duration::from_secs(30 * 86_400)
        );
        assert_eq!(
            settings.min_refresh_token_issue_interval(),
            Duration::from_secs(5)
        );
        assert_eq!(settings.max_token_history(), 4);
        assert_eq!(
            settings.refresh_token_reuse_leeway(),
            Some(Duration::from_secs(3))
        );
        assert_eq!(settings.refresh_token_prefix(), "rt_");
        assert_eq!(settings.auth_cache_ttl(), Some(Duration::from_secs(1)));
    }

    #[test]
    fn duration_forms() {
        assert_eq!(parse_duration("1h 30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(
            parse_duration("2weeks"),
            Ok(Duration::from_secs(14 * 86_400))
        );
        assert!(parse_duration("10 hours").is_err());
        assert!(parse_duration("-5s").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn none_values() {
        let settings = load_env(&[
            ("KNOX_TOKEN_TTL", "none"),
            ("KNOX_TOKEN_LIMIT_PER_USER", "None"),
        ])
        .unwrap();
        assert_eq!(settings.token_ttl(), None);
        assert_eq!(settings.token_limit_per_user(), None);
    }

    #[test]
    fn invalid_values_name_variable_value_and_form() {
        let error = load_env(&[
            ("KNOX_TOKEN_TTL", "10 hours"),
            ("KNOX_AUTO_REFRESH", "maybe"),
            ("KNOX_TOKEN_LIMIT_PER_USER", "0"),
            ("KNOX_MIN_REFRESH_INTERVAL", "none"),
        ])
        .unwrap_err();
        let lines: Vec<String> = error.to_string().lines().map(str::to_owned).collect();
        assert_eq!(
            lines,
            [
                r#"KNOX_AUTO_REFRESH="maybe": expected true or false"#,
                r#"KNOX_MIN_REFRESH_INTERVAL="none": expected a duration such as "90s", "10h" or "30d""#,
                r#"KNOX_TOKEN_LIMIT_PER_USER="0": expected a whole number of at least 1, or "none""#,
                r#"KNOX_TOKEN_TTL="10 hours": expected a duration such as "90s", "10h" or "30d", or "none""#,
            ]
        );
    }

    #[test]
    fn unknown_variable_suggests_closest() {
        let error = load_env(&[("KNOX_TOKEN_TLL", "1h"), ("KNOX_COLOUR", "blue")]).unwrap_err();
        assert_eq!(
            error.to_string(),
            "unknown KNOX_COLOUR\nunknown KNOX_TOKEN_TLL; did you mean KNOX_TOKEN_TTL?"
        );
    }

    #[test]
    fn allowed_variables_pass() {
        let settings = SettingsLoader::new()
            .env_vars([("KNOX_REFRESH", "1"), ("KNOX_CONFIG", "/nonexistent")])
            .allow_env("KNOX_REFRESH")
            .load();
        assert!(settings.is_ok());
    }

    #[test]
    fn env_overrides_file() {
        let settings = SettingsLoader::new()
            .toml("token_ttl = \"1h\"\nTOKEN_PREFIX = \"file_\"\nAUTO_REFRESH = true")
            .env_vars([("KNOX_TOKEN_TTL", "5m")])
            .load()
            .unwrap();
        assert_eq!(settings.token_ttl(), Some(Duration::from_secs(300)));
        assert_eq!(settings.token_prefix(), "file_");
        assert!(settings.auto_refresh());
    }

    #[test]
    fn unknown_file_key_suggests_closest() {
        let error = SettingsLoader::new()
            .toml("TOKEN_LIMIT_PER_USR = 3")
            .load()
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "unknown setting `TOKEN_LIMIT_PER_USR`; did you mean TOKEN_LIMIT_PER_USER?"
        );
    }

    #[test]
    fn file_values_checked() {
        let error = SettingsLoader::new()
            .toml("TOKEN_TTL = 10\nAUTO_REFRESH = \"sometimes\"")
            .load()
            .unwrap_err();
        assert_eq!(error.problems().len(), 1, "{error}");
        assert_eq!(
            error.to_string(),
            r#"AUTO_REFRESH = "sometimes": expected true or false"#
        );
    }

    #[test]
    fn missing_file_reported() {
        let error = SettingsLoader::new()
            .file("/nonexistent/knox.toml")
            .load()
            .unwrap_err();
        assert!(error
            .to_string()
            .starts_with("cannot load settings file /nonexistent/knox.toml"));
    }

    #[test]
    fn combined_values_validated() {
        let error = load_env(&[("KNOX_TOKEN_PREFIX", "much_too_long_")]).unwrap_err();
        assert_eq!(
            error.to_string(),
            "TOKEN_PREFIX must be at most 10 characters long, got 14"
        );
    }

    #[test]
    fn deserializes_with_serde() {
        let settings: Settings =
            toml::from_str("TOKEN_TTL = \"none\"\nMAX_TOKEN_HISTORY = 2").unwrap();
        assert_eq!(settings.token_ttl(), None);
        assert_eq!(settings.max_token_history(), 2);
        let error = toml::from_str::<Settings>("TOKEN_TTL = \"soon\"").unwrap_err();
        assert!(
            error.to_string().contains("TOKEN_TTL = \"soon\""),
            "{error}"
        );
    }
}
