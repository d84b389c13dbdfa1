//! Parsers of single argument values. Each one records its error in the
//! collector and returns `None` for an invalid value.

use std::time::Duration;

use proc_macro2::{Span, TokenStream};
use syn::{Expr, ExprLit, ExprUnary, Ident, Lit, LitStr, Type, UnOp};

use crate::args::{RawArg, RawValue};
use crate::errors::Errors;

/// Maximum length of a token prefix, in characters.
pub(crate) const MAXIMUM_PREFIX_LENGTH: usize = 10;

/// A validated `ttl` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ttl {
    /// `ttl = none`
    Never,
    /// `ttl = "10h"`
    After(Duration),
}

/// Returns the tokens of a `key = value` argument, or records that the value
/// is missing. `example` shows the whole argument, such as `ttl = "10h"`.
pub(crate) fn value_tokens<'a>(
    arg: &'a RawArg,
    errors: &mut Errors,
    example: &str,
) -> Option<&'a TokenStream> {
    let key = &arg.key;
    match &arg.value {
        RawValue::Assign(tokens) => return Some(tokens),
        RawValue::Flag => errors.push_at(
            key.span(),
            format!("`{key}` needs a value, such as `{example}`"),
        ),
        RawValue::Missing(eq) => errors.push_at(
            eq.span,
            format!("missing value after `{key} =`; write it such as `{example}`"),
        ),
        RawValue::List(group) => errors.push_spanned(
            group,
            format!("`{key}` takes a value after `=`, such as `{example}`, not parentheses"),
        ),
    }
    None
}

// ttl = "10h" | ttl = none
pub(crate) fn parse_ttl(tokens: &TokenStream, errors: &mut Errors) -> Option<Ttl> {
    const EXPECTED: &str = "a duration string such as \"10h\" or \"30m\", or `none`";
    if let Ok(ident) = syn::parse2::<Ident>(tokens.clone()) {
        if ident == "none" {
            return Some(Ttl::Never);
        }
        if ident == "None" {
            errors.push_at(
                ident.span(),
                "`ttl` takes `none` in lowercase; write `ttl = none` for tokens that never expire",
            );
            return None;
        }
    }

    let (duration, span) = parse_duration_literal(tokens, "ttl", EXPECTED, errors)?;
    if duration.is_zero() {
        errors.push_at(
            span,
            "`ttl` must be longer than zero; use `ttl = none` for tokens that never expire",
        );
        return None;
    }
    Some(Ttl::After(duration))
}

/// Parses a duration literal that must not be zero. `zero_hint` is the fix
/// that the error for zero suggests.
pub(crate) fn parse_positive_duration(
    tokens: &TokenStream,
    key: &str,
    zero_hint: &str,
    errors: &mut Errors,
) -> Option<(Duration, Span)> {
    let (duration, span) = parse_duration_literal(
        tokens,
        key,
        "a duration string such as \"30s\" or \"30d\"",
        errors,
    )?;
    if duration.is_zero() {
        errors.push_at(
            span,
            format!("`{key}` must be longer than zero; {zero_hint}"),
        );
        return None;
    }
    Some((duration, span))
}

/// Parses a duration literal, zero included, and returns it with the span of
/// the literal. `expected` completes the sentence "`key` must be ...".
pub(crate) fn parse_duration_literal(
    tokens: &TokenStream,
    key: &str,
    expected: &str,
    errors: &mut Errors,
) -> Option<(Duration, Span)> {
    let literal = match syn::parse2::<Lit>(tokens.clone()) {
        Ok(Lit::Str(literal)) => literal,
        Ok(Lit::Int(int)) => {
            let number = int.base10_digits();
            errors.push_at(
                int.span(),
                format!("`{key}` must be {expected}; a bare number has no unit, so write \"{number}s\" for {number} seconds"),
            );
            return None;
        }
        _ => {
            errors.push_spanned(tokens, format!("`{key}` must be {expected}"));
            return None;
        }
    };

    match parse_duration(&literal.value()) {
        Ok(duration) => Some((duration, literal.span())),
        Err(reason) => {
            errors.push_at(
                literal.span(),
                format!(
                    "invalid `{key}` {:?}: {reason}; expected {expected}",
                    literal.value()
                ),
            );
            None
        }
    }
}

