use std::time::Duration;

use axum_knox::users::KnoxUser;
use axum_knox::{knox_view, Context, KnoxHooks};

#[knox_view(custom_hooks)]
pub struct AuthViews;

impl KnoxHooks for AuthViews {
    fn token_tll(&self, _ctx: &Context<'_, KnoxUser>) -> Option<Duration> {
        Some(Duration::from_secs(60))
    }
}

fn main() {}
