use axum_knox::knox_view;

#[knox_view(ttl = "0s")]
pub struct AuthViews;

fn main() {}
