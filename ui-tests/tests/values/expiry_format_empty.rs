use axum_knox::knox_view;

#[knox_view(expiry_format = "")]
pub struct AuthViews;

fn main() {}
