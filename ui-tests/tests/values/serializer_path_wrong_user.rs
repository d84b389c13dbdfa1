use axum_knox::knox_view;

pub mod api {
    use serde::Serialize;

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
}

#[knox_view(serializer = self::api::PublicAccount)]
pub struct AuthViews;

fn main() {}
