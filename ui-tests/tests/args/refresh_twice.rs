use axum_knox::knox_view;

#[knox_view(refresh, ttl = "1h", refresh(ttl = "30d"))]
pub struct AuthViews;

fn main() {}
