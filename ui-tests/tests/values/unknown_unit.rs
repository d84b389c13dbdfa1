use axum_knox::knox_view;

#[knox_view(ttl = "10hourz")]
pub struct AuthViews;

fn main() {}
