//! The `#[knox_view]` attribute of axum-knox. Use it through `axum_knox::knox_view`;
//! its documentation lives there.

use proc_macro::TokenStream;

mod args;
mod errors;
mod expand;
mod item;
mod suggest;
mod validate;
mod values;

#[allow(
    missing_docs,
    reason = "rustdoc appends these docs to those of the `axum_knox::knox_view` re-export, which has the full page"
)]
#[proc_macro_attribute]
pub fn knox_view(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand::knox_view(attr.into(), item.into()).into()
}
