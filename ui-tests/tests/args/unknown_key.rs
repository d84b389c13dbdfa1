use axum_knox::knox_view;

#[knox_view(tll = "10h")]
pub struct AuthViews;

fn main() {}
