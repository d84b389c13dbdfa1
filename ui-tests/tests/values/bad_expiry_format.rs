use axum_knox::knox_view;

#[knox_view(expiry_format = "%Y-%m-%d %Q")]
pub struct AuthViews;

fn main() {}
