use axum_knox::knox_view;

#[knox_view(ttl = "-10h")]
pub struct AuthViews;

fn main() {}
