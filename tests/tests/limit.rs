//! The per-user token limit, enforced atomically under concurrent logins.

use std::time::Duration;

use axum_knox::{knox_view, Settings};
use knox_tests::{TestApp, ALICE, BOB};
use serde_json::Value;

#[knox_view(token_limit = 5, ttl = "1h")]
struct LimitedViews;

#[knox_view]
struct PlainViews;

#[tokio::test]
async fn concurrent_logins_respect_limit() {
    let app = TestApp::start(Settings::default(), LimitedViews::router()).await;

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

#[tokio::test]
async fn limit_frees_after_logout() {
    let app = TestApp::start(Settings::default(), LimitedViews::router()).await;
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

#[tokio::test]
async fn expired_tokens_do_not_count() {
    let app = TestApp::start(Settings::default(), LimitedViews::router()).await;
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

#[tokio::test]
async fn settings_limit_applies() {
    let settings = Settings::builder()
        .token_limit_per_user(Some(1))
        .build()
        .unwrap();
    let app = TestApp::start(settings, PlainViews::router()).await;
    assert_eq!(app.login(ALICE).await.status(), 200);
    assert_eq!(app.login(ALICE).await.status(), 403);
}

#[tokio::test]
async fn never_expiring_tokens_count() {
    let settings = Settings::builder()
        .token_ttl(None)
        .token_limit_per_user(Some(2))
        .build()
        .unwrap();
    let app = TestApp::start(settings, PlainViews::router()).await;
    assert_eq!(app.login(ALICE).await.status(), 200);
    assert_eq!(app.login(ALICE).await.status(), 200);
    assert_eq!(app.login(ALICE).await.status(), 403);
}