/// Parses a duration with humantime, the grammar of the runtime settings.
///
/// # Errors
///
/// The reason, in words, when humantime rejects the text or the duration
/// does not fit the runtime's timestamps.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    if text.trim_start().starts_with('-') {
        return Err("a duration cannot be negative".to_owned());
    }
    // The runtime settings read durations with this same rule.
    let spaced_unit = text
        .as_bytes()
        .windows(2)
        .any(|pair| pair[0].is_ascii_digit() && pair[1].is_ascii_whitespace());
    if spaced_unit {
        return Err(
            "write the unit right after its number, as in \"10h\" or \"1h 30m\"".to_owned(),
        );
    }
    let duration = humantime::parse_duration(text).map_err(|error| match error {
        humantime::DurationError::NumberOverflow => "the duration is too large".to_owned(),
        humantime::DurationError::Empty => "the string is empty".to_owned(),
        humantime::DurationError::NumberExpected(offset) => {
            format!(
                "expected a number at {:?}",
                text.get(offset..).unwrap_or(text)
            )
        }
        humantime::DurationError::InvalidCharacter(offset) => {
            match text.get(offset..).and_then(|rest| rest.chars().next()) {
                Some(character) => format!("invalid character {character:?}"),
                None => "invalid character".to_owned(),
            }
        }
        other => other.to_string(),
    })?;
    // chrono's TimeDelta, which the runtime adds to timestamps, stops at i64 milliseconds.
    if duration.as_millis() > i64::MAX as u128 {
        return Err("the duration is too large".to_owned());
    }
    Ok(duration)
}

// token_limit = 5
pub(crate) fn parse_token_limit(tokens: &TokenStream, errors: &mut Errors) -> Option<u32> {
    parse_positive_integer(tokens, "token_limit", "leave it out for no limit", errors)
}

/// Parses an integer literal from 1 to `u32::MAX`. `zero_hint` is the fix
/// that the error for zero or a negative number suggests.
pub(crate) fn parse_positive_integer(
    tokens: &TokenStream,
    key: &str,
    zero_hint: &str,
    errors: &mut Errors,
) -> Option<u32> {
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
                    "`{key}` must be at most {} (u32::MAX), got {}",
                    u32::MAX,
                    int.base10_digits()
                ),
            ),
        },
        Ok(Expr::Lit(ExprLit {
            lit: Lit::Str(text),
            ..
        })) if text.value().trim().parse::<i128>().is_ok() => errors.push_at(
            text.span(),
            format!("`{key}` must be an integer literal, not a string; remove the quotes"),
        ),
        Ok(Expr::Unary(ExprUnary {
            op: UnOp::Neg(_), ..
        })) => errors.push_spanned(tokens, too_small),
        _ => errors.push_spanned(
            tokens,
            format!("`{key}` must be an integer literal such as `5`"),
        ),
    }
    None
}

// serializer = path::to::Type
pub(crate) fn parse_type(
    tokens: &TokenStream,
    key: &str,
    example: &str,
    errors: &mut Errors,
) -> Option<Type> {
    if let Ok(literal) = syn::parse2::<LitStr>(tokens.clone()) {
        errors.push_at(
            literal.span(),
            format!("`{key}` must be a type, not a string; remove the quotes"),
        );
        return None;
    }
    match syn::parse2::<Type>(tokens.clone()) {
        Ok(ty) => Some(ty),
        Err(_) => {
            errors.push_spanned(
                tokens,
                format!("`{key}` must be a type such as `{example}`"),
            );
            None
        }
    }
}

