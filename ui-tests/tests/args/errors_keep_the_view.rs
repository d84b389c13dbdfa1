// An invalid argument is the only error: the view is still generated from the
// valid arguments, so the hooks impl and the router call below compile.
use std::time::Duration;

use axum::Router;
use axum_knox::users::KnoxUser;
use axum_knox::{knox_view, Context, Knox, KnoxHooks};

#[knox_view(custom_hooks, ttl = "ten hours", prefix = "kx_")]
pub struct AuthViews;

impl KnoxHooks for AuthViews {
    fn token_ttl(&self, _ctx: &Context<'_, KnoxUser>) -> Option<Duration> {
        Some(Duration::from_secs(60))
    }
}

fn main() {
    let _: Router<Knox<KnoxUser>> = Router::new().nest("/api/auth", AuthViews::router());
}
