use axum::Router;
use axum_knox::Knox;

mod accounts {
    use serde::Serialize;

    #[derive(Clone)]
    pub struct Account {
        pub id: u64,
        pub email: String,
    }

    #[derive(Serialize)]
    pub struct PublicAccount {
        email: String,
    }

    impl From<&Account> for PublicAccount {
        fn from(account: &Account) -> Self {
            Self {
                email: account.email.clone(),
            }
        }
    }
}

mod auth {
    pub mod views {
        use axum_knox::knox_view;

        #[knox_view(
            user = crate::accounts::Account,
            serializer = crate::accounts::PublicAccount,
            token_limit = 3,
        )]
        pub struct AccountViews;
    }
}

mod app {
    use axum::Router;
    use axum_knox::Knox;

    use crate::accounts::Account;
    use crate::auth::views::AccountViews;

    pub fn router() -> Router<Knox<Account>> {
        Router::new().nest("/api/auth", AccountViews::router())
    }
}

fn main() {
    let _: Router<Knox<accounts::Account>> = app::router();
}
