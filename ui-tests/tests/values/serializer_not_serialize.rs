use axum_knox::knox_view;
use axum_knox::users::KnoxUser;

pub struct PublicUser {
    pub username: String,
}

impl From<&KnoxUser> for PublicUser {
    fn from(user: &KnoxUser) -> Self {
        Self {
            username: user.username.clone(),
        }
    }
}

#[knox_view(serializer = PublicUser)]
pub struct AuthViews;

fn main() {}
