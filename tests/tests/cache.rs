//! The authentication cache (`AUTH_CACHE_TTL`): every revocation made through
//! the process takes effect before it returns, expiry is checked on every hit,
//! and another instance sees a revocation within the TTL.

use std::time::{Duration, Instant};

use axum_knox::{knox_view, Settings};
use knox_tests::{detail_401, skip_postgres, store_tests, Backend, TestApp, ALICE, BOB};
use serde_json::{json, Value};

#[knox_view(ttl = "1h", refresh(ttl = "1d"))]
struct AuthViews;

const CACHE_TTL: Duration = Duration::from_millis(400);

fn cached() -> Settings {
    Settings::builder()
        .auth_cache_ttl(Some(CACHE_TTL))
        .build()
        .unwrap()
}

async fn app(backend: Backend) -> TestApp {
    TestApp::start(backend, cached(), AuthViews::router()).await
}

async fn refresh(app: &TestApp, token: &str) -> reqwest::Response {
    app.client
        .post(app.url("/api/auth/refresh"))
        .json(&json!({ "refresh_token": token }))
        .send()
        .await
        .unwrap()
}

async fn logout_is_immediate(backend: Backend) {
    let app = app(backend).await;
    let token = app.login_token(ALICE).await;
    assert_eq!(app.me(&token).await.status(), 200);
    assert_eq!(app.me(&token).await.status(), 200, "served from the cache");

    assert_eq!(
        app.post_with_token("/api/auth/logout", &token)
            .await
            .status(),
        204
    );
    assert_eq!(
        detail_401(app.me(&token).await, "Token").await,
        "Invalid token."
    );
}

async fn logoutall_is_immediate(backend: Backend) {
    let app = app(backend).await;
    let first = app.login_token(ALICE).await;
    let second = app.login_token(ALICE).await;
    let bob = app.login_token(BOB).await;
    for token in [&first, &second, &bob] {
        assert_eq!(app.me(token).await.status(), 200);
    }

    assert_eq!(
        app.post_with_token("/api/auth/logoutall", &first)
            .await
            .status(),
        204
    );
    assert_eq!(app.me(&first).await.status(), 401);
    assert_eq!(app.me(&second).await.status(), 401);
    assert_eq!(app.me(&bob).await.status(), 200);
}

async fn revoke_all_is_immediate(backend: Backend) {
    let app = app(backend).await;
    let token = app.login_token(ALICE).await;
    assert_eq!(app.me(&token).await.status(), 200);
    let alice = app.users.find_by_username("alice").await.unwrap();
    app.knox.revoke_all(&alice).await.unwrap();
    assert_eq!(app.me(&token).await.status(), 401);
}

async fn rotation_and_reuse_are_immediate(backend: Backend) {
    let app = app(backend).await;
    let body = app.login_body(ALICE).await;
    let (access, refresh_token) = (
        body["token"].as_str().unwrap(),
        body["refresh_token"].as_str().unwrap(),
    );
    assert_eq!(app.me(access).await.status(), 200);

    let rotated: Value = refresh(&app, refresh_token).await.json().await.unwrap();
    assert_eq!(
        app.me(access).await.status(),
        401,
        "the old access token is retired at once"
    );
    let new_access = rotated["token"].as_str().unwrap();
    assert_eq!(app.me(new_access).await.status(), 200);

    assert_eq!(refresh(&app, refresh_token).await.status(), 401, "reuse");
    assert_eq!(
        app.me(new_access).await.status(),
        401,
        "family revocation reaches the cache"
    );
}

async fn expiry_checked_on_hit(backend: Backend) {
    let app = app(backend).await;
    let token = app.login_token(ALICE).await;
    assert_eq!(app.me(&token).await.status(), 200);
    app.clock.advance(Duration::from_secs(3600));
    assert_eq!(app.me(&token).await.status(), 401);
    assert_eq!(app.token_rows().await, 0, "the expired row is deleted");
}

async fn deactivation_with_invalidate(backend: Backend) {
    let app = app(backend).await;
    let token = app.login_token(ALICE).await;
    assert_eq!(app.me(&token).await.status(), 200);

    let alice = app.users.find_by_username("alice").await.unwrap();
    app.users.set_active(alice.id, false).await;
    app.knox.invalidate_user(&alice.id.to_string());
    let response = app.me(&token).await;
    assert_eq!(
        detail_401(response, "Token").await,
        "User inactive or deleted."
    );
}

async fn deactivation_bounded_by_ttl(backend: Backend) {
    let app = app(backend).await;
    let token = app.login_token(ALICE).await;
    assert_eq!(app.me(&token).await.status(), 200);

    // Deactivated behind knox's back: the cached entry is used until its TTL ends.
    let alice = app.users.find_by_username("alice").await.unwrap();
    app.users.set_active(alice.id, false).await;
    tokio::time::sleep(CACHE_TTL).await;
    assert_eq!(app.me(&token).await.status(), 401);
}

