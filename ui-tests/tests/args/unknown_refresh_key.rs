use axum_knox::knox_view;

#[knox_view(refresh(tl = "30d"))]
pub struct AuthViews;

fn main() {}
