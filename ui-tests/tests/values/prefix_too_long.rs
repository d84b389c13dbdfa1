use axum_knox::knox_view;

#[knox_view(prefix = "knox_token_")]
pub struct AuthViews;

fn main() {}
