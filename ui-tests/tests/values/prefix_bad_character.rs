use axum_knox::knox_view;

#[knox_view(prefix = "kx.")]
pub struct AuthViews;

fn main() {}
