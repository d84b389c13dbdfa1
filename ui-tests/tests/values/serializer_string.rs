use axum_knox::knox_view;

#[knox_view(serializer = "PublicUser")]
pub struct AuthViews;

fn main() {}
