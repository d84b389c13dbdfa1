//! Validation of raw arguments into a [`ViewConfig`], collecting every error
//! of the attribute instead of stopping at the first.

use std::time::Duration;

use proc_macro2::{Span, TokenStream};
use syn::spanned::Spanned;
use syn::{Expr, ExprLit, ExprUnary, Ident, Lit, LitStr, Type, UnOp};

use crate::args::{RawArg, RawArgs, RawValue};
use crate::suggest::closest;

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

/// The longest token prefix knox accepts.
const MAXIMUM_PREFIX_LENGTH: usize = 10;

/// The validated arguments of one `#[knox_view]`.
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
#[derive(Default)]
pub(crate) struct RefreshConfig {
    /// The `refresh` key, for errors about the argument as a whole.
    pub(crate) key_span: Option<Span>,
    pub(crate) ttl: Option<(Duration, Span)>,
    pub(crate) min_issue_interval: Option<Duration>,
    pub(crate) max_history: Option<u32>,
    pub(crate) reuse_leeway: Option<Duration>,
}

/// A validated `ttl` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ttl {
    /// `ttl = none`
    Never,
    /// `ttl = "10h"`
    After(Duration),
}

/// A collector of errors, combined into one `syn::Error` at the end.
#[derive(Default)]
pub(crate) struct Errors {
    combined: Option<syn::Error>,
}

impl Errors {
    pub(crate) fn push(&mut self, error: syn::Error) {
        match &mut self.combined {
            Some(combined) => combined.combine(error),
            None => self.combined = Some(error),
        }
    }

    pub(crate) fn push_at(&mut self, span: Span, message: impl std::fmt::Display) {
        self.push(syn::Error::new(span, message));
    }

    /// Returns the combined error, if any error was pushed.
    pub(crate) fn finish(self) -> Result<(), syn::Error> {
        self.combined.map_or(Ok(()), Err)
    }
}

/// Checks every argument and returns the configuration, or all errors at once.
pub(crate) fn validate(args: RawArgs) -> Result<ViewConfig, syn::Error> {
    let mut errors = Errors::default();
    let mut config = ViewConfig::default();
    let mut seen: Vec<String> = Vec::new();

    for arg in args.0 {
        let key = arg.key.to_string();
        if seen.contains(&key) && KEYS.contains(&key.as_str()) {
            errors.push_at(
                arg.key.span(),
                format!("`{key}` is specified more than once"),
            );
            continue;
        }
        seen.push(key.clone());

        match key.as_str() {
            "ttl" => {
                config.ttl = value_tokens(&arg, &mut errors, "ttl = \"10h\"")
                    .and_then(|tokens| parse_ttl(tokens, &mut errors))
            }
            "token_limit" => {
                config.token_limit = value_tokens(&arg, &mut errors, "token_limit = 5")
                    .and_then(|tokens| parse_token_limit(tokens, &mut errors))
            }
            "serializer" => {
                config.serializer = value_tokens(&arg, &mut errors, "serializer = PublicUser")
                    .and_then(|tokens| parse_type(tokens, "serializer", "PublicUser", &mut errors))
            }
            "user" => {
                config.user = value_tokens(&arg, &mut errors, "user = MyUser")
                    .and_then(|tokens| parse_type(tokens, "user", "MyUser", &mut errors))
            }
            "expiry_format" => {
                config.expiry_format =
                    value_tokens(&arg, &mut errors, "expiry_format = \"%Y-%m-%d %H:%M\"")
                        .and_then(|tokens| parse_expiry_format(tokens, &mut errors))
            }
            "prefix" => {
                config.prefix = value_tokens(&arg, &mut errors, "prefix = \"kx_\"")
                    .and_then(|tokens| parse_prefix(tokens, &mut errors))
            }
            "custom_hooks" => {
                if matches!(arg.value, RawValue::Flag) {
                    config.custom_hooks = Some(arg.key.clone());
                } else {
                    errors.push_at(
                        arg.value.span(arg.key.span()),
                        "`custom_hooks` takes no value; write `custom_hooks` alone",
                    );
                }
            }
            "refresh" => config.refresh = parse_refresh(&arg, &mut errors),
            _ => errors.push_at(arg.key.span(), unknown_key_message(&key, KEYS)),
        }
    }

    check_refresh_ttl(&config, &mut errors);
    errors.finish().map(|()| config)
}