// expiry_format = "%Y-%m-%d"
pub(crate) fn parse_expiry_format(tokens: &TokenStream, errors: &mut Errors) -> Option<String> {
    let Ok(literal) = syn::parse2::<LitStr>(tokens.clone()) else {
        errors.push_spanned(
            tokens,
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
    if !is_valid_strftime(&format) {
        let reason = match first_invalid_specifier(&format) {
            Some(specifier) => format!("chrono does not accept `{specifier}`"),
            None => "chrono rejects it".to_owned(),
        };
        errors.push_at(
            literal.span(),
            format!("invalid `expiry_format` {format:?}: {reason}; use strftime specifiers such as %Y, %m, %d, %H, %M and %S"),
        );
        return None;
    }
    Some(format)
}

fn is_valid_strftime(format: &str) -> bool {
    !chrono::format::StrftimeItems::new(format)
        .any(|item| matches!(item, chrono::format::Item::Error))
}

/// Returns the first `%` specifier of `format` that chrono rejects, such as
/// `%Q`. A specifier is at most 5 characters long (`%::z`, `%.3f`), so each
/// `%` is tried with up to 5 characters, and the shortest valid one is skipped.
fn first_invalid_specifier(format: &str) -> Option<&str> {
    const MAXIMUM_SPECIFIER_LENGTH: usize = 5;
    let mut rest = format;
    while let Some(start) = rest.find('%') {
        rest = &rest[start..];
        let ends: Vec<usize> = rest
            .char_indices()
            .skip(2)
            .map(|(end, _)| end)
            .chain([rest.len()])
            .take(MAXIMUM_SPECIFIER_LENGTH - 1)
            .collect();
        match ends.iter().find(|end| is_valid_strftime(&rest[..**end])) {
            Some(end) => rest = &rest[*end..],
            // Report `%` and the character after it, which is where chrono stopped.
            None => return Some(&rest[..ends.first().copied().unwrap_or(rest.len())]),
        }
    }
    None
}

// prefix = "kx_"
pub(crate) fn parse_prefix(tokens: &TokenStream, errors: &mut Errors) -> Option<String> {
    let Ok(literal) = syn::parse2::<LitStr>(tokens.clone()) else {
        errors.push_spanned(tokens, "`prefix` must be a string literal such as \"kx_\"");
        return None;
    };
    let prefix = literal.value();
    let length = prefix.chars().count();
    if length > MAXIMUM_PREFIX_LENGTH {
        errors.push_at(
            literal.span(),
            format!("`prefix` must be at most {MAXIMUM_PREFIX_LENGTH} characters, but {prefix:?} has {length}"),
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
    use quote::quote;

    use super::*;

    /// Runs `parse` on `tokens` and returns its value and error messages.
    fn run<T>(
        tokens: TokenStream,
        parse: impl FnOnce(&TokenStream, &mut Errors) -> Option<T>,
    ) -> (Option<T>, Vec<String>) {
        let mut errors = Errors::default();
        let value = parse(&tokens, &mut errors);
        let messages = match errors.finish() {
            Ok(()) => Vec::new(),
            Err(error) => error.into_iter().map(|error| error.to_string()).collect(),
        };
        (value, messages)
    }

    #[test]
    fn ttl_accepts_durations_and_none() {
        let (ttl, errors) = run(quote!("1h 30m"), parse_ttl);
        assert_eq!(ttl, Some(Ttl::After(Duration::from_secs(5400))));
        assert!(errors.is_empty());
        let (ttl, errors) = run(quote!(none), parse_ttl);
        assert_eq!(ttl, Some(Ttl::Never));
        assert!(errors.is_empty());
    }

    #[test]
    fn ttl_rejects_capitalized_none() {
        let (ttl, errors) = run(quote!(None), parse_ttl);
        assert_eq!(ttl, None);
        assert_eq!(
            errors,
            ["`ttl` takes `none` in lowercase; write `ttl = none` for tokens that never expire"]
        );
    }

    #[test]
    fn ttl_rejects_bare_number() {
        let (_, errors) = run(quote!(10), parse_ttl);
        assert_eq!(
            errors,
            ["`ttl` must be a duration string such as \"10h\" or \"30m\", or `none`; a bare number has no unit, so write \"10s\" for 10 seconds"]
        );
    }

    #[test]
    fn ttl_rejects_zero_negative_and_overflow() {
        let cases = [
            (quote!("0s"), "`ttl` must be longer than zero"),
            (quote!("-10h"), "a duration cannot be negative"),
            (quote!("99999999999999999999d"), "the duration is too large"),
            (quote!("600000000years"), "the duration is too large"),
            (quote!(""), "the string is empty"),
            (quote!("10hourz"), "unknown time unit \"hourz\""),
            (quote!("10 hours"), "write the unit right after its number"),
            (quote!("ten hours"), "expected a number at \"ten hours\""),
            (quote!("10h!"), "invalid character '!'"),
        ];
        for (tokens, expected) in cases {
            let (ttl, errors) = run(tokens, parse_ttl);
            assert_eq!(ttl, None);
            assert_eq!(errors.len(), 1, "{errors:?}");
            assert!(errors[0].contains(expected), "{errors:?}");
        }
    }

    #[test]
    fn positive_duration_rejects_zero_with_hint() {
        let (value, errors) = run(quote!("0s"), |tokens, errors| {
            parse_positive_duration(tokens, "refresh(reuse_leeway)", "leave it out", errors)
        });
        assert!(value.is_none());
        assert_eq!(
            errors,
            ["`refresh(reuse_leeway)` must be longer than zero; leave it out"]
        );
    }

    #[test]
    fn duration_literal_allows_zero() {
        let (value, errors) = run(quote!("0s"), |tokens, errors| {
            parse_duration_literal(tokens, "refresh(min_issue_interval)", "a duration", errors)
        });
        assert_eq!(value.map(|(duration, _)| duration), Some(Duration::ZERO));
        assert!(errors.is_empty());
    }

    #[test]
    fn token_limit_rejects_every_wrong_form() {
        let cases = [
            (
                quote!(0),
                "`token_limit` must be at least 1; leave it out for no limit",
            ),
            (
                quote!(-3),
                "`token_limit` must be at least 1; leave it out for no limit",
            ),
            (
                quote!(4294967296),
                "`token_limit` must be at most 4294967295 (u32::MAX), got 4294967296",
            ),
            (
                quote!("5"),
                "`token_limit` must be an integer literal, not a string; remove the quotes",
            ),
            (
                quote!(five),
                "`token_limit` must be an integer literal such as `5`",
            ),
            (
                quote!(5.0),
                "`token_limit` must be an integer literal such as `5`",
            ),
        ];
        for (tokens, expected) in cases {
            let (limit, errors) = run(tokens, parse_token_limit);
            assert_eq!(limit, None);
            assert_eq!(errors, [expected]);
        }
        assert_eq!(run(quote!(4294967295), parse_token_limit).0, Some(u32::MAX));
    }

    #[test]
    fn type_rejects_string() {
        let (ty, errors) = run(quote!("PublicUser"), |tokens, errors| {
            parse_type(tokens, "serializer", "PublicUser", errors)
        });
        assert!(ty.is_none());
        assert_eq!(
            errors,
            ["`serializer` must be a type, not a string; remove the quotes"]
        );
    }

    #[test]
    fn expiry_format_names_the_bad_specifier() {
        let (format, errors) = run(quote!("%Y-%m-%d %Q"), parse_expiry_format);
        assert_eq!(format, None);
        assert_eq!(
            errors,
            ["invalid `expiry_format` \"%Y-%m-%d %Q\": chrono does not accept `%Q`; use strftime specifiers such as %Y, %m, %d, %H, %M and %S"]
        );
    }

    #[test]
    fn expiry_format_rejects_empty() {
        let (_, errors) = run(quote!(""), parse_expiry_format);
        assert_eq!(
            errors,
            ["`expiry_format` must not be empty; leave it out for ISO 8601"]
        );
    }

    #[test]
    fn invalid_specifier_lookup() {
        assert_eq!(first_invalid_specifier("%Y %Q"), Some("%Q"));
        assert_eq!(first_invalid_specifier("%%Q %.6f %::z %-d %J"), Some("%J"));
        assert_eq!(first_invalid_specifier("%Y-%m-%d %"), Some("%"));
        assert_eq!(first_invalid_specifier("%Y-%m-%dT%H:%M:%S%.6fZ"), None);
    }

    #[test]
    fn prefix_rules() {
        assert_eq!(
            run(quote!("kx_-9"), parse_prefix).0.as_deref(),
            Some("kx_-9")
        );
        let (_, errors) = run(quote!("knox_token_"), parse_prefix);
        assert_eq!(
            errors,
            ["`prefix` must be at most 10 characters, but \"knox_token_\" has 11"]
        );
        let (_, errors) = run(quote!("kx."), parse_prefix);
        assert_eq!(
            errors,
            ["`prefix` may contain only ASCII letters, digits, `_` and `-`, got '.'"]
        );
    }
}
