use axum_knox::knox_view;

#[knox_view(ttl =, token_limit = 5)]
pub struct AuthViews;

fn main() {}
