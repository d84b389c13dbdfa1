use axum_knox::knox_view;

pub struct Account {
    pub id: u64,
}

#[knox_view(user = Account)]
pub struct AuthViews;

fn main() {}
