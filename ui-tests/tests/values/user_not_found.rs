use axum_knox::knox_view;

#[knox_view(user = Acount)]
pub struct AuthViews;

fn main() {}
