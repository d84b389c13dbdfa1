use axum_knox::knox_view;

#[knox_view]
pub enum AuthViews {
    Login,
}

fn main() {}
