use axum_knox::knox_view;

#[knox_view]
pub union AuthViews {
    a: u32,
}

fn main() {}
