use axum_knox::knox_view;

#[knox_view(ttl = "99999999999999999999d")]
pub struct AuthViews;

fn main() {}
