use axum_knox::knox_view;

#[knox_view]
pub struct AuthViews<const VERSION: u8>;

fn main() {}
