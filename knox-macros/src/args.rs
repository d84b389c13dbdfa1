//! Parsing of the attribute into raw `key`, `key = value` and `key(...)` arguments.
//!
//! Values stay unparsed token streams here, so that validation can report a
//! wrong value of one argument and still check all the others.

use proc_macro2::{Span, TokenStream, TokenTree};
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream};
use syn::spanned::Spanned;
use syn::{Ident, Token};

/// One argument as written, with its key kept for error spans.
pub(crate) struct RawArg {
    pub(crate) key: Ident,
    pub(crate) value: RawValue,
}

/// The part of an argument after its key.
pub(crate) enum RawValue {
    /// `key`
    Flag,
    /// `key = tokens`, up to the next top-level comma.
    Assign(TokenStream),
    /// `key(tokens)`
    List(TokenStream, Span),
}

impl RawValue {
    /// Returns the span of the value, or of `fallback` for a flag.
    pub(crate) fn span(&self, fallback: Span) -> Span {
        match self {
            RawValue::Flag => fallback,
            RawValue::Assign(tokens) => span_of(tokens).unwrap_or(fallback),
            RawValue::List(_, span) => *span,
        }
    }
}

/// Returns a span covering `tokens`, or `None` when there are none.
pub(crate) fn span_of(tokens: &TokenStream) -> Option<Span> {
    let mut iter = tokens.clone().into_iter();
    let first = iter.next()?.span();
    let last = iter.last().map_or(first, |tree| tree.span());
    Some(first.join(last).unwrap_or(first))
}

/// A comma-separated list of arguments.
pub(crate) struct RawArgs(pub(crate) Vec<RawArg>);

impl Parse for RawArgs {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let mut args = Vec::new();
        while !input.is_empty() {
            if !input.peek(Ident::peek_any) {
                return Err(input.error("expected an argument name such as `ttl` or `token_limit`"));
            }
            let key = input.call(Ident::parse_any)?;

            let value = if input.peek(Token![=]) {
                // key = value
                let eq: Token![=] = input.parse()?;
                let mut tokens = TokenStream::new();
                while !input.is_empty() && !input.peek(Token![,]) {
                    tokens.extend([input.parse::<TokenTree>()?]);
                }
                if tokens.is_empty() {
                    return Err(syn::Error::new(
                        eq.span(),
                        format!("missing value after `{key} =`"),
                    ));
                }
                RawValue::Assign(tokens)
            } else if input.peek(syn::token::Paren) {
                // key(inner, arguments)
                let content;
                let paren = syn::parenthesized!(content in input);
                RawValue::List(content.parse()?, paren.span.join())
            } else {
                // key
                RawValue::Flag
            };
            args.push(RawArg { key, value });

            if input.is_empty() {
                break;
            }
            input
                .parse::<Token![,]>()
                .map_err(|error| syn::Error::new(error.span(), "expected `,` between arguments"))?;
        }
        Ok(RawArgs(args))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_form() {
        let args: RawArgs =
            syn::parse_quote!(ttl = "10h", custom_hooks, refresh(ttl = "30d"), user = a::B<C>);
        let keys: Vec<String> = args.0.iter().map(|arg| arg.key.to_string()).collect();
        assert_eq!(keys, ["ttl", "custom_hooks", "refresh", "user"]);
        assert!(matches!(args.0[1].value, RawValue::Flag));
        assert!(matches!(args.0[2].value, RawValue::List(..)));
    }

    #[test]
    fn missing_value_is_an_error() {
        let error = syn::parse2::<RawArgs>(quote::quote!(ttl =)).err().unwrap();
        assert_eq!(error.to_string(), "missing value after `ttl =`");
    }
}
