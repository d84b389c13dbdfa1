use axum_knox::knox_view;

#[knox_view(refresh(reuse_leeway = "0s"))]
pub struct AuthViews;

fn main() {}
