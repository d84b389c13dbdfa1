//! The error collector of one attribute.

use proc_macro2::Span;
use quote::ToTokens;

/// A collector of errors, combined into one `syn::Error` by [`Errors::finish`].
///
/// Dropping it unfinished panics, so that no code path can lose the errors it
/// collected.
#[derive(Default)]
pub(crate) struct Errors {
    combined: Option<syn::Error>,
    finished: bool,
}

impl Errors {
    pub(crate) fn push(&mut self, error: syn::Error) {
        match &mut self.combined {
            Some(combined) => combined.combine(error),
            None => self.combined = Some(error),
        }
    }

    /// Records an error at one token.
    pub(crate) fn push_at(&mut self, span: Span, message: impl std::fmt::Display) {
        self.push(syn::Error::new(span, message));
    }

    /// Records an error covering `tokens` from the first to the last.
    ///
    /// Unlike a joined span, this underlines the whole range on a stable
    /// compiler, because syn emits the error with a start and an end span.
    pub(crate) fn push_spanned(&mut self, tokens: impl ToTokens, message: impl std::fmt::Display) {
        self.push(syn::Error::new_spanned(tokens, message));
    }

    /// Returns the combined error, if any error was pushed.
    pub(crate) fn finish(mut self) -> Result<(), syn::Error> {
        self.finished = true;
        self.combined.take().map_or(Ok(()), Err)
    }
}

impl Drop for Errors {
    fn drop(&mut self) {
        if !self.finished && !std::thread::panicking() {
            panic!("`Errors` dropped without `finish()`: its errors would be lost");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finish_combines_in_order() {
        let mut errors = Errors::default();
        errors.push_at(Span::call_site(), "first");
        errors.push_spanned(quote::quote!(a b), "second");
        let messages: Vec<String> = errors
            .finish()
            .unwrap_err()
            .into_iter()
            .map(|error| error.to_string())
            .collect();
        assert_eq!(messages, ["first", "second"]);
    }

    #[test]
    fn finish_without_errors_is_ok() {
        assert!(Errors::default().finish().is_ok());
    }

    #[test]
    #[should_panic(expected = "dropped without `finish()`")]
    fn drop_unfinished_panics() {
        let mut errors = Errors::default();
        errors.push_at(Span::call_site(), "lost");
    }
}
