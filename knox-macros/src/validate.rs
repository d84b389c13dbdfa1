//! Validation of raw arguments into a [`ViewConfig`], collecting every error
//! of the attribute instead of stopping at the first.

use std::time::Duration;

use proc_macro2::Span;
use syn::{Ident, Type};

use crate::args::{RawArg, RawArgs, RawValue};
use crate::errors::Errors;
use crate::suggest::closest;
use crate::values::{
    parse_duration_literal, parse_expiry_format, parse_positive_duration, parse_positive_integer,
    parse_prefix, parse_token_limit, parse_ttl, parse_type, value_tokens, Ttl,
};

/// Every argument name the attribute accepts.
const KEYS: &[&str] = &[
    "ttl",
    "token_limit",
    "serializer",
    "expiry_format",
    "prefix",
    "user",
    "custom_hooks",
    "refresh",
];

/// Every key accepted inside `refresh(...)`.
const REFRESH_KEYS: &[&str] = &["ttl", "min_issue_interval", "max_history", "reuse_leeway"];

/// knox setting names, in lowercase, that a knox user may write in place of
/// the argument that replaces them.
const KNOX_SETTING_KEYS: &[(&str, &str)] = &[
    ("token_ttl", "ttl"),
    ("token_limit_per_user", "token_limit"),
    ("user_serializer", "serializer"),
    ("expiry_datetime_format", "expiry_format"),
    ("token_prefix", "prefix"),
    ("enable_refresh_token", "refresh"),
];

/// knox setting names inside `refresh(...)`, as in [`KNOX_SETTING_KEYS`].
const KNOX_REFRESH_SETTING_KEYS: &[(&str, &str)] = &[
    ("refresh_token_ttl", "ttl"),
    ("min_refresh_token_issue_interval", "min_issue_interval"),
    ("max_token_history", "max_history"),
    ("refresh_token_reuse_leeway", "reuse_leeway"),
];

/// The validated arguments of one `#[knox_view]`. An absent or invalid
/// argument is `None`.
#[derive(Default)]
pub(crate) struct ViewConfig {
    pub(crate) ttl: Option<Ttl>,
    pub(crate) token_limit: Option<u32>,
    pub(crate) serializer: Option<Type>,
    pub(crate) expiry_format: Option<String>,
    pub(crate) prefix: Option<String>,
    pub(crate) user: Option<Type>,
    pub(crate) custom_hooks: Option<Ident>,
    pub(crate) refresh: Option<RefreshConfig>,
}

/// The validated `refresh(...)` argument: refresh tokens are on for the view,
/// and each absent key falls back to the runtime settings.
pub(crate) struct RefreshConfig {
    /// The `refresh` key, for errors about the argument as a whole.
    pub(crate) key_span: Span,
    /// The refresh TTL and the span of its literal.
    pub(crate) ttl: Option<(Duration, Span)>,
    pub(crate) min_issue_interval: Option<Duration>,
    pub(crate) max_history: Option<u32>,
    pub(crate) reuse_leeway: Option<Duration>,
}

/// Checks every argument and returns the configuration of the valid ones,
/// recording an error in `errors` for each invalid one.
pub(crate) fn validate(args: RawArgs, errors: &mut Errors) -> ViewConfig {
    let mut config = ViewConfig::default();
    let mut seen: Vec<String> = Vec::new();

    for arg in args.0 {
        let key = arg.key.to_string();
        if seen.contains(&key) && KEYS.contains(&key.as_str()) {
            errors.push_at(arg.key.span(), duplicate_key_message(&key));
            continue;
        }
        seen.push(key.clone());

        match key.as_str() {
            "ttl" => {
                config.ttl = value_tokens(&arg, errors, "ttl = \"10h\"")
                    .and_then(|tokens| parse_ttl(tokens, errors))
            }
            "token_limit" => {
                config.token_limit = value_tokens(&arg, errors, "token_limit = 5")
                    .and_then(|tokens| parse_token_limit(tokens, errors))
            }
            "serializer" => {
                config.serializer = value_tokens(&arg, errors, "serializer = PublicUser")
                    .and_then(|tokens| parse_type(tokens, "serializer", "PublicUser", errors))
            }
            "user" => {
                config.user = value_tokens(&arg, errors, "user = MyUser")
                    .and_then(|tokens| parse_type(tokens, "user", "MyUser", errors))
            }
            "expiry_format" => {
                config.expiry_format =
                    value_tokens(&arg, errors, "expiry_format = \"%Y-%m-%d %H:%M\"")
                        .and_then(|tokens| parse_expiry_format(tokens, errors))
            }
            "prefix" => {
                config.prefix = value_tokens(&arg, errors, "prefix = \"kx_\"")
                    .and_then(|tokens| parse_prefix(tokens, errors))
            }
            "custom_hooks" => {
                if !matches!(arg.value, RawValue::Flag) {
                    errors.push_spanned(
                        arg.value_or_key(),
                        "`custom_hooks` takes no value; write `custom_hooks` alone",
                    );
                }
                // Kept even with a value, so the expansion leaves the user's
                // `impl KnoxHooks` alone and adds no conflicting one.
                config.custom_hooks = Some(arg.key.clone());
            }
            "refresh" => config.refresh = parse_refresh(&arg, errors),
            _ => errors.push_at(
                arg.key.span(),
                unknown_key_message("argument", &key, KEYS, KNOX_SETTING_KEYS),
            ),
        }
    }

    check_refresh_ttl(&config, errors);
    config
}

