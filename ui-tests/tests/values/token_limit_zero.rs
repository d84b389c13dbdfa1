use axum_knox::knox_view;

#[knox_view(token_limit = 0)]
pub struct AuthViews;

fn main() {}
