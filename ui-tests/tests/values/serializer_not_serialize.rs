use axum_knox::knox_view;
use axum_knox::users::SqliteUser;

pub struct PublicUser {
    pub username: String,
}

impl From<&SqliteUser> for PublicUser {
    fn from(user: &SqliteUser) -> Self {
        Self {
            username: user.username.clone(),
        }
    }
}

#[knox_view(serializer = PublicUser)]
pub struct AuthViews;

fn main() {}