// refresh | refresh(ttl = "30d", min_issue_interval = "1s", max_history = 10, reuse_leeway = "5s")
fn parse_refresh(arg: &RawArg, errors: &mut Errors) -> Option<RefreshConfig> {
    let mut refresh = RefreshConfig {
        key_span: arg.key.span(),
        ttl: None,
        min_issue_interval: None,
        max_history: None,
        reuse_leeway: None,
    };
    let inner = match &arg.value {
        RawValue::Flag => return Some(refresh),
        RawValue::List(group) => group.stream(),
        RawValue::Assign(_) | RawValue::Missing(_) => {
            errors.push_spanned(
                arg.value_or_key(),
                "`refresh` takes its options in parentheses, such as `refresh(ttl = \"30d\")`, or none: `refresh`",
            );
            return None;
        }
    };
    let args = match syn::parse2::<RawArgs>(inner) {
        Ok(args) => args,
        Err(error) => {
            errors.push(error);
            return None;
        }
    };

    let mut seen: Vec<String> = Vec::new();
    for arg in args.0 {
        let key = arg.key.to_string();
        if seen.contains(&key) && REFRESH_KEYS.contains(&key.as_str()) {
            errors.push_at(
                arg.key.span(),
                duplicate_key_message(&format!("refresh({key})")),
            );
            continue;
        }
        seen.push(key.clone());

        match key.as_str() {
            "ttl" => {
                refresh.ttl = value_tokens(&arg, errors, "ttl = \"30d\"").and_then(|tokens| {
                    parse_positive_duration(
                        tokens,
                        "refresh(ttl)",
                        "leave it out for the `REFRESH_TOKEN_TTL` setting",
                        errors,
                    )
                })
            }
            "min_issue_interval" => {
                refresh.min_issue_interval =
                    value_tokens(&arg, errors, "min_issue_interval = \"1s\"")
                        .and_then(|tokens| {
                            parse_duration_literal(
                                tokens,
                                "refresh(min_issue_interval)",
                                "a duration string such as \"1s\", or \"0s\" for no throttle",
                                errors,
                            )
                        })
                        .map(|(duration, _)| duration)
            }
            "reuse_leeway" => {
                refresh.reuse_leeway = value_tokens(&arg, errors, "reuse_leeway = \"5s\"")
                    .and_then(|tokens| {
                        parse_positive_duration(
                            tokens,
                            "refresh(reuse_leeway)",
                            "leave it out for no leeway",
                            errors,
                        )
                    })
                    .map(|(duration, _)| duration)
            }
            "max_history" => {
                refresh.max_history =
                    value_tokens(&arg, errors, "max_history = 10").and_then(|tokens| {
                        parse_positive_integer(
                            tokens,
                            "refresh(max_history)",
                            "leave it out for the `MAX_TOKEN_HISTORY` setting",
                            errors,
                        )
                    })
            }
            _ => errors.push_at(
                arg.key.span(),
                unknown_key_message(
                    "`refresh` option",
                    &key,
                    REFRESH_KEYS,
                    KNOX_REFRESH_SETTING_KEYS,
                ),
            ),
        }
    }
    Some(refresh)
}