async fn unknown_token_stays_invalid(backend: Backend) {
    let app = app(backend).await;
    for _ in 0..3 {
        let response = app.me(&"ab".repeat(32)).await;
        assert_eq!(detail_401(response, "Token").await, "Invalid token.");
    }
    let token = app.login_token(ALICE).await;
    assert_eq!(app.me(&token).await.status(), 200);
}

async fn auto_refresh_writes_through_cache(backend: Backend) {
    let settings = Settings::builder()
        .auth_cache_ttl(Some(Duration::from_secs(60)))
        .token_ttl(Some(Duration::from_secs(3600)))
        .auto_refresh(true)
        .build()
        .unwrap();
    let app = TestApp::start(backend, settings, AuthViews::router()).await;
    let login_time = app.clock_now();
    let token = app.login_token(ALICE).await;
    assert_eq!(app.me(&token).await.status(), 200);

    app.clock.advance(Duration::from_secs(30 * 60));
    let body: Value = app.me(&token).await.json().await.unwrap();
    let expected = login_time + chrono::Duration::minutes(90);
    assert_eq!(body["expiry"], expected.to_rfc3339());
    let stored = app
        .db
        .texts("SELECT CAST(expiry AS TEXT) FROM knox_authtoken")
        .await;
    assert_eq!(stored.len(), 1);
    let stored = stored[0].clone().unwrap();
    assert!(
        stored.starts_with(&expected.format("%Y-%m-%d %H:%M:%S").to_string()),
        "row written: {stored}"
    );

    // Past the original expiry, the cached entry carries the new one.
    app.clock.advance(Duration::from_secs(45 * 60));
    assert_eq!(app.me(&token).await.status(), 200);
}

store_tests!(
    logout_is_immediate,
    logoutall_is_immediate,
    revoke_all_is_immediate,
    rotation_and_reuse_are_immediate,
    expiry_checked_on_hit,
    deactivation_with_invalidate,
    deactivation_bounded_by_ttl,
    unknown_token_stays_invalid,
    auto_refresh_writes_through_cache,
);

/// Measures how long another instance keeps accepting a token revoked on
/// the first: at most the cache TTL plus one poll.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_instance_within_ttl() {
    if skip_postgres() {
        return;
    }
    let first = TestApp::start(Backend::Postgres, cached(), AuthViews::router()).await;
    let second_db = first.db.second_pool().await;
    let second = TestApp::start_on(second_db, cached(), AuthViews::router()).await;

    let token = first.login_token(ALICE).await;
    assert_eq!(
        second.me(&token).await.status(),
        200,
        "cached on the second instance"
    );
    assert_eq!(
        first
            .post_with_token("/api/auth/logout", &token)
            .await
            .status(),
        204
    );

    let revoked_at = Instant::now();
    let poll = Duration::from_millis(20);
    while second.me(&token).await.status() == 200 {
        assert!(
            revoked_at.elapsed() < CACHE_TTL + Duration::from_secs(1),
            "still valid on the other instance"
        );
        tokio::time::sleep(poll).await;
    }
    let lag = revoked_at.elapsed();
    assert!(
        lag <= CACHE_TTL + poll * 5,
        "revocation reached the other instance after {lag:?}"
    );
}

/// On PostgreSQL, instances announce revocations with NOTIFY, so another
/// instance drops a revoked token from its cache long before a long cache TTL ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_instance_notified() {
    if skip_postgres() {
        return;
    }
    let long = Settings::builder()
        .auth_cache_ttl(Some(Duration::from_secs(600)))
        .build()
        .unwrap();
    let first = TestApp::start(Backend::Postgres, long.clone(), AuthViews::router()).await;
    let second_db = first.db.second_pool().await;
    let second = TestApp::start_on(second_db, long, AuthViews::router()).await;
    // Give both listeners time to subscribe.
    tokio::time::sleep(Duration::from_millis(200)).await;

    let token = first.login_token(ALICE).await;
    let other = first.login_token(ALICE).await;
    assert_eq!(
        second.me(&token).await.status(),
        200,
        "cached on the second instance"
    );
    assert_eq!(second.me(&other).await.status(), 200);
    assert_eq!(
        first
            .post_with_token("/api/auth/logout", &token)
            .await
            .status(),
        204
    );

    let revoked_at = Instant::now();
    while second.me(&token).await.status() == 200 {
        assert!(
            revoked_at.elapsed() < Duration::from_secs(2),
            "the announcement did not arrive"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        second.me(&other).await.status(),
        200,
        "the user's other token stays valid"
    );
}
