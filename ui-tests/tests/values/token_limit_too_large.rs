use axum_knox::knox_view;

#[knox_view(token_limit = 4294967296)]
pub struct AuthViews;

fn main() {}
