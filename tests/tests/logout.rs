//! Logout, logout-all and the library call that revokes every token of a user.

use axum_knox::{knox_view, Settings};
use knox_tests::{detail_401, store_tests, Backend, TestApp, ALICE, BOB};

#[knox_view]
struct AuthViews;

async fn app(backend: Backend) -> TestApp {
    TestApp::start(backend, Settings::default(), AuthViews::router()).await
}

async fn logout_revokes_only_that_token(backend: Backend) {
    let app = app(backend).await;
    let first = app.login_token(ALICE).await;
    let second = app.login_token(ALICE).await;

    let response = app.post_with_token("/api/auth/logout", &first).await;
    assert_eq!(response.status(), 204);
    assert_eq!(response.text().await.unwrap(), "");

    assert_eq!(
        detail_401(app.me(&first).await, "Token").await,
        "Invalid token."
    );
    assert_eq!(app.me(&second).await.status(), 200);
    assert_eq!(app.token_rows().await, 1);
}

async fn logout_twice_is_401(backend: Backend) {
    let app = app(backend).await;
    let token = app.login_token(ALICE).await;
    assert_eq!(
        app.post_with_token("/api/auth/logout", &token)
            .await
            .status(),
        204
    );
    let again = app.post_with_token("/api/auth/logout", &token).await;
    assert_eq!(detail_401(again, "Token").await, "Invalid token.");
}

async fn logout_without_token_is_401(backend: Backend) {
    let app = app(backend).await;
    for path in ["/api/auth/logout", "/api/auth/logoutall"] {
        let response = app.client.post(app.url(path)).send().await.unwrap();
        assert_eq!(
            detail_401(response, "Token").await,
            "Authentication credentials were not provided.",
            "{path}"
        );
    }
}

async fn logoutall_revokes_every_token_of_user(backend: Backend) {
    let app = app(backend).await;
    let alice_tokens = [
        app.login_token(ALICE).await,
        app.login_token(ALICE).await,
        app.login_token(ALICE).await,
    ];
    let bob_token = app.login_token(BOB).await;

    let response = app
        .post_with_token("/api/auth/logoutall", &alice_tokens[1])
        .await;
    assert_eq!(response.status(), 204);

    for token in &alice_tokens {
        assert_eq!(
            detail_401(app.me(token).await, "Token").await,
            "Invalid token."
        );
    }
    assert_eq!(
        app.me(&bob_token).await.status(),
        200,
        "other users keep their tokens"
    );
    assert_eq!(app.token_rows().await, 1);
}

async fn revoke_all_library_call(backend: Backend) {
    let app = app(backend).await;
    let first = app.login_token(ALICE).await;
    let second = app.login_token(ALICE).await;
    let bob_token = app.login_token(BOB).await;

    let alice = app.users.find_by_username("alice").await.unwrap();
    let revoked = app.knox.revoke_all(&alice).await.unwrap();
    assert_eq!(revoked, 2);

    assert_eq!(app.me(&first).await.status(), 401);
    assert_eq!(app.me(&second).await.status(), 401);
    assert_eq!(app.me(&bob_token).await.status(), 200);
}

store_tests!(
    logout_revokes_only_that_token,
    logout_twice_is_401,
    logout_without_token_is_401,
    logoutall_revokes_every_token_of_user,
    revoke_all_library_call,
);
