//! Refresh tokens: rotation, reuse detection, throttle, lifetime, leeway,
//! logout and the per-user limit, over HTTP against SQLite.

use std::time::Duration;

use axum_knox::users::KnoxUser;
use axum_knox::{knox_view, Settings};
use knox_tests::{detail_401, store_tests, Backend, TestApp, ALICE, BOB};
use serde::Serialize;
use serde_json::{json, Value};

#[derive(Serialize)]
struct PublicUser {
    username: String,
}

impl From<&KnoxUser> for PublicUser {
    fn from(user: &KnoxUser) -> Self {
        Self {
            username: user.username.clone(),
        }
    }
}

#[knox_view(ttl = "15m", serializer = PublicUser, refresh(ttl = "1d", max_history = 3))]
struct RefreshViews;

#[knox_view(ttl = "15m", refresh(ttl = "1d", min_issue_interval = "10s"))]
struct ThrottledViews;

#[knox_view(ttl = "15m", refresh(ttl = "1d", reuse_leeway = "5s"))]
struct LeewayViews;

#[knox_view(ttl = "15m", token_limit = 2, refresh(ttl = "1d"))]
struct LimitedViews;

#[knox_view(ttl = "15m")]
struct NoRefreshViews;

/// Access and refresh token of one login or refresh.
struct Pair {
    access: String,
    refresh: String,
    body: Value,
}

impl Pair {
    fn from_body(body: Value) -> Pair {
        Pair {
            access: body["token"].as_str().expect("token").to_owned(),
            refresh: body["refresh_token"]
                .as_str()
                .expect("refresh_token")
                .to_owned(),
            body,
        }
    }
}

async fn login(app: &TestApp) -> Pair {
    Pair::from_body(app.login_body(ALICE).await)
}

async fn post_refresh(app: &TestApp, body: Value) -> reqwest::Response {
    app.client
        .post(app.url("/api/auth/refresh"))
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn refresh(app: &TestApp, refresh_token: &str) -> reqwest::Response {
    post_refresh(app, json!({ "refresh_token": refresh_token })).await
}

async fn refresh_ok(app: &TestApp, refresh_token: &str) -> Pair {
    let response = refresh(app, refresh_token).await;
    assert_eq!(response.status(), 200, "refresh failed");
    assert_eq!(response.headers()["cache-control"], "no-store");
    Pair::from_body(response.json().await.unwrap())
}

async fn detail(response: reqwest::Response) -> (u16, String) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    (
        status,
        body["detail"].as_str().unwrap_or_default().to_owned(),
    )
}

async fn count(app: &TestApp, table: &str) -> i64 {
    app.db.count(table, "TRUE").await
}

async fn start(backend: Backend, router: axum::Router<axum_knox::Knox<KnoxUser>>) -> TestApp {
    TestApp::start(backend, Settings::default(), router).await
}

async fn login_issues_refresh_token(backend: Backend) {
    let app = start(backend, RefreshViews::router()).await;
    let pair = login(&app).await;

    let keys: Vec<&String> = pair.body.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "expiry",
            "refresh_token",
            "refresh_token_expiry",
            "token",
            "user"
        ]
    );
    assert!(
        pair.refresh.starts_with("refresh_"),
        "distinct default prefix"
    );
    assert_eq!(pair.refresh.len(), "refresh_".len() + 64);
    let expected_expiry = (app.clock_now() + chrono::Duration::days(1))
        .format("%Y-%m-%dT%H:%M:%S%.6fZ")
        .to_string();
    assert_eq!(pair.body["refresh_token_expiry"], expected_expiry);
    assert_eq!(app.me(&pair.access).await.status(), 200);
}

async fn refresh_body_has_no_user(backend: Backend) {
    let app = start(backend, RefreshViews::router()).await;
    let pair = login(&app).await;
    let next = refresh_ok(&app, &pair.refresh).await;
    let keys: Vec<&String> = next.body.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        ["expiry", "refresh_token", "refresh_token_expiry", "token"]
    );
}

