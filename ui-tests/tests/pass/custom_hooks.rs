use std::time::Duration;

use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Router;
use axum_knox::users::KnoxUser;
use axum_knox::{authenticate_basic, knox_view, Context, Knox, KnoxHooks, KnoxRejection};

#[knox_view(custom_hooks, ttl = "8h")]
pub struct AuthViews;

impl KnoxHooks for AuthViews {
    fn token_ttl(&self, ctx: &Context<'_, KnoxUser>) -> Option<Duration> {
        if ctx.user.username.starts_with("admin") {
            Some(Duration::from_secs(15 * 60))
        } else {
            ctx.knox.settings().token_ttl()
        }
    }

    fn token_limit_per_user(&self, _ctx: &Context<'_, KnoxUser>) -> Option<u32> {
        Some(3)
    }

    fn post_response(&self, _ctx: &Context<'_, KnoxUser>) -> Response {
        StatusCode::OK.into_response()
    }

    async fn authenticate(
        &self,
        knox: &Knox<KnoxUser>,
        request: &Parts,
    ) -> Result<KnoxUser, KnoxRejection> {
        let user = authenticate_basic(knox, request).await?;
        Ok(user)
    }
}

fn main() {
    let _: Router<Knox<KnoxUser>> = Router::new().nest("/api/auth", AuthViews::router());
}
