use axum::Router;
use axum_knox::users::KnoxUser;
use axum_knox::{knox_view, Knox};

#[knox_view]
pub struct AuthViews;

#[knox_view()]
pub struct EmptyParentheses;

fn main() {
    let _: Router<Knox<KnoxUser>> = Router::new()
        .nest("/a", AuthViews::router())
        .nest("/b", EmptyParentheses::router());
}