async fn chain_of_five_rotations(backend: Backend) {
    let app = start(backend, RefreshViews::router()).await;
    let mut pairs = vec![login(&app).await];
    for _ in 0..5 {
        app.clock.advance(Duration::from_secs(60));
        let next = refresh_ok(&app, &pairs.last().unwrap().refresh).await;
        pairs.push(next);
    }

    let (newest, older) = pairs.split_last().unwrap();
    assert_eq!(app.me(&newest.access).await.status(), 200);
    for pair in older {
        let response = app.me(&pair.access).await;
        assert_eq!(
            detail_401(response, "Token").await,
            "Invalid token.",
            "old access token revoked"
        );
    }
    assert_eq!(count(&app, "knox_authtoken").await, 1);
}

async fn reuse_after_history_revokes_family(backend: Backend) {
    let app = start(backend, RefreshViews::router()).await;
    let first = login(&app).await;
    let mut newest = refresh_ok(&app, &first.refresh).await;
    for _ in 0..4 {
        newest = refresh_ok(&app, &newest.refresh).await;
    }
    let other_session = app.login_body(ALICE).await;

    // The first token is five generations old, beyond max_history = 3.
    let replay = refresh(&app, &first.refresh).await;
    assert_eq!(detail(replay).await, (401, "Invalid token.".to_owned()));

    assert_eq!(
        app.me(&newest.access).await.status(),
        401,
        "family access token revoked"
    );
    assert_eq!(
        detail(refresh(&app, &newest.refresh).await).await.0,
        401,
        "family refresh token revoked"
    );
    let other_access = other_session["token"].as_str().unwrap();
    assert_eq!(
        app.me(other_access).await.status(),
        200,
        "other families untouched"
    );
}

async fn history_keeps_only_digests_beyond_limit(backend: Backend) {
    let app = start(backend, RefreshViews::router()).await;
    let mut newest = login(&app).await;
    for _ in 0..6 {
        newest = refresh_ok(&app, &newest.refresh).await;
    }
    let detailed = app
        .db
        .count("knox_refresh_token", "token_key IS NOT NULL")
        .await;
    assert_eq!(
        detailed, 4,
        "the newest token and three superseded ones keep details"
    );
    assert_eq!(
        count(&app, "knox_refresh_token").await,
        7,
        "every digest is kept"
    );
}

async fn forged_token_sharing_key_revokes_nothing(backend: Backend) {
    let app = start(backend, RefreshViews::router()).await;
    let pair = login(&app).await;
    let forged = format!("{}{}", &pair.refresh[..pair.refresh.len() - 8], "00000000");
    assert_ne!(forged, pair.refresh);

    let response = refresh(&app, &forged).await;
    assert_eq!(detail(response).await, (401, "Invalid token.".to_owned()));
    assert_eq!(app.me(&pair.access).await.status(), 200);
    refresh_ok(&app, &pair.refresh).await;
}

async fn tokens_are_not_interchangeable(backend: Backend) {
    let app = start(backend, RefreshViews::router()).await;
    let pair = login(&app).await;

    let as_bearer = app.me(&pair.refresh).await;
    assert_eq!(detail_401(as_bearer, "Token").await, "Invalid token.");
    let access_to_refresh = refresh(&app, &pair.access).await;
    assert_eq!(
        detail(access_to_refresh).await,
        (401, "Invalid token.".to_owned())
    );

    assert_eq!(app.me(&pair.access).await.status(), 200, "nothing revoked");
    refresh_ok(&app, &pair.refresh).await;
}

async fn reuse_inside_interval_revokes(backend: Backend) {
    let app = start(backend, ThrottledViews::router()).await;
    let first = login(&app).await;
    app.clock.advance(Duration::from_secs(10));
    let second = refresh_ok(&app, &first.refresh).await;

    app.clock.advance(Duration::from_secs(1));
    let replay = refresh(&app, &first.refresh).await;
    assert_eq!(
        detail(replay).await,
        (401, "Invalid token.".to_owned()),
        "reuse beats the throttle"
    );
    assert_eq!(app.me(&second.access).await.status(), 401);
}

