use axum_knox::knox_view;

#[knox_view(serializer = PublicUsr)]
pub struct AuthViews;

fn main() {}
