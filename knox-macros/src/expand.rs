//! Code generation: the view's `KnoxView` impl, its default hooks and its router.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned, ToTokens};
use syn::spanned::Spanned;
use syn::{Fields, Item, ItemStruct};

use crate::args::RawArgs;
use crate::validate::{validate, Errors, Ttl, ViewConfig};

/// Expands `#[knox_view(attr)] item`. On any error it emits the errors and the
/// item unchanged, so the rest of the crate still sees the struct.
pub(crate) fn knox_view(attr: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Errors::default();

    let config = match syn::parse2::<RawArgs>(attr).and_then(validate) {
        Ok(config) => Some(config),
        Err(error) => {
            errors.push(error);
            None
        }
    };
    let item_struct = match check_item(item.clone()) {
        Ok(item_struct) => Some(item_struct),
        Err(error) => {
            errors.push(error);
            None
        }
    };

    match (errors.finish(), config, item_struct) {
        (Ok(()), Some(config), Some(item_struct)) => expand(&config, &item_struct),
        (result, ..) => {
            let errors = result.err().map(syn::Error::into_compile_error);
            quote! { #errors #item }
        }
    }
}

/// Accepts only a non-generic unit struct, since the view is a marker type
/// that the generated handlers construct themselves.
fn check_item(item: TokenStream) -> Result<ItemStruct, syn::Error> {
    const ACCEPTS: &str = "`#[knox_view]` goes on a unit struct, such as `pub struct AuthViews;`";
    let item: Item =
        syn::parse2(item.clone()).map_err(|_| syn::Error::new(item.span(), ACCEPTS))?;
    let item_struct = match item {
        Item::Struct(item_struct) => item_struct,
        Item::Enum(item) => {
            return Err(syn::Error::new(
                item.enum_token.span,
                format!("{ACCEPTS}, not an enum"),
            ))
        }
        Item::Union(item) => {
            return Err(syn::Error::new(
                item.union_token.span,
                format!("{ACCEPTS}, not a union"),
            ))
        }
        Item::Fn(item) => {
            return Err(syn::Error::new(
                item.sig.fn_token.span,
                format!("{ACCEPTS}, not a function"),
            ))
        }
        other => return Err(syn::Error::new(other.span(), ACCEPTS)),
    };
    if !item_struct.generics.params.is_empty() || item_struct.generics.where_clause.is_some() {
        return Err(syn::Error::new(
            item_struct.generics.span(),
            "a `#[knox_view]` struct cannot be generic; declare one struct per view",
        ));
    }
    if !matches!(item_struct.fields, Fields::Unit) {
        return Err(syn::Error::new(
            item_struct.fields.span(),
            format!("{ACCEPTS}; a view struct has no fields, since settings go in the attribute"),
        ));
    }
    Ok(item_struct)
}

fn expand(config: &ViewConfig, item: &ItemStruct) -> TokenStream {
    let name = &item.ident;
    let private = quote!(::axum_knox::__private);

    let user = match &config.user {
        Some(user) => user.to_token_stream(),
        None => quote!(#private::DefaultUser),
    };
    let options = expand_options(config, &private);
    let user_data = match &config.serializer {
        // The span puts a "cannot serialize" error on the type in the attribute.
        Some(serializer) => quote_spanned! {serializer.span()=>
            <#serializer as #private::UserSerializer<#user>>::to_user_data(user).map(#private::Some)
        },
        None => quote!(#private::Ok(#private::None)),
    };
    let hooks = match &config.custom_hooks {
        None => quote! { impl #private::KnoxHooks for #name {} },
        // With `custom_hooks`, the user's own impl must exist; say so at the argument.
        Some(flag) => quote_spanned! {flag.span()=>
            const _: fn() = || {
                fn requires_hooks_impl<T: #private::KnoxHooks>() {}
                requires_hooks_impl::<#name>();
            };
        },
    };
    let router_doc = format!(
        "Returns the router of `{name}`: `POST login`, `POST logout` and `POST logoutall`, to nest under a path such as `/api/auth`."
    );

    quote! {
        #item

        impl #private::KnoxView for #name {
            type User = #user;
            const OPTIONS: #private::ViewOptions = #options;
            const VIEW: Self = #name;

            fn configured_user_data(
                user: &Self::User,
            ) -> ::core::result::Result<#private::Option<#private::Value>, #private::SerdeJsonError> {
                #user_data
            }
        }

        #hooks

        impl #name {
            #[doc = #router_doc]
            pub fn router<S>() -> #private::Router<S>
            where
                S: ::core::clone::Clone + ::core::marker::Send + ::core::marker::Sync + 'static,
                #private::Knox<#user>: #private::FromRef<S>,
            {
                #private::view_router::<Self, S>()
            }
        }
    }
}

fn expand_options(config: &ViewConfig, private: &TokenStream) -> TokenStream {
    let some = quote!(#private::Some);
    let none = quote!(#private::None);

    let ttl = match config.ttl {
        None => none.clone(),
        Some(Ttl::Never) => quote!(#some(#none)),
        Some(Ttl::After(duration)) => {
            let duration = optional_duration(Some(duration), private);
            quote!(#some(#duration))
        }
    };
    let token_limit = match config.token_limit {
        Some(limit) => quote!(#some(#limit)),
        None => none.clone(),
    };
    let expiry_format = optional_str(config.expiry_format.as_deref(), &some, &none);
    let prefix = optional_str(config.prefix.as_deref(), &some, &none);
    let refresh = match &config.refresh {
        None => none.clone(),
        Some(refresh) => {
            let ttl = optional_duration(refresh.ttl.map(|(ttl, _)| ttl), private);
            let min_issue_interval = optional_duration(refresh.min_issue_interval, private);
            let reuse_leeway = optional_duration(refresh.reuse_leeway, private);
            let max_history = match refresh.max_history {
                Some(history) => quote!(#some(#history)),
                None => none.clone(),
            };
            quote! {
                #some({
                    let mut refresh = #private::RefreshOptions::SETTINGS;
                    refresh.ttl = #ttl;
                    refresh.min_issue_interval = #min_issue_interval;
                    refresh.max_history = #max_history;
                    refresh.reuse_leeway = #reuse_leeway;
                    refresh
                })
            }
        }
    };

    quote! {
        {
            let mut options = #private::ViewOptions::EMPTY;
            options.ttl = #ttl;
            options.token_limit = #token_limit;
            options.expiry_format = #expiry_format;
            options.prefix = #prefix;
            options.refresh = #refresh;
            options
        }
    }
}

fn optional_duration(value: Option<std::time::Duration>, private: &TokenStream) -> TokenStream {
    match value {
        Some(duration) => {
            let secs = duration.as_secs();
            let nanos = duration.subsec_nanos();
            quote!(#private::Some(#private::Duration::new(#secs, #nanos)))
        }
        None => quote!(#private::None),
    }
}

fn optional_str(value: Option<&str>, some: &TokenStream, none: &TokenStream) -> TokenStream {
    match value {
        Some(text) => {
            let literal = syn::LitStr::new(text, Span::call_site());
            quote!(#some(#literal))
        }
        None => none.clone(),
    }
}
