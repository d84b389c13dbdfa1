//! The per-user token limit, enforced atomically under concurrent logins.

use std::time::Duration;

use axum_knox::{knox_view, Settings};
use knox_tests::{store_tests, Backend, TestApp, ALICE, BOB};
use serde_json::Value;

#[knox_view(token_limit = 5, ttl = "1h")]
struct LimitedViews;

#[knox_view]
struct PlainViews;

async fn concurrent_logins_respect_limit(backend: Backend) {
    let app = TestApp::start(backend, Settings::default(), LimitedViews::router()).await;

    let logins = (0..30).map(|_| app.login(ALICE));
    let responses = futures::future::join_all(logins).await;

    let mut created = 0;
    let mut rejected = 0;
    for response in responses {
        match response.status().as_u16() {
            200 => created += 1,
            403 => {
                let body: Value = response.json().await.unwrap();
                assert_eq!(
                    body,
                    serde_json::json!({"error": "Maximum amount of tokens allowed per user exceeded."})
                );
                rejected += 1;
            }
            status => panic!("unexpected status {status}"),
        }
    }
    assert_eq!(created, 5);
    assert_eq!(rejected, 25);
    assert_eq!(app.token_rows().await, 5);
}

async fn limit_frees_after_logout(backend: Backend) {
    let app = TestApp::start(backend, Settings::default(), LimitedViews::router()).await;
    let mut tokens = Vec::new();
    for _ in 0..5 {
        tokens.push(app.login_token(ALICE).await);
    }
    assert_eq!(app.login(ALICE).await.status(), 403);
    assert_eq!(app.login(BOB).await.status(), 200, "the limit is per user");

    assert_eq!(
        app.post_with_token("/api/auth/logout", &tokens[0])
            .await
            .status(),
        204
    );
    assert_eq!(app.login(ALICE).await.status(), 200);
}

async fn expired_tokens_do_not_count(backend: Backend) {
    let app = TestApp::start(backend, Settings::default(), LimitedViews::router()).await;
    for _ in 0..5 {
        app.login_token(ALICE).await;
    }
    assert_eq!(app.login(ALICE).await.status(), 403);

    app.clock.advance(Duration::from_secs(3600));
    assert_eq!(
        app.login(ALICE).await.status(),
        200,
        "expired rows, purged or not, never count"
    );
}

async fn settings_limit_applies(backend: Backend) {
    let settings = Settings::builder()
        .token_limit_per_user(Some(1))
        .build()
        .unwrap();
    let app = TestApp::start(backend, settings, PlainViews::router()).await;
    assert_eq!(app.login(ALICE).await.status(), 200);
    assert_eq!(app.login(ALICE).await.status(), 403);
}

async fn never_expiring_tokens_count(backend: Backend) {
    let settings = Settings::builder()
        .token_ttl(None)
        .token_limit_per_user(Some(2))
        .build()
        .unwrap();
    let app = TestApp::start(backend, settings, PlainViews::router()).await;
    assert_eq!(app.login(ALICE).await.status(), 200);
    assert_eq!(app.login(ALICE).await.status(), 200);
    assert_eq!(app.login(ALICE).await.status(), 403);
}

store_tests!(
    concurrent_logins_respect_limit,
    limit_frees_after_logout,
    expired_tokens_do_not_count,
    settings_limit_applies,
    never_expiring_tokens_count,
);