/// Checks that a refresh token outlives the access tokens it renews. A refresh
/// TTL shorter than the access TTL would end every session before its access
/// token, and with `ttl = none` refresh tokens have nothing to renew.
///
/// Only values written in the attribute are compared. The runtime settings
/// check their own pair when they are built.
fn check_refresh_ttl(config: &ViewConfig, errors: &mut Errors) {
    let Some(refresh) = &config.refresh else {
        return;
    };
    match (config.ttl, &refresh.ttl) {
        (Some(Ttl::After(access)), Some((refresh_ttl, span))) if *refresh_ttl < access => errors
            .push_at(
                *span,
                format!(
                    "`refresh(ttl)` ({}) must not be shorter than the access token `ttl` ({}); raise `refresh(ttl)` or lower `ttl`",
                    humantime::format_duration(*refresh_ttl),
                    humantime::format_duration(access)
                ),
            ),
        (Some(Ttl::Never), _) => errors.push_at(
            refresh.key_span,
            "`refresh` needs expiring access tokens, but `ttl = none` makes them never expire; set a `ttl` such as \"15m\"",
        ),
        _ => {}
    }
}

fn duplicate_key_message(key: &str) -> String {
    if key == "refresh" {
        "`refresh` is specified more than once; put every option in one `refresh(...)`".to_owned()
    } else {
        format!("`{key}` is specified more than once; keep only one")
    }
}

