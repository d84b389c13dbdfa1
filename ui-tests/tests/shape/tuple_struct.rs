use axum_knox::knox_view;

#[knox_view]
pub struct AuthViews(u64);

fn main() {}
