use axum::Router;
use axum_knox::users::KnoxUser;
use axum_knox::{knox_view, Knox, KnoxHooks};
use serde::Serialize;

#[derive(Serialize)]
pub struct PublicUser {
    username: String,
}

impl From<&KnoxUser> for PublicUser {
    fn from(user: &KnoxUser) -> Self {
        Self {
            username: user.username.clone(),
        }
    }
}

#[knox_view(
    ttl = "10h",
    token_limit = 5,
    serializer = PublicUser,
    expiry_format = "%Y-%m-%dT%H:%M:%S%.6fZ",
    prefix = "kx_",
    user = KnoxUser,
    custom_hooks,
    refresh(ttl = "30d", min_issue_interval = "1s", max_history = 10, reuse_leeway = "5s"),
)]
pub struct AuthViews;

impl KnoxHooks for AuthViews {}

fn main() {
    let _: Router<Knox<KnoxUser>> = Router::new().nest("/api/auth", AuthViews::router());
}
