use axum_knox::{knox_view, KnoxHooks};

#[knox_view(ttl = "1h")]
pub struct AuthViews;

impl KnoxHooks for AuthViews {}

fn main() {}
