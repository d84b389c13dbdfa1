use axum_knox::knox_view;

// django-rest-knox's setting names point at the argument that replaces them.
#[knox_view(TOKEN_TTL = "10h", refresh(max_token_history = 5))]
pub struct AuthViews;

fn main() {}
