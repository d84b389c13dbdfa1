use axum_knox::knox_view;

#[knox_view(token_limit)]
pub struct AuthViews;

fn main() {}
