use axum_knox::{knox_view, KnoxHooks};

#[knox_view(custom_hooks = true)]
pub struct AuthViews;

impl KnoxHooks for AuthViews {}

fn main() {}
