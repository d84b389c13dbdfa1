//! Two app instances on one PostgreSQL database, as behind a load balancer:
//! tokens, revocation, the per-user limit and refresh rotation hold across both.

use std::time::Duration;

use axum_knox::users::KnoxUser;
use axum_knox::{knox_view, Knox, Settings};
use knox_tests::{skip_postgres, Backend, TestApp, ALICE};
use serde_json::{json, Value};

#[knox_view(ttl = "1h", token_limit = 5, refresh(ttl = "1d"))]
struct AuthViews;

/// Starts two servers, each with its own pool, on one fresh schema.
async fn two_instances() -> Option<(TestApp, TestApp)> {
    if skip_postgres() {
        return None;
    }
    let first = TestApp::start(Backend::Postgres, Settings::default(), views()).await;
    let second_db = first.db.second_pool().await;
    let second = TestApp::start_on(second_db, Settings::default(), views()).await;
    Some((first, second))
}

fn views() -> axum::Router<Knox<KnoxUser>> {
    AuthViews::router()
}

async fn refresh(app: &TestApp, token: &str) -> reqwest::Response {
    app.client
        .post(app.url("/api/auth/refresh"))
        .json(&json!({ "refresh_token": token }))
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_from_one_works_on_other() {
    let Some((first, second)) = two_instances().await else {
        return;
    };
    let token = first.login_token(ALICE).await;
    assert_eq!(second.me(&token).await.status(), 200);

    assert_eq!(
        second
            .post_with_token("/api/auth/logout", &token)
            .await
            .status(),
        204
    );
    assert_eq!(
        first.me(&token).await.status(),
        401,
        "logout on one is seen at once on the other"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logoutall_seen_by_other() {
    let Some((first, second)) = two_instances().await else {
        return;
    };
    let on_first = first.login_token(ALICE).await;
    let on_second = second.login_token(ALICE).await;
    assert_eq!(
        first
            .post_with_token("/api/auth/logoutall", &on_second)
            .await
            .status(),
        204
    );
    assert_eq!(second.me(&on_first).await.status(), 401);
    assert_eq!(second.me(&on_second).await.status(), 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limit_holds_across_instances() {
    let Some((first, second)) = two_instances().await else {
        return;
    };
    let logins = (0..30).map(|index| {
        let app = if index % 2 == 0 { &first } else { &second };
        app.login(ALICE)
    });
    let statuses: Vec<u16> = futures::future::join_all(logins)
        .await
        .iter()
        .map(|response| response.status().as_u16())
        .collect();

    let created = statuses.iter().filter(|status| **status == 200).count();
    let rejected = statuses.iter().filter(|status| **status == 403).count();
    assert_eq!((created, rejected), (5, 25), "statuses: {statuses:?}");
    assert_eq!(first.db.count("knox_refresh_family", "TRUE").await, 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_race_yields_one_pair() {
    let Some((first, second)) = two_instances().await else {
        return;
    };
    let body: Value = first.login_body(ALICE).await;
    let token = body["refresh_token"].as_str().unwrap().to_owned();

    let requests = (0..20).map(|index| {
        let app = if index % 2 == 0 { &first } else { &second };
        refresh(app, &token)
    });
    let statuses: Vec<u16> = futures::future::join_all(requests)
        .await
        .iter()
        .map(|response| response.status().as_u16())
        .collect();
    let winners = statuses.iter().filter(|status| **status == 200).count();
    assert_eq!(winners, 1, "statuses: {statuses:?}");
    assert!(
        statuses
            .iter()
            .all(|status| *status == 200 || *status == 401),
        "{statuses:?}"
    );

    // Every loser presented a superseded token, so the family is revoked everywhere.
    assert_eq!(first.db.count("knox_refresh_family", "TRUE").await, 0);
    assert_eq!(first.db.count("knox_authtoken", "TRUE").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expiry_seen_by_other() {
    let Some((first, second)) = two_instances().await else {
        return;
    };
    let token = first.login_token(ALICE).await;
    second.clock.advance(Duration::from_secs(3600));
    assert_eq!(second.me(&token).await.status(), 401);
    assert_eq!(
        first.me(&token).await.status(),
        401,
        "the expired row is gone for both"
    );
}
