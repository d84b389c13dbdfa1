use axum_knox::knox_view;

#[knox_view]
pub fn auth_views() {}

fn main() {}
