//! Parsing of the attribute into raw `key`, `key = value` and `key(...)` arguments.
//!
//! Values stay unparsed token streams here, so that validation can report a
//! wrong value of one argument and still check all the others. Only a syntax
//! error, such as a missing comma, stops the parse at the first mistake.

use proc_macro2::{Delimiter, Group, TokenStream, TokenTree};
use quote::ToTokens;
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream};
use syn::{Ident, Token, Type};

/// One argument as written, with its key kept for error spans.
pub(crate) struct RawArg {
    pub(crate) key: Ident,
    pub(crate) value: RawValue,
}

/// The part of an argument after its key.
pub(crate) enum RawValue {
    /// `key`
    Flag,
    /// `key =` with nothing before the next comma.
    Missing(Token![=]),
    /// `key = tokens`, up to the next top-level comma.
    Assign(TokenStream),
    /// `key(tokens)`, kept as the parenthesized group.
    List(Group),
}

impl RawArg {
    /// Returns the tokens an error about the value should cover: the value
    /// itself, or the key of a flag.
    pub(crate) fn value_or_key(&self) -> TokenStream {
        match &self.value {
            RawValue::Flag => self.key.to_token_stream(),
            RawValue::Missing(eq) => eq.to_token_stream(),
            RawValue::Assign(tokens) => tokens.clone(),
            RawValue::List(group) => group.to_token_stream(),
        }
    }
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
                let tokens = parse_value(input)?;
                if tokens.is_empty() {
                    RawValue::Missing(eq)
                } else {
                    RawValue::Assign(tokens)
                }
            } else if input.peek(syn::token::Paren) {
                // key(inner, arguments)
                let content;
                let paren = syn::parenthesized!(content in input);
                let mut group = Group::new(Delimiter::Parenthesis, content.parse()?);
                group.set_span(paren.span.join());
                RawValue::List(group)
            } else if input.is_empty() || input.peek(Token![,]) {
                // key
                RawValue::Flag
            } else {
                return Err(input.error(format!(
                    "expected `=` or `,` after `{key}`, as in `{key} = value`"
                )));
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

/// Parses the value of `key = value` up to the next top-level comma.
///
/// A type is parsed as a whole first, because the commas inside
/// `Wrapper<A, B>` do not end the value.
fn parse_value(input: ParseStream<'_>) -> syn::Result<TokenStream> {
    let fork = input.fork();
    if fork.parse::<Type>().is_ok() && (fork.is_empty() || fork.peek(Token![,])) {
        return Ok(input.parse::<Type>()?.into_token_stream());
    }

    let mut tokens = TokenStream::new();
    while !input.is_empty() && !input.peek(Token![,]) {
        // `ttl = "10h" token_limit = 5`: the next argument starts without a comma.
        if !tokens.is_empty() && input.peek(Ident::peek_any) && input.peek2(Token![=]) {
            let next_key = input.fork().call(Ident::parse_any)?;
            return Err(input.error(format!("expected `,` before `{next_key}`")));
        }
        tokens.extend([input.parse::<TokenTree>()?]);
    }
    Ok(tokens)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_error(tokens: TokenStream) -> String {
        match syn::parse2::<RawArgs>(tokens) {
            Ok(_) => panic!("expected a parse error, but the arguments parsed"),
            Err(error) => error.to_string(),
        }
    }

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
    fn generic_type_keeps_its_commas() {
        let args: RawArgs = syn::parse_quote!(serializer = Wrapper<A, B>, token_limit = 5);
        assert_eq!(args.0.len(), 2);
        let RawValue::Assign(tokens) = &args.0[0].value else {
            panic!("expected `serializer = value`");
        };
        assert_eq!(tokens.to_string(), "Wrapper < A , B >");
    }

    #[test]
    fn missing_value_is_kept_for_validation() {
        let args: RawArgs = syn::parse_quote!(ttl =, token_limit = 5);
        assert_eq!(args.0.len(), 2);
        assert!(matches!(args.0[0].value, RawValue::Missing(_)));
    }

    #[test]
    fn missing_comma_names_the_next_key() {
        let error = parse_error(quote::quote!(ttl = "10h" token_limit = 5));
        assert_eq!(error, "expected `,` before `token_limit`");
    }

    #[test]
    fn colon_after_key_is_an_error() {
        let error = parse_error(quote::quote!(ttl: "10h"));
        assert_eq!(
            error,
            "expected `=` or `,` after `ttl`, as in `ttl = value`"
        );
    }

    #[test]
    fn literal_in_place_of_key_is_an_error() {
        let error = parse_error(quote::quote!("10h"));
        assert_eq!(
            error,
            "expected an argument name such as `ttl` or `token_limit`"
        );
    }
}
