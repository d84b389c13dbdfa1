use axum_knox::knox_view;

#[knox_view(ttl = none, refresh)]
pub struct AuthViews;

fn main() {}
