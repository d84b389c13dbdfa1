//! The `#[knox_view]` attribute of axum-knox. Use it through `axum_knox::knox_view`;
//! its documentation lives there.

use proc_macro::TokenStream;

mod args;
mod expand;
mod suggest;
mod validate;

/// Declares knox's login, logout and logout-all views on a unit struct.
/// See `axum_knox::knox_view` for the arguments.
#[proc_macro_attribute]
pub fn knox_view(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand::knox_view(attr.into(), item.into()).into()
}
