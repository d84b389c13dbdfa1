use axum_knox::knox_view;

#[knox_view]
pub trait AuthViews {}

fn main() {}