async fn throttle_applies_to_newest(backend: Backend) {
    let app = start(backend, ThrottledViews::router()).await;
    let pair = login(&app).await;

    app.clock.advance(Duration::from_secs(3));
    let response = refresh(&app, &pair.refresh).await;
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["retry-after"], "7");
    assert_eq!(detail(response).await.1, "Request was throttled.");

    assert_eq!(
        app.me(&pair.access).await.status(),
        200,
        "a throttled refresh revokes nothing"
    );
    app.clock.advance(Duration::from_secs(7));
    refresh_ok(&app, &pair.refresh).await;
}

async fn family_lifetime_is_absolute(backend: Backend) {
    let app = start(backend, RefreshViews::router()).await;
    let first = login(&app).await;
    let family_expiry = first.body["refresh_token_expiry"].clone();

    let mut newest = first;
    for _ in 0..3 {
        app.clock.advance(Duration::from_secs(6 * 3600));
        newest = refresh_ok(&app, &newest.refresh).await;
        assert_eq!(
            newest.body["refresh_token_expiry"], family_expiry,
            "rotation never extends"
        );
    }

    app.clock.advance(Duration::from_secs(6 * 3600));
    let late = refresh(&app, &newest.refresh).await;
    assert_eq!(detail(late).await, (401, "Invalid token.".to_owned()));
    assert_eq!(
        count(&app, "knox_refresh_family").await,
        0,
        "the expired family is gone"
    );
}

async fn access_expiry_capped_by_family(backend: Backend) {
    let app = start(backend, RefreshViews::router()).await;
    let first = login(&app).await;
    app.clock.advance(Duration::from_secs(24 * 3600 - 60));
    let last = refresh_ok(&app, &first.refresh).await;
    assert_eq!(last.body["expiry"], last.body["refresh_token_expiry"]);
}

