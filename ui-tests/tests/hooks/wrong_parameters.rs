use axum_knox::users::KnoxUser;
use axum_knox::{knox_view, Context, KnoxHooks};

#[knox_view(custom_hooks)]
pub struct AuthViews;

impl KnoxHooks for AuthViews {
    fn token_limit_per_user(&self, _ctx: &Context<'_, KnoxUser>, _current: u32) -> Option<u32> {
        Some(3)
    }
}

fn main() {}
