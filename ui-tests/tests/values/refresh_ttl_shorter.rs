use axum_knox::knox_view;

#[knox_view(ttl = "10h", refresh(ttl = "1h"))]
pub struct AuthViews;

fn main() {}