// refresh | refresh(ttl = "30d", min_issue_interval = "1s", max_history = 10, reuse_leeway = "5s")
fn parse_refresh(arg: &RawArg, errors: &mut Errors) -> Option<RefreshConfig> {
    let mut refresh = RefreshConfig {
        key_span: Some(arg.key.span()),
        ..RefreshConfig::default()
    };
    let inner = match &arg.value {
        RawValue::Flag => return Some(refresh),
        RawValue::List(tokens, _) => tokens,
        RawValue::Assign(tokens) => {
            errors.push_at(
                tokens.span(),
                "`refresh` takes its options in parentheses, such as `refresh(ttl = \"30d\")`, or none: `refresh`",
            );
            return None;
        }
    };
    let args = match syn::parse2::<RawArgs>(inner.clone()) {
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
                format!("`refresh({key})` is specified more than once"),
            );
            continue;
        }
        seen.push(key.clone());
        match key.as_str() {
            "ttl" => {
                refresh.ttl = value_tokens(&arg, errors, "ttl = \"30d\"")
                    .and_then(|tokens| parse_positive_duration(tokens, "refresh(ttl)", errors))
                    .map(|duration| (duration, arg.value.span(arg.key.span())))
            }
            "min_issue_interval" => {
                refresh.min_issue_interval =
                    value_tokens(&arg, errors, "min_issue_interval = \"1s\"").and_then(|tokens| {
                        parse_duration_allowing_zero(tokens, "refresh(min_issue_interval)", errors)
                    })
            }
            "reuse_leeway" => {
                refresh.reuse_leeway =
                    value_tokens(&arg, errors, "reuse_leeway = \"5s\"").and_then(|tokens| {
                        parse_positive_duration(tokens, "refresh(reuse_leeway)", errors)
                    })
            }
            "max_history" => {
                refresh.max_history =
                    value_tokens(&arg, errors, "max_history = 10").and_then(|tokens| {
                        parse_positive_integer(
                            tokens,
                            "refresh(max_history)",
                            "keep the default of the settings",
                            errors,
                        )
                    })
            }
            _ => errors.push_at(
                arg.key.span(),
                format!(
                    "unknown `refresh` option{}",
                    unknown_key_message(&key, REFRESH_KEYS).trim_start_matches("unknown argument")
                ),
            ),
        }
    }
    Some(refresh)
}

/// A refresh token outlives the access tokens it renews: a refresh TTL shorter
/// than the access TTL would end every session before its access token, and
/// with `ttl = none` refresh tokens have nothing to renew.
fn check_refresh_ttl(config: &ViewConfig, errors: &mut Errors) {
    let Some(refresh) = &config.refresh else {
        return;
    };
    match (config.ttl, &refresh.ttl) {
        (Some(Ttl::After(access)), Some((refresh_ttl, span))) if *refresh_ttl < access => errors.push_at(
            *span,
            format!(
                "`refresh(ttl)` ({}) must not be shorter than the access token `ttl` ({})",
                humantime::format_duration(*refresh_ttl),
                humantime::format_duration(access)
            ),
        ),
        (Some(Ttl::Never), _) => errors.push_at(
            refresh.key_span.unwrap_or_else(Span::call_site),
            "`refresh` needs expiring access tokens, but `ttl = none` makes them never expire; set a `ttl` such as \"15m\"",
        ),
        _ => {}
    }
}

