use axum_knox::knox_view;

#[knox_view]
pub struct AuthViews {
    ttl: u64,
}

fn main() {}
