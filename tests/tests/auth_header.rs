//! The extractor on protected routes: knox's header rules and messages, and
//! hostile input that must give 401, never 500.

use axum_knox::{knox_view, Settings};
use knox_tests::{detail_401, store_tests, Backend, TestApp, ALICE};
use reqwest::header::HeaderValue;
use serde_json::Value;

#[knox_view]
struct AuthViews;

async fn app(backend: Backend) -> TestApp {
    TestApp::start(backend, Settings::default(), AuthViews::router()).await
}

async fn get_raw(app: &TestApp, path: &str, authorization: HeaderValue) -> reqwest::Response {
    app.client
        .get(app.url(path))
        .header("Authorization", authorization)
        .send()
        .await
        .unwrap()
}

async fn missing_header_is_401(backend: Backend) {
    let app = app(backend).await;
    let response = app.client.get(app.url("/api/me")).send().await.unwrap();
    assert_eq!(
        detail_401(response, "Token").await,
        "Authentication credentials were not provided."
    );
}

async fn knox_messages_for_bad_headers(backend: Backend) {
    let app = app(backend).await;
    let cases = [
        ("Token", "Invalid token header. No credentials provided."),
        ("token   ", "Invalid token header. No credentials provided."),
        (
            "Token a b",
            "Invalid token header. Token string should not contain spaces.",
        ),
        (
            "Token\ta\tb",
            "Invalid token header. Token string should not contain spaces.",
        ),
        ("Token wrong", "Invalid token."),
        (
            "Bearer abc",
            "Authentication credentials were not provided.",
        ),
        ("", "Authentication credentials were not provided."),
        ("   ", "Authentication credentials were not provided."),
    ];
    for (header, message) in cases {
        let response = app.get_with_header("/api/me", header).await;
        assert_eq!(
            detail_401(response, "Token").await,
            message,
            "header {header:?}"
        );
    }
}

async fn scheme_is_case_insensitive_and_tabs_separate(backend: Backend) {
    let app = app(backend).await;
    let token = app.login_token(ALICE).await;
    for header in [
        format!("token {token}"),
        format!("TOKEN {token}"),
        format!("Token\t{token}"),
        format!("  Token   {token}  "),
    ] {
        let response = app.get_with_header("/api/me", &header).await;
        assert_eq!(response.status(), 200, "header {header:?}");
    }
}

async fn hostile_tokens_are_401_not_500(backend: Backend) {
    let app = app(backend).await;
    let token = app.login_token(ALICE).await;
    let mut upper = token.to_uppercase();
    upper.insert_str(0, "Token ");
    let long = format!("Token {}", "a".repeat(10 * 1024));
    let cases: Vec<HeaderValue> = vec![
        HeaderValue::from_bytes(b"Token \xff\xfe\xfd").unwrap(),
        HeaderValue::from_bytes(b"Token \x80abc").unwrap(),
        HeaderValue::from_str(&long).unwrap(),
        HeaderValue::from_str(&upper).unwrap(),
        HeaderValue::from_str(&format!("Token {}", &token[..63])).unwrap(),
        HeaderValue::from_str(&format!("Token {token}0")).unwrap(),
        HeaderValue::from_str("Token zzzz-not-hex").unwrap(),
        HeaderValue::from_str("Token ''\"\";--").unwrap(),
    ];
    for header in cases {
        let response = get_raw(&app, "/api/me", header.clone()).await;
        assert_eq!(response.status(), 401, "header {header:?}");
        let body = response.text().await.unwrap();
        let body: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body["detail"], "Invalid token.", "header {header:?}");
    }
}

async fn empty_scheme_is_not_ours(backend: Backend) {
    let app = app(backend).await;
    let token = app.login_token(ALICE).await;
    let response = app.get_with_header("/api/me", &format!(" {token}")).await;
    assert_eq!(
        detail_401(response, "Token").await,
        "Authentication credentials were not provided."
    );
}

async fn rejection_never_echoes_token(backend: Backend) {
    let app = app(backend).await;
    let token = app.login_token(ALICE).await;
    let wrong = format!("{}0", &token[..63]);
    let response = app.me(&wrong).await;
    let headers = format!("{:?}", response.headers());
    let body = response.text().await.unwrap();
    assert!(!body.contains(&wrong));
    assert!(!headers.contains(&wrong));
    assert!(!body.contains(&token[..15]));
}

async fn inactive_user_is_401(backend: Backend) {
    let app = app(backend).await;
    let token = app.login_token(ALICE).await;
    let alice = app.users.find_by_username("alice").await.unwrap();
    app.users.set_active(alice.id, false).await;

    let response = app.me(&token).await;
    assert_eq!(
        detail_401(response, "Token").await,
        "User inactive or deleted."
    );

    app.users.set_active(alice.id, true).await;
    assert_eq!(app.me(&token).await.status(), 200);
}

async fn deleted_user_is_401(backend: Backend) {
    let app = app(backend).await;
    let token = app.login_token(ALICE).await;
    app.db
        .execute("DELETE FROM knox_user WHERE username = 'alice'")
        .await;

    let response = app.me(&token).await;
    assert_eq!(
        detail_401(response, "Token").await,
        "User inactive or deleted."
    );
}

async fn optional_extractor(backend: Backend) {
    let app = app(backend).await;
    let token = app.login_token(ALICE).await;

    let none: Value = app
        .client
        .get(app.url("/api/maybe"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(none["username"], Value::Null);

    let other_scheme = app.get_with_header("/api/maybe", "Bearer abc").await;
    assert_eq!(other_scheme.status(), 200);
    assert_eq!(
        other_scheme.json::<Value>().await.unwrap()["username"],
        Value::Null
    );

    let valid = app
        .get_with_header("/api/maybe", &format!("Token {token}"))
        .await;
    assert_eq!(valid.json::<Value>().await.unwrap()["username"], "alice");

    let invalid = app.get_with_header("/api/maybe", "Token nope").await;
    assert_eq!(detail_401(invalid, "Token").await, "Invalid token.");

    let malformed = app.get_with_header("/api/maybe", "Token a b").await;
    assert_eq!(
        detail_401(malformed, "Token").await,
        "Invalid token header. Token string should not contain spaces."
    );
}

async fn custom_header_prefix(backend: Backend) {
    let settings = Settings::builder()
        .auth_header_prefix("Bearer")
        .build()
        .unwrap();
    let app = TestApp::start(backend, settings, AuthViews::router()).await;
    let token = app.login_token(ALICE).await;

    let response = app
        .get_with_header("/api/me", &format!("bearer {token}"))
        .await;
    assert_eq!(response.status(), 200);

    let old_scheme = app.me(&token).await;
    assert_eq!(
        detail_401(old_scheme, "Bearer").await,
        "Authentication credentials were not provided."
    );
}

store_tests!(
    missing_header_is_401,
    knox_messages_for_bad_headers,
    scheme_is_case_insensitive_and_tabs_separate,
    hostile_tokens_are_401_not_500,
    empty_scheme_is_not_ours,
    rejection_never_echoes_token,
    inactive_user_is_401,
    deleted_user_is_401,
    optional_extractor,
    custom_header_prefix,
);
