use axum_knox::knox_view;

#[knox_view(colour = "red")]
pub struct AuthViews;

fn main() {}
