//! The item under `#[knox_view]`: only a non-generic unit struct is accepted.

use proc_macro2::TokenStream;
use syn::spanned::Spanned;
use syn::{Fields, Item, ItemStruct};

use crate::errors::Errors;

const ACCEPTS: &str = "`#[knox_view]` goes on a unit struct, such as `pub struct AuthViews;`";

/// Returns the struct under the attribute, or records why the item cannot be
/// a view. The view is a marker type that the generated handlers construct
/// themselves, so it has no fields and no generic parameters.
pub(crate) fn check_item(item: TokenStream, errors: &mut Errors) -> Option<ItemStruct> {
    let item: Item = match syn::parse2(item.clone()) {
        Ok(item) => item,
        Err(_) => {
            errors.push_at(item.span(), ACCEPTS);
            return None;
        }
    };
    let item_struct = match item {
        Item::Struct(item_struct) => item_struct,
        Item::Enum(item) => {
            errors.push_at(item.enum_token.span, format!("{ACCEPTS}, not an enum"));
            return None;
        }
        Item::Union(item) => {
            errors.push_at(item.union_token.span, format!("{ACCEPTS}, not a union"));
            return None;
        }
        Item::Fn(item) => {
            errors.push_at(item.sig.fn_token.span, format!("{ACCEPTS}, not a function"));
            return None;
        }
        Item::Trait(item) => {
            errors.push_at(item.trait_token.span, format!("{ACCEPTS}, not a trait"));
            return None;
        }
        Item::Impl(item) => {
            errors.push_at(
                item.impl_token.span,
                format!("{ACCEPTS}, not an impl block"),
            );
            return None;
        }
        other => {
            errors.push_at(other.span(), ACCEPTS);
            return None;
        }
    };

    let mut valid = true;
    if !item_struct.generics.params.is_empty() {
        errors.push_spanned(
            &item_struct.generics,
            "a `#[knox_view]` struct cannot be generic; declare one struct per view",
        );
        valid = false;
    } else if let Some(where_clause) = &item_struct.generics.where_clause {
        errors.push_spanned(
            where_clause,
            "a `#[knox_view]` struct cannot have a `where` clause; remove it",
        );
        valid = false;
    }
    if !matches!(item_struct.fields, Fields::Unit) {
        errors.push_spanned(
            &item_struct.fields,
            format!(
                "a `#[knox_view]` struct has no fields, because its settings go in the attribute; declare it as `struct {};`",
                item_struct.ident
            ),
        );
        valid = false;
    }
    valid.then_some(item_struct)
}

#[cfg(test)]
mod tests {
    use quote::quote;

    use super::*;

    fn messages(item: TokenStream) -> Vec<String> {
        let mut errors = Errors::default();
        let checked = check_item(item, &mut errors);
        match errors.finish() {
            Ok(()) => {
                assert!(checked.is_some());
                Vec::new()
            }
            Err(error) => {
                assert!(checked.is_none());
                error.into_iter().map(|error| error.to_string()).collect()
            }
        }
    }

    #[test]
    fn accepts_unit_struct() {
        assert!(messages(quote!(
            #[derive(Debug)]
            pub(crate) struct AuthViews;
        ))
        .is_empty());
    }

    #[test]
    fn rejects_other_items() {
        let cases = [
            (
                quote!(
                    enum A {
                        B,
                    }
                ),
                ", not an enum",
            ),
            (quote!(union A { b: u32 }), ", not a union"),
            (
                quote!(
                    fn a() {}
                ),
                ", not a function",
            ),
            (
                quote!(
                    trait A {}
                ),
                ", not a trait",
            ),
            (quote!(impl A {}), ", not an impl block"),
            (
                quote!(
                    mod a {}
                ),
                "",
            ),
        ];
        for (item, suffix) in cases {
            assert_eq!(messages(item), [format!("{ACCEPTS}{suffix}")]);
        }
    }

    #[test]
    fn rejects_generics_and_fields_together() {
        let errors = messages(quote!(
            struct A<T> {
                t: T,
            }
        ));
        assert_eq!(errors.len(), 2);
        assert_eq!(
            errors[0],
            "a `#[knox_view]` struct cannot be generic; declare one struct per view"
        );
        assert_eq!(
            errors[1],
            "a `#[knox_view]` struct has no fields, because its settings go in the attribute; declare it as `struct A;`"
        );
    }

    #[test]
    fn rejects_lifetime_and_where_clause() {
        assert_eq!(
            messages(quote!(
                struct A<'a>;
            ))
            .len(),
            1
        );
        assert_eq!(
            messages(quote!(
                struct A
                where
                    u8: Copy;
            )),
            ["a `#[knox_view]` struct cannot have a `where` clause; remove it"]
        );
    }
}