fn parse_positive_duration(
    tokens: &TokenStream,
    key: &str,
    errors: &mut Errors,
) -> Option<Duration> {
    let duration = parse_duration_allowing_zero(tokens, key, errors)?;
    if duration.is_zero() {
        errors.push_at(tokens.span(), format!("`{key}` must be longer than zero"));
        return None;
    }
    Some(duration)
}

fn parse_duration_allowing_zero(
    tokens: &TokenStream,
    key: &str,
    errors: &mut Errors,
) -> Option<Duration> {
    let Ok(literal) = syn::parse2::<LitStr>(tokens.clone()) else {
        errors.push_at(
            tokens.span(),
            format!("`{key}` must be a duration string such as \"30s\" or \"30d\""),
        );
        return None;
    };
    match parse_duration(&literal.value()) {
        Ok(duration) => Some(duration),
        Err(reason) => {
            errors.push_at(
                literal.span(),
                format!("invalid `{key}` {:?}: {reason}; expected a duration such as \"30s\" or \"30d\"", literal.value()),
            );
            None
        }
    }
}

fn unknown_key_message(key: &str, keys: &[&str]) -> String {
    match closest(key, keys) {
        Some(suggestion) => format!("unknown argument `{key}`; did you mean `{suggestion}`?"),
        None => format!(
            "unknown argument `{key}`; expected one of {}",
            keys.iter()
                .map(|key| format!("`{key}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Returns the tokens of a `key = value` argument, or records that the value is missing.
fn value_tokens<'a>(
    arg: &'a RawArg,
    errors: &mut Errors,
    example: &str,
) -> Option<&'a TokenStream> {
    match &arg.value {
        RawValue::Assign(tokens) => Some(tokens),
        RawValue::Flag | RawValue::List(..) => {
            let key = &arg.key;
            errors.push_at(
                arg.value.span(key.span()),
                format!("`{key}` needs a value, such as `{example}`"),
            );
            None
        }
    }
}

// ttl = "10h" | ttl = none
fn parse_ttl(tokens: &TokenStream, errors: &mut Errors) -> Option<Ttl> {
    const EXPECTED: &str = "a duration such as \"10h\" or \"30m\", or `none`";
    let span = tokens.span();
    if let Ok(ident) = syn::parse2::<Ident>(tokens.clone()) {
        if ident == "none" {
            return Some(Ttl::Never);
        }
    }
    let Ok(literal) = syn::parse2::<LitStr>(tokens.clone()) else {
        errors.push_at(span, format!("`ttl` must be {EXPECTED}"));
        return None;
    };

    match parse_duration(&literal.value()) {
        Ok(duration) if duration.is_zero() => {
            errors.push_at(
                literal.span(),
                "`ttl` must be longer than zero; use `ttl = none` for tokens that never expire",
            );
            None
        }
        Ok(duration) => Some(Ttl::After(duration)),
        Err(reason) => {
            errors.push_at(
                literal.span(),
                format!(
                    "invalid `ttl` {:?}: {reason}; expected {EXPECTED}",
                    literal.value()
                ),
            );
            None
        }
    }
}

/// Parses a duration with the grammar of the runtime settings.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let duration = humantime::parse_duration(text).map_err(|error| error.to_string())?;
    // chrono's TimeDelta, which the runtime adds to timestamps, stops at i64 milliseconds.
    if duration.as_millis() > i64::MAX as u128 {
        return Err("number is too large".to_owned());
    }
    Ok(duration)
}

// token_limit = 5
fn parse_token_limit(tokens: &TokenStream, errors: &mut Errors) -> Option<u32> {
    parse_positive_integer(tokens, "token_limit", "leave it out for no limit", errors)
}

fn parse_positive_integer(
    tokens: &TokenStream,
    key: &str,
    zero_hint: &str,
    errors: &mut Errors,
) -> Option<u32> {
    let span = tokens.span();
    let too_small = format!("`{key}` must be at least 1; {zero_hint}");
    match syn::parse2::<Expr>(tokens.clone()) {
        Ok(Expr::Lit(ExprLit {
            lit: Lit::Int(int), ..
        })) => match int.base10_parse::<u32>() {
            Ok(0) => errors.push_at(int.span(), too_small),
            Ok(value) => return Some(value),
            Err(_) => errors.push_at(
                int.span(),
                format!(
                    "`{key}` must fit in u32 (at most {}), got {}",
                    u32::MAX,
                    int.base10_digits()
                ),
            ),
        },
        Ok(Expr::Unary(ExprUnary {
            op: UnOp::Neg(_), ..
        })) => errors.push_at(span, too_small),
        _ => errors.push_at(
            span,
            format!("`{key}` must be an integer literal such as `5`"),
        ),
    }
    None
}

// serializer = path::to::Type
fn parse_type(tokens: &TokenStream, key: &str, example: &str, errors: &mut Errors) -> Option<Type> {
    match syn::parse2::<Type>(tokens.clone()) {
        Ok(ty) => Some(ty),
        Err(_) => {
            errors.push_at(
                tokens.span(),
                format!("`{key}` must be a type such as `{example}`"),
            );
            None
        }
    }
}

// expiry_format = "%Y-%m-%d"
fn parse_expiry_format(tokens: &TokenStream, errors: &mut Errors) -> Option<String> {
    let Ok(literal) = syn::parse2::<LitStr>(tokens.clone()) else {
        errors.push_at(
            tokens.span(),
            "`expiry_format` must be a string literal with a chrono strftime format such as \"%Y-%m-%dT%H:%M:%S%.6fZ\"",
        );
        return None;
    };
    let format = literal.value();
    if format.is_empty() {
        errors.push_at(
            literal.span(),
            "`expiry_format` must not be empty; leave it out for ISO 8601",
        );
        return None;
    }
    let invalid = chrono::format::StrftimeItems::new(&format)
        .any(|item| matches!(item, chrono::format::Item::Error));
    if invalid {
        errors.push_at(
            literal.span(),
            format!("invalid `expiry_format` {format:?}: chrono rejects it; use strftime specifiers such as %Y, %m, %d, %H, %M and %S"),
        );
        return None;
    }
    Some(format)
}

// prefix = "kx_"
fn parse_prefix(tokens: &TokenStream, errors: &mut Errors) -> Option<String> {
    let Ok(literal) = syn::parse2::<LitStr>(tokens.clone()) else {
        errors.push_at(
            tokens.span(),
            "`prefix` must be a string literal such as \"kx_\"",
        );
        return None;
    };
    let prefix = literal.value();
    let length = prefix.chars().count();
    if length > MAXIMUM_PREFIX_LENGTH {
        errors.push_at(
            literal.span(),
            format!("`prefix` must be at most {MAXIMUM_PREFIX_LENGTH} characters, got {length}"),
        );
        return None;
    }
    if let Some(character) = prefix
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '-'))
    {
        errors.push_at(
            literal.span(),
            format!(
                "`prefix` may contain only ASCII letters, digits, `_` and `-`, got {character:?}"
            ),
        );
        return None;
    }
    Some(prefix)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors_of(args: RawArgs) -> Vec<String> {
        match validate(args) {
            Ok(_) => Vec::new(),
            Err(error) => error.into_iter().map(|e| e.to_string()).collect(),
        }
    }

    #[test]
    fn accepts_every_argument() {
        let config = validate(syn::parse_quote!(
            ttl = "1h 30m",
            token_limit = 5,
            serializer = a::B,
            expiry_format = "%Y",
            prefix = "kx_",
            user = MyUser,
            custom_hooks
        ))
        .ok()
        .unwrap();
        assert_eq!(config.ttl, Some(Ttl::After(Duration::from_secs(5400))));
        assert_eq!(config.token_limit, Some(5));
        assert_eq!(config.prefix.as_deref(), Some("kx_"));
        assert!(config.custom_hooks.is_some());
    }

    #[test]
    fn ttl_none() {
        let config = validate(syn::parse_quote!(ttl = none)).ok().unwrap();
        assert_eq!(config.ttl, Some(Ttl::Never));
    }

    #[test]
    fn collects_all_errors() {
        let errors = errors_of(syn::parse_quote!(
            tll = "1h",
            token_limit = 0,
            prefix = "far_too_long"
        ));
        assert_eq!(errors.len(), 3);
        assert_eq!(errors[0], "unknown argument `tll`; did you mean `ttl`?");
        assert_eq!(
            errors[1],
            "`token_limit` must be at least 1; leave it out for no limit"
        );
        assert_eq!(errors[2], "`prefix` must be at most 10 characters, got 12");
    }

    #[test]
    fn rejects_duplicates_and_wrong_kinds() {
        let errors = errors_of(syn::parse_quote!(
            ttl = "1h",
            ttl = "2h",
            token_limit = "5",
            ttl
        ));
        assert_eq!(errors.len(), 3);
        assert_eq!(errors[0], "`ttl` is specified more than once");
        assert_eq!(
            errors[1],
            "`token_limit` must be an integer literal such as `5`"
        );
        assert_eq!(errors[2], "`ttl` is specified more than once");
    }

    #[test]
    fn rejects_bad_durations() {
        for args in [
            quote::quote!(ttl = "10 hourz"),
            quote::quote!(ttl = "0s"),
            quote::quote!(ttl = 10),
            quote::quote!(ttl = "99999999999999999999d"),
        ] {
            let errors = errors_of(syn::parse2(args).unwrap());
            assert_eq!(errors.len(), 1, "{errors:?}");
            assert!(errors[0].contains("ttl"), "{errors:?}");
        }
    }

    #[test]
    fn rejects_bad_expiry_formats() {
        let errors = errors_of(syn::parse_quote!(expiry_format = "%Q"));
        assert_eq!(errors.len(), 1);
        assert!(errors[0].starts_with("invalid `expiry_format`"));
        let errors = errors_of(syn::parse_quote!(expiry_format = ""));
        assert_eq!(errors.len(), 1);
    }

    #[test]
    fn refresh_options() {
        let config = validate(syn::parse_quote!(
            ttl = "15m",
            refresh(
                ttl = "30d",
                min_issue_interval = "1s",
                max_history = 3,
                reuse_leeway = "5s"
            )
        ))
        .ok()
        .unwrap();
        let refresh = config.refresh.unwrap();
        assert_eq!(
            refresh.ttl.map(|(ttl, _)| ttl),
            Some(Duration::from_secs(30 * 86400))
        );
        assert_eq!(refresh.max_history, Some(3));
        assert!(validate(syn::parse_quote!(refresh))
            .ok()
            .unwrap()
            .refresh
            .is_some());
    }

    #[test]
    fn refresh_errors() {
        let errors = errors_of(syn::parse_quote!(
            ttl = "1h",
            refresh(ttl = "30m", max_history = 0, tl = "1d")
        ));
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert!(
            errors[0].contains("`refresh(max_history)` must be at least 1"),
            "{errors:?}"
        );
        assert_eq!(
            errors[1],
            "unknown `refresh` option `tl`; did you mean `ttl`?"
        );
        assert!(errors[2].contains("must not be shorter"), "{errors:?}");
        let twice = errors_of(syn::parse_quote!(refresh, refresh(ttl = "1d")));
        assert_eq!(twice, ["`refresh` is specified more than once"]);
        let never = errors_of(syn::parse_quote!(ttl = none, refresh));
        assert_eq!(never.len(), 1);
    }

    #[test]
    fn rejects_token_limits() {
        assert_eq!(errors_of(syn::parse_quote!(token_limit = -1)).len(), 1);
        let errors = errors_of(syn::parse_quote!(token_limit = 4294967296));
        assert!(errors[0].contains("fit in u32"));
    }
}
