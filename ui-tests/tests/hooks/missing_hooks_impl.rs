use axum_knox::knox_view;

#[knox_view(custom_hooks)]
pub struct AuthViews;

fn main() {}