async fn refresh_ignores_expired_access_header(backend: Backend) {
    let app = start(backend, RefreshViews::router()).await;
    let pair = login(&app).await;
    app.clock.advance(Duration::from_secs(20 * 60));
    assert_eq!(
        app.me(&pair.access).await.status(),
        401,
        "access token expired"
    );

    let response = app
        .client
        .post(app.url("/api/auth/refresh"))
        .header("Authorization", format!("Token {}", pair.access))
        .json(&json!({ "refresh_token": pair.refresh }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let next = Pair::from_body(response.json().await.unwrap());
    assert_eq!(app.me(&next.access).await.status(), 200);
}

async fn leeway_allows_predecessor_retry(backend: Backend) {
    let app = start(backend, LeewayViews::router()).await;
    let first = login(&app).await;
    let lost = refresh_ok(&app, &first.refresh).await;

    app.clock.advance(Duration::from_secs(4));
    let retried = refresh_ok(&app, &first.refresh).await;
    assert_eq!(app.me(&retried.access).await.status(), 200);
    assert_eq!(
        app.me(&lost.access).await.status(),
        401,
        "the family stays one line"
    );

    // Once the leeway has passed, the superseded token is plain reuse.
    app.clock.advance(Duration::from_secs(6));
    let replay = refresh(&app, &lost.refresh).await;
    assert_eq!(detail(replay).await.0, 401);
    assert_eq!(
        app.me(&retried.access).await.status(),
        401,
        "family revoked"
    );
}

async fn leeway_ends(backend: Backend) {
    let app = start(backend, LeewayViews::router()).await;
    let first = login(&app).await;
    let second = refresh_ok(&app, &first.refresh).await;

    app.clock.advance(Duration::from_secs(6));
    assert_eq!(detail(refresh(&app, &first.refresh).await).await.0, 401);
    assert_eq!(app.me(&second.access).await.status(), 401, "family revoked");
}

async fn without_leeway_retry_revokes(backend: Backend) {
    let app = start(backend, RefreshViews::router()).await;
    let first = login(&app).await;
    let second = refresh_ok(&app, &first.refresh).await;
    assert_eq!(detail(refresh(&app, &first.refresh).await).await.0, 401);
    assert_eq!(app.me(&second.access).await.status(), 401);
}

async fn bad_bodies_are_400(backend: Backend) {
    let app = start(backend, RefreshViews::router()).await;
    let cases = [
        (json!({}), "`refresh_token` is required."),
        (
            json!({ "refresh_token": null }),
            "`refresh_token` is required.",
        ),
        (
            json!({ "refresh_token": 42 }),
            "`refresh_token` must be a string.",
        ),
        (
            json!(["refresh_token"]),
            "Expected a JSON object with a `refresh_token` field.",
        ),
    ];
    for (body, message) in cases {
        let response = post_refresh(&app, body.clone()).await;
        assert_eq!(
            detail(response).await,
            (400, message.to_owned()),
            "body {body}"
        );
    }

    let malformed = app
        .client
        .post(app.url("/api/auth/refresh"))
        .header("Content-Type", "application/json")
        .body("{\"refresh_token\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(
        detail(malformed).await,
        (
            400,
            "JSON parse error: the body is not valid JSON.".to_owned()
        )
    );

    let no_type = app
        .client
        .post(app.url("/api/auth/refresh"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(detail(no_type).await.0, 400);
}

async fn unknown_or_revoked_is_401(backend: Backend) {
    let app = start(backend, RefreshViews::router()).await;
    for token in ["", "refresh_nope", &"f".repeat(10_000), "refresh_ÿ"] {
        let response = refresh(&app, token).await;
        assert_eq!(
            detail(response).await,
            (401, "Invalid token.".to_owned()),
            "token {:.20}",
            token
        );
    }

    let pair = login(&app).await;
    assert_eq!(
        app.post_with_token("/api/auth/logout", &pair.access)
            .await
            .status(),
        204
    );
    assert_eq!(
        detail(refresh(&app, &pair.refresh).await).await,
        (401, "Invalid token.".to_owned())
    );
}

async fn refresh_401_challenges_token_scheme(backend: Backend) {
    let app = start(backend, RefreshViews::router()).await;
    let response = refresh(&app, "refresh_unknown").await;
    assert_eq!(detail_401(response, "Token").await, "Invalid token.");
}

async fn inactive_user_gets_no_pair(backend: Backend) {
    let app = start(backend, RefreshViews::router()).await;
    let pair = login(&app).await;
    let alice = app.users.find_by_username("alice").await.unwrap();
    app.users.set_active(alice.id, false).await;

    let response = refresh(&app, &pair.refresh).await;
    assert_eq!(detail(response).await.0, 401);
    assert_eq!(count(&app, "knox_authtoken").await, 1, "no new pair");

    app.users.set_active(alice.id, true).await;
    refresh_ok(&app, &pair.refresh).await;
}

async fn logout_revokes_family(backend: Backend) {
    let app = start(backend, RefreshViews::router()).await;
    let first = login(&app).await;
    let second = refresh_ok(&app, &first.refresh).await;

    assert_eq!(
        app.post_with_token("/api/auth/logout", &second.access)
            .await
            .status(),
        204
    );
    assert_eq!(detail(refresh(&app, &second.refresh).await).await.0, 401);
    assert_eq!(count(&app, "knox_refresh_family").await, 0);
    assert_eq!(count(&app, "knox_refresh_token").await, 0);
}

async fn logout_of_familyless_token(backend: Backend) {
    let app = start(backend, RefreshViews::router()).await;
    let alice = app.users.find_by_username("alice").await.unwrap();
    let options = axum_knox::TokenOptions {
        prefix: "",
        ttl: Some(Duration::from_secs(600)),
        limit: None,
    };
    let issued = app.knox.issue_token(&alice, options, None).await.unwrap();
    let family_session = login(&app).await;

    let response = app.post_with_token("/api/auth/logout", &issued.token).await;
    assert_eq!(response.status(), 204);
    assert_eq!(app.me(&issued.token).await.status(), 401);
    assert_eq!(
        app.me(&family_session.access).await.status(),
        200,
        "families untouched"
    );
}

async fn logoutall_revokes_everything(backend: Backend) {
    let app = start(backend, RefreshViews::router()).await;
    let first = login(&app).await;
    let second = login(&app).await;
    let bob = Pair::from_body(app.login_body(BOB).await);

    assert_eq!(
        app.post_with_token("/api/auth/logoutall", &first.access)
            .await
            .status(),
        204
    );
    assert_eq!(detail(refresh(&app, &first.refresh).await).await.0, 401);
    assert_eq!(detail(refresh(&app, &second.refresh).await).await.0, 401);
    assert_eq!(app.me(&second.access).await.status(), 401);
    refresh_ok(&app, &bob.refresh).await;
}

async fn limit_counts_families(backend: Backend) {
    let app = start(backend, LimitedViews::router()).await;
    let first = login(&app).await;
    login(&app).await;
    assert_eq!(app.login(ALICE).await.status(), 403);

    // Rotation keeps the session count, and an expired access token still
    // leaves its family counted.
    app.clock.advance(Duration::from_secs(20 * 60));
    refresh_ok(&app, &first.refresh).await;
    assert_eq!(app.login(ALICE).await.status(), 403);
}

async fn concurrent_refreshes_yield_one_pair(backend: Backend) {
    let app = start(backend, RefreshViews::router()).await;
    let pair = login(&app).await;

    let requests = (0..20).map(|_| refresh(&app, &pair.refresh));
    let responses = futures::future::join_all(requests).await;
    let mut winners = Vec::new();
    for response in responses {
        match response.status().as_u16() {
            200 => winners.push(Pair::from_body(response.json().await.unwrap())),
            401 => {}
            status => panic!("unexpected status {status}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one rotation wins");

    // The losers presented a superseded token, so the family is revoked.
    assert_eq!(
        detail(refresh(&app, &winners[0].refresh).await).await.0,
        401
    );
    assert_eq!(count(&app, "knox_refresh_family").await, 0);
    assert_eq!(count(&app, "knox_authtoken").await, 0);
}

async fn refresh_disabled_is_404(backend: Backend) {
    let app = start(backend, NoRefreshViews::router()).await;
    let body = app.login_body(ALICE).await;
    assert!(body.get("refresh_token").is_none());
    let response = refresh(&app, "refresh_anything").await;
    assert_eq!(detail(response).await, (404, "Not found.".to_owned()));
}

async fn settings_enable_refresh(backend: Backend) {
    let settings = Settings::builder()
        .enable_refresh_token(true)
        .refresh_token_ttl(Duration::from_secs(3600 * 24))
        .refresh_token_prefix("rt_")
        .build()
        .unwrap();
    let app = TestApp::start(backend, settings, NoRefreshViews::router()).await;
    let pair = login(&app).await;
    assert!(pair.refresh.starts_with("rt_"));
    refresh_ok(&app, &pair.refresh).await;
}

store_tests!(
    refresh_401_challenges_token_scheme,
    login_issues_refresh_token,
    refresh_body_has_no_user,
    chain_of_five_rotations,
    reuse_after_history_revokes_family,
    history_keeps_only_digests_beyond_limit,
    forged_token_sharing_key_revokes_nothing,
    tokens_are_not_interchangeable,
    reuse_inside_interval_revokes,
    throttle_applies_to_newest,
    family_lifetime_is_absolute,
    access_expiry_capped_by_family,
    refresh_ignores_expired_access_header,
    leeway_allows_predecessor_retry,
    leeway_ends,
    without_leeway_retry_revokes,
    bad_bodies_are_400,
    unknown_or_revoked_is_401,
    inactive_user_gets_no_pair,
    logout_revokes_family,
    logout_of_familyless_token,
    logoutall_revokes_everything,
    limit_counts_families,
    concurrent_refreshes_yield_one_pair,
    refresh_disabled_is_404,
    settings_enable_refresh,
);
