use std::time::Duration;

use axum_knox::{knox_view, Context, KnoxHooks};

#[derive(Clone)]
pub struct Account {
    pub id: u64,
}

// The view's user type is the default, KnoxUser, so hooks take
// `Context<'_, KnoxUser>`; `user = Account` would fix it.
#[knox_view(custom_hooks)]
pub struct AuthViews;

impl KnoxHooks for AuthViews {
    fn token_ttl(&self, _ctx: &Context<'_, Account>) -> Option<Duration> {
        None
    }
}

fn main() {}
