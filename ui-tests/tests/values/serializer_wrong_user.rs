use axum_knox::knox_view;
use serde::Serialize;

#[derive(Clone)]
pub struct Account {
    pub name: String,
}

#[derive(Serialize)]
pub struct PublicAccount {
    name: String,
}

impl From<&Account> for PublicAccount {
    fn from(account: &Account) -> Self {
        Self {
            name: account.name.clone(),
        }
    }
}

// The view's user type is the default, KnoxUser, not Account.
#[knox_view(serializer = PublicAccount)]
pub struct AuthViews;

fn main() {}
