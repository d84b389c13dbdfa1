use axum_knox::knox_view;

#[knox_view(refresh(max_history = 0))]
pub struct AuthViews;

fn main() {}