/// Builds the error for an unknown `key`: a close key or the knox setting it
/// matches as "did you mean", else the list of accepted keys. `kind` names
/// what was expected, such as "argument".
fn unknown_key_message(
    kind: &str,
    key: &str,
    keys: &[&str],
    knox_settings: &[(&str, &str)],
) -> String {
    let lowercase = key.to_lowercase();
    let suggestion = knox_settings
        .iter()
        .find(|(setting, _)| *setting == lowercase)
        .map(|(_, replacement)| *replacement)
        .or_else(|| closest(&lowercase, keys));
    match suggestion {
        Some(suggestion) => format!("unknown {kind} `{key}`; did you mean `{suggestion}`?"),
        None => format!(
            "unknown {kind} `{key}`; expected one of {}",
            keys.iter()
                .map(|key| format!("`{key}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Validates `args` and returns the configuration and every error message.
    fn check(args: RawArgs) -> (ViewConfig, Vec<String>) {
        let mut errors = Errors::default();
        let config = validate(args, &mut errors);
        let messages = match errors.finish() {
            Ok(()) => Vec::new(),
            Err(error) => error.into_iter().map(|e| e.to_string()).collect(),
        };
        (config, messages)
    }

    fn errors_of(args: RawArgs) -> Vec<String> {
        check(args).1
    }

    #[test]
    fn accepts_every_argument() {
        let (config, errors) = check(syn::parse_quote!(
            ttl = "1h 30m",
            token_limit = 5,
            serializer = a::B,
            expiry_format = "%Y",
            prefix = "kx_",
            user = MyUser,
            custom_hooks,
            refresh(ttl = "30d")
        ));
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(config.ttl, Some(Ttl::After(Duration::from_secs(5400))));
        assert_eq!(config.token_limit, Some(5));
        assert!(config.serializer.is_some());
        assert_eq!(config.expiry_format.as_deref(), Some("%Y"));
        assert_eq!(config.prefix.as_deref(), Some("kx_"));
        assert!(config.user.is_some());
        assert!(config.custom_hooks.is_some());
        assert!(config.refresh.is_some());
    }

    #[test]
    fn ttl_none() {
        let (config, errors) = check(syn::parse_quote!(ttl = none));
        assert!(errors.is_empty());
        assert_eq!(config.ttl, Some(Ttl::Never));
    }

    #[test]
    fn collects_all_errors() {
        let (config, errors) = check(syn::parse_quote!(
            tll = "1h",
            token_limit = 0,
            prefix = "far_too_long",
            user = MyUser
        ));
        assert_eq!(errors.len(), 3);
        assert_eq!(errors[0], "unknown argument `tll`; did you mean `ttl`?");
        assert_eq!(
            errors[1],
            "`token_limit` must be at least 1; leave it out for no limit"
        );
        assert_eq!(
            errors[2],
            "`prefix` must be at most 10 characters, but \"far_too_long\" has 12"
        );
        // The valid argument is still in the configuration.
        assert!(config.user.is_some());
    }

    #[test]
    fn duplicate_is_reported_at_each_repeat() {
        let errors = errors_of(syn::parse_quote!(
            ttl = "1h",
            ttl = "2h",
            token_limit = "5",
            ttl
        ));
        assert_eq!(errors.len(), 3);
        assert_eq!(
            errors[0],
            "`ttl` is specified more than once; keep only one"
        );
        assert_eq!(
            errors[1],
            "`token_limit` must be an integer literal, not a string; remove the quotes"
        );
        assert_eq!(
            errors[2],
            "`ttl` is specified more than once; keep only one"
        );
    }

    #[test]
    fn key_without_value() {
        let errors = errors_of(syn::parse_quote!(token_limit, prefix =, ttl("1h")));
        assert_eq!(
            errors,
            [
                "`token_limit` needs a value, such as `token_limit = 5`",
                "missing value after `prefix =`; write it such as `prefix = \"kx_\"`",
                "`ttl` takes a value after `=`, such as `ttl = \"10h\"`, not parentheses",
            ]
        );
    }

    #[test]
    fn custom_hooks_with_value_still_counts() {
        let (config, errors) = check(syn::parse_quote!(custom_hooks = true));
        assert_eq!(
            errors,
            ["`custom_hooks` takes no value; write `custom_hooks` alone"]
        );
        assert!(config.custom_hooks.is_some());
    }

    #[test]
    fn unknown_key_suggestions() {
        let errors = errors_of(syn::parse_quote!(
            token_limt = 5,
            TOKEN_TTL = "1h",
            user_serializer = A,
            colour = "red"
        ));
        assert_eq!(errors.len(), 4);
        assert_eq!(
            errors[0],
            "unknown argument `token_limt`; did you mean `token_limit`?"
        );
        assert_eq!(
            errors[1],
            "unknown argument `TOKEN_TTL`; did you mean `ttl`?"
        );
        assert_eq!(
            errors[2],
            "unknown argument `user_serializer`; did you mean `serializer`?"
        );
        assert!(
            errors[3].starts_with("unknown argument `colour`; expected one of `ttl`, "),
            "{errors:?}"
        );
    }

    #[test]
    fn refresh_options() {
        let (config, errors) = check(syn::parse_quote!(
            ttl = "15m",
            refresh(
                ttl = "30d",
                min_issue_interval = "0s",
                max_history = 3,
                reuse_leeway = "5s"
            )
        ));
        assert!(errors.is_empty(), "{errors:?}");
        let refresh = config.refresh.unwrap();
        assert_eq!(
            refresh.ttl.map(|(ttl, _)| ttl),
            Some(Duration::from_secs(30 * 86400))
        );
        assert_eq!(refresh.min_issue_interval, Some(Duration::ZERO));
        assert_eq!(refresh.max_history, Some(3));
        assert_eq!(refresh.reuse_leeway, Some(Duration::from_secs(5)));

        let (config, errors) = check(syn::parse_quote!(refresh));
        assert!(errors.is_empty());
        assert!(config.refresh.is_some());
    }

    #[test]
    fn refresh_errors() {
        let errors = errors_of(syn::parse_quote!(
            ttl = "1h",
            refresh(ttl = "30m", max_history = 0, tl = "1d", reuse_leeway = "0s")
        ));
        assert_eq!(errors.len(), 4, "{errors:?}");
        assert_eq!(
            errors[0],
            "`refresh(max_history)` must be at least 1; leave it out for the `MAX_TOKEN_HISTORY` setting"
        );
        assert_eq!(
            errors[1],
            "unknown `refresh` option `tl`; did you mean `ttl`?"
        );
        assert_eq!(
            errors[2],
            "`refresh(reuse_leeway)` must be longer than zero; leave it out for no leeway"
        );
        assert_eq!(
            errors[3],
            "`refresh(ttl)` (30m) must not be shorter than the access token `ttl` (1h); raise `refresh(ttl)` or lower `ttl`"
        );
    }

    #[test]
    fn refresh_given_twice() {
        let errors = errors_of(syn::parse_quote!(refresh, refresh(ttl = "1d")));
        assert_eq!(
            errors,
            ["`refresh` is specified more than once; put every option in one `refresh(...)`"]
        );
        let errors = errors_of(syn::parse_quote!(refresh(max_history = 1, max_history = 2)));
        assert_eq!(
            errors,
            ["`refresh(max_history)` is specified more than once; keep only one"]
        );
    }

    #[test]
    fn refresh_needs_expiring_tokens() {
        let errors = errors_of(syn::parse_quote!(ttl = none, refresh));
        assert_eq!(errors.len(), 1);
        assert!(errors[0].starts_with("`refresh` needs expiring access tokens"));
    }

    #[test]
    fn refresh_knox_setting_names() {
        let errors = errors_of(syn::parse_quote!(refresh(max_token_history = 3)));
        assert_eq!(
            errors,
            ["unknown `refresh` option `max_token_history`; did you mean `max_history`?"]
        );
    }

    #[test]
    fn refresh_with_value() {
        let errors = errors_of(syn::parse_quote!(refresh = true));
        assert_eq!(errors.len(), 1);
        assert!(errors[0].starts_with("`refresh` takes its options in parentheses"));
    }
}
