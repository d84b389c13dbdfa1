//! Token expiry, the purge of expired rows, and auto-refresh.

use std::time::Duration;

use axum_knox::store::Lookup;
use axum_knox::{knox_view, Settings};
use knox_tests::{detail_401, store_tests, Backend, TestApp, ALICE};
use serde_json::Value;

#[knox_view]
struct AuthViews;

const HOUR: Duration = Duration::from_secs(3600);

async fn stored_expiries(app: &TestApp) -> Vec<Option<String>> {
    app.db
        .texts("SELECT CAST(expiry AS TEXT) FROM knox_authtoken ORDER BY created")
        .await
}

async fn me_expiry(app: &TestApp, token: &str) -> String {
    let response = app.me(token).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    body["expiry"].as_str().unwrap().to_owned()
}

fn hours(settings_ttl: u64) -> Settings {
    Settings::builder()
        .token_ttl(Some(HOUR * settings_ttl as u32))
        .build()
        .unwrap()
}

async fn expired_token_is_401_and_deleted(backend: Backend) {
    let app = TestApp::start(backend, hours(1), AuthViews::router()).await;
    let token = app.login_token(ALICE).await;

    app.clock.advance(HOUR - Duration::from_secs(1));
    assert_eq!(app.me(&token).await.status(), 200);

    app.clock.advance(Duration::from_secs(1));
    let response = app.me(&token).await;
    assert_eq!(detail_401(response, "Token").await, "Invalid token.");
    assert_eq!(
        app.token_rows().await,
        0,
        "the expired row is deleted on use"
    );
}

async fn purge_removes_expired_rows(backend: Backend) {
    let app = TestApp::start(backend, hours(1), AuthViews::router()).await;
    app.login_token(ALICE).await;
    app.login_token(ALICE).await;
    app.clock.advance(HOUR / 2);
    let fresh = app.login_token(ALICE).await;

    app.clock.advance(HOUR / 2);
    let purged = app.knox.purge_expired().await.unwrap();
    assert_eq!(purged, 2);
    assert_eq!(app.token_rows().await, 1);
    assert_eq!(app.me(&fresh).await.status(), 200);
}

async fn lookup_predicate_rejects_expired(backend: Backend) {
    let app = TestApp::start(backend, hours(1), AuthViews::router()).await;
    let token = app.login_token(ALICE).await;
    let digest = axum_knox::crypto::hash_token(token.as_bytes());

    let later = app.clock_now() + chrono::Duration::hours(2);
    let lookup = app.knox.store().find_token(&digest, later).await.unwrap();
    assert!(matches!(lookup, Lookup::Expired(_)));
    assert_eq!(app.token_rows().await, 0);
}

fn auto_refresh(max_ttl: Option<Duration>) -> Settings {
    Settings::builder()
        .token_ttl(Some(HOUR))
        .auto_refresh(true)
        .auto_refresh_max_ttl(max_ttl)
        .min_refresh_interval(Duration::from_secs(60))
        .build()
        .unwrap()
}

async fn auto_refresh_moves_expiry(backend: Backend) {
    let app = TestApp::start(backend, auto_refresh(None), AuthViews::router()).await;
    let login_time = app.clock_now();
    let token = app.login_token(ALICE).await;
    let before = stored_expiries(&app).await;

    app.clock.advance(Duration::from_secs(30 * 60));
    let reported = me_expiry(&app, &token).await;
    let expected = login_time + chrono::Duration::minutes(90);
    assert_eq!(reported, expected.to_rfc3339());
    assert_ne!(stored_expiries(&app).await, before, "the row was updated");

    // Past the original expiry, the slid token still works.
    app.clock.advance(Duration::from_secs(45 * 60));
    assert_eq!(app.me(&token).await.status(), 200);
}

async fn auto_refresh_skips_small_moves(backend: Backend) {
    let app = TestApp::start(backend, auto_refresh(None), AuthViews::router()).await;
    let login_time = app.clock_now();
    let token = app.login_token(ALICE).await;
    let before = stored_expiries(&app).await;

    // A move of exactly the interval is not written, as knox compares with `>`.
    app.clock.advance(Duration::from_secs(60));
    let reported = me_expiry(&app, &token).await;
    assert_eq!(
        reported,
        (login_time + chrono::Duration::hours(1)).to_rfc3339()
    );
    assert_eq!(
        stored_expiries(&app).await,
        before,
        "no write inside the interval"
    );

    app.clock.advance(Duration::from_secs(1));
    let reported = me_expiry(&app, &token).await;
    let expected = login_time + chrono::Duration::seconds(3600 + 61);
    assert_eq!(reported, expected.to_rfc3339());
}

async fn auto_refresh_respects_max_ttl(backend: Backend) {
    let app = TestApp::start(
        backend,
        auto_refresh(Some(HOUR + HOUR / 2)),
        AuthViews::router(),
    )
    .await;
    let login_time = app.clock_now();
    let token = app.login_token(ALICE).await;

    app.clock.advance(HOUR - Duration::from_secs(60));
    let reported = me_expiry(&app, &token).await;
    let cap = login_time + chrono::Duration::minutes(90);
    assert_eq!(reported, cap.to_rfc3339(), "capped at created + max TTL");

    app.clock.advance(Duration::from_secs(31 * 60));
    let response = app.me(&token).await;
    assert_eq!(detail_401(response, "Token").await, "Invalid token.");
}

async fn auto_refresh_off_keeps_expiry(backend: Backend) {
    let app = TestApp::start(backend, hours(1), AuthViews::router()).await;
    let login_time = app.clock_now();
    let token = app.login_token(ALICE).await;
    app.clock.advance(Duration::from_secs(30 * 60));
    let reported = me_expiry(&app, &token).await;
    assert_eq!(
        reported,
        (login_time + chrono::Duration::hours(1)).to_rfc3339()
    );
}

async fn extend_after_delete_reports_gone(backend: Backend) {
    let app = TestApp::start(backend, auto_refresh(None), AuthViews::router()).await;
    let token = app.login_token(ALICE).await;
    let digest = axum_knox::crypto::hash_token(token.as_bytes());
    assert_eq!(
        app.post_with_token("/api/auth/logout", &token)
            .await
            .status(),
        204
    );

    let later = app.clock_now() + chrono::Duration::hours(2);
    let extended = app
        .knox
        .store()
        .extend_expiry(&digest, later)
        .await
        .unwrap();
    assert_eq!(extended, None, "a deleted token is not resurrected");
    assert_eq!(app.token_rows().await, 0);
}

store_tests!(
    expired_token_is_401_and_deleted,
    purge_removes_expired_rows,
    lookup_predicate_rejects_expired,
    auto_refresh_moves_expiry,
    auto_refresh_skips_small_moves,
    auto_refresh_respects_max_ttl,
    auto_refresh_off_keeps_expiry,
    extend_after_delete_reports_gone,
);
