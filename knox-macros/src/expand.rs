//! Code generation: the view's `KnoxView` impl, its default hooks and its router.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned, ToTokens};
use syn::spanned::Spanned;
use syn::{Ident, ItemStruct};

use crate::args::RawArgs;
use crate::errors::Errors;
use crate::item::check_item;
use crate::validate::{validate, ViewConfig};
use crate::values::Ttl;

/// Expands `#[knox_view(attr)] item`.
///
/// On invalid arguments it emits the errors and still expands the view from
/// the valid ones, so that the user's `impl KnoxHooks` block and calls to
/// `router()` raise no follow-on errors. An item that is not a unit struct,
/// or arguments that do not parse at all, leave the item unchanged.
pub(crate) fn knox_view(attr: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Errors::default();

    let config = match syn::parse2::<RawArgs>(attr) {
        Ok(args) => Some(validate(args, &mut errors)),
        Err(error) => {
            errors.push(error);
            None
        }
    };
    let item_struct = check_item(item.clone(), &mut errors);

    let output = match (config, item_struct) {
        (Some(config), Some(item_struct)) => expand(&config, &item_struct),
        _ => item,
    };
    match errors.finish() {
        Ok(()) => output,
        Err(error) => {
            let error = error.into_compile_error();
            quote! { #error #output }
        }
    }
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
        // With this span, the `on_unimplemented` message of `UserSerializer`
        // points at the type in the attribute.
        Some(serializer) => quote_spanned! {serializer.span()=>
            <#serializer as #private::UserSerializer<#user>>::to_user_data(user).map(#private::Some)
        },
        None => quote!(#private::Ok(#private::None)),
    };
    let (hooks, router_body) = match &config.custom_hooks {
        None => (
            quote! { impl #private::KnoxHooks for #name {} },
            quote!(#private::view_router::<Self, S>()),
        ),
        Some(flag) => (
            TokenStream::new(),
            checked_view_router(name, flag, &private),
        ),
    };
    let router_doc = format!(
        "Returns the router of `{name}`: `POST login`, `POST refresh`, `POST logout` and `POST logoutall`, to nest under a path such as `/api/auth`."
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
                #router_body
            }
        }
    }
}

/// Builds the router body of a view with `custom_hooks`, whose
/// `impl KnoxHooks` the user writes.
///
/// The body reaches `view_router` through a local trait that requires
/// `KnoxHooks`. A missing impl then fails one bound at the `custom_hooks`
/// argument, and the message names the missing block. A direct call would
/// report rustc's generic "trait bound not satisfied" at the attribute.
fn checked_view_router(name: &Ident, flag: &Ident, private: &TokenStream) -> TokenStream {
    let mut view = name.clone();
    view.set_span(flag.span());
    let message = format!("`{name}` has `custom_hooks` but no `impl KnoxHooks for {name}`");
    let note = format!(
        "add `impl axum_knox::KnoxHooks for {name}` with the hooks to override, or remove `custom_hooks` to keep every default"
    );

    quote_spanned! {flag.span()=>
        #[diagnostic::on_unimplemented(
            message = #message,
            label = "`custom_hooks` leaves the `KnoxHooks` impl to you",
            note = #note,
        )]
        trait CustomHooks: #private::KnoxHooks {}
        impl<T: #private::KnoxHooks> CustomHooks for T {}

        fn view_router<V: CustomHooks, S>() -> #private::Router<S>
        where
            S: ::core::clone::Clone + ::core::marker::Send + ::core::marker::Sync + 'static,
            #private::Knox<V::User>: #private::FromRef<S>,
        {
            #private::view_router::<V, S>()
        }

        view_router::<#view, S>()
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
