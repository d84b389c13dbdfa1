use axum_knox::knox_view;

#[knox_view(
    tll = "10h",
    token_limit = 0,
    prefix = "far_too_long",
    refresh(max_history = 0)
)]
pub struct AuthViews;

fn main() {}
