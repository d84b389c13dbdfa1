//! The login view: credentials, response body, headers and view arguments.

use std::time::Duration;

use axum_knox::users::KnoxUser;
use axum_knox::{knox_view, Settings};
use knox_tests::{basic, detail_401, store_tests, Backend, TestApp, ALICE, BOB};
use serde::Serialize;
use serde_json::Value;

const BASIC_CHALLENGE: &str = "Basic realm=\"api\"";

#[knox_view]
struct PlainViews;

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

#[knox_view(serializer = PublicUser, expiry_format = "%d/%m/%Y %H:%M", prefix = "kx_", ttl = "2h")]
struct ConfiguredViews;

#[knox_view(ttl = none)]
struct EternalViews;

async fn plain_app(backend: Backend) -> TestApp {
    TestApp::start(backend, Settings::default(), PlainViews::router()).await
}

fn is_lower_hex(text: &str) -> bool {
    text.bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

async fn login_returns_token_and_expiry(backend: Backend) {
    let app = plain_app(backend).await;
    let response = app.login(ALICE).await;

    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.unwrap();
    let object = body.as_object().unwrap();
    assert_eq!(
        object.len(),
        2,
        "only expiry and token without a serializer: {body}"
    );

    let token = body["token"].as_str().unwrap();
    assert_eq!(token.len(), 64);
    assert!(is_lower_hex(token));

    let expected_expiry = app.clock_now() + chrono::Duration::hours(10);
    let expected = expected_expiry.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string();
    assert_eq!(body["expiry"], expected);

    let me = app.me(token).await;
    assert_eq!(me.status(), 200);
    let me: Value = me.json().await.unwrap();
    assert_eq!(me["username"], "alice");
}

async fn login_wrong_password_is_401(backend: Backend) {
    let app = plain_app(backend).await;
    let response = app.login(("alice", "wrong")).await;
    assert_eq!(
        detail_401(response, BASIC_CHALLENGE).await,
        "Invalid username/password."
    );
    assert_eq!(app.token_rows().await, 0);
}

async fn login_unknown_user_same_answer(backend: Backend) {
    let app = plain_app(backend).await;
    let unknown = app.login(("mallory", "alice-password")).await;
    assert_eq!(
        detail_401(unknown, BASIC_CHALLENGE).await,
        "Invalid username/password."
    );
}

async fn login_without_credentials_is_401(backend: Backend) {
    let app = plain_app(backend).await;
    let response = app
        .client
        .post(app.url("/api/auth/login"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        detail_401(response, BASIC_CHALLENGE).await,
        "Authentication credentials were not provided."
    );
}

async fn login_with_token_only_is_401(backend: Backend) {
    let app = plain_app(backend).await;
    let token = app.login_token(ALICE).await;

    let response = app.post_with_token("/api/auth/login", &token).await;
    assert_eq!(
        detail_401(response, BASIC_CHALLENGE).await,
        "Authentication credentials were not provided."
    );
    assert_eq!(app.token_rows().await, 1, "no new token was issued");
}

async fn login_password_with_colons_and_unicode(backend: Backend) {
    let app = plain_app(backend).await;
    let response = app.login(BOB).await;
    assert_eq!(response.status(), 200);
}

async fn login_malformed_basic_headers(backend: Backend) {
    let app = plain_app(backend).await;
    let not_base64 = "Basic !!!notbase64".to_owned();
    let no_colon = format!(
        "Basic {}",
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, "alice")
    );
    let not_utf8 = format!(
        "Basic {}",
        base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            b"alice:\xff\xfe"
        )
    );
    let cases = [
        ("Basic", "Invalid basic header. No credentials provided."),
        (
            "Basic a b",
            "Invalid basic header. Credentials string should not contain spaces.",
        ),
        (
            not_base64.as_str(),
            "Invalid basic header. Credentials not correctly base64 encoded.",
        ),
        (
            no_colon.as_str(),
            "Invalid basic header. Credentials not correctly base64 encoded.",
        ),
        (
            not_utf8.as_str(),
            "Invalid basic header. Credentials not correctly base64 encoded.",
        ),
    ];
    for (header, message) in cases {
        let response = app
            .client
            .post(app.url("/api/auth/login"))
            .header("Authorization", header)
            .send()
            .await
            .unwrap();
        assert_eq!(
            detail_401(response, BASIC_CHALLENGE).await,
            message,
            "header {header:?}"
        );
    }
    assert_eq!(app.token_rows().await, 0);
}

async fn login_lower_case_basic_scheme(backend: Backend) {
    let app = plain_app(backend).await;
    let header = basic(ALICE.0, ALICE.1).replacen("Basic", "basic", 1);
    let response = app
        .client
        .post(app.url("/api/auth/login"))
        .header("Authorization", header)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

async fn login_inactive_user_is_401(backend: Backend) {
    let app = plain_app(backend).await;
    let alice = app.users.find_by_username("alice").await.unwrap();
    app.users.set_active(alice.id, false).await;

    let response = app.login(ALICE).await;
    assert_eq!(
        detail_401(response, BASIC_CHALLENGE).await,
        "Invalid username/password."
    );
}

async fn login_get_is_405(backend: Backend) {
    let app = plain_app(backend).await;
    let response = app
        .client
        .get(app.url("/api/auth/login"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
}

async fn view_arguments_shape_response(backend: Backend) {
    let app = TestApp::start(backend, Settings::default(), ConfiguredViews::router()).await;
    let body = app.login_body(ALICE).await;

    assert_eq!(body["user"], serde_json::json!({ "username": "alice" }));
    let expected = (app.clock_now() + chrono::Duration::hours(2))
        .format("%d/%m/%Y %H:%M")
        .to_string();
    assert_eq!(body["expiry"], expected);

    let token = body["token"].as_str().unwrap();
    assert!(token.starts_with("kx_"), "prefix applied");
    assert_eq!(token.len(), 3 + 64);
    assert_eq!(app.me(token).await.status(), 200);

    let keys = app.db.texts("SELECT token_key FROM knox_authtoken").await;
    assert_eq!(keys, [Some(token[..3 + 15].to_owned())]);
}

async fn settings_prefix_and_length_apply(backend: Backend) {
    let settings = Settings::builder()
        .token_prefix("app-")
        .auth_token_character_length(32)
        .build()
        .unwrap();
    let app = TestApp::start(backend, settings, PlainViews::router()).await;
    let token = app.login_token(ALICE).await;
    assert!(token.starts_with("app-"));
    assert_eq!(token.len(), 4 + 32);
    assert_eq!(app.me(&token).await.status(), 200);
}

async fn ttl_none_never_expires(backend: Backend) {
    let app = TestApp::start(backend, Settings::default(), EternalViews::router()).await;
    let body = app.login_body(ALICE).await;
    assert_eq!(body["expiry"], Value::Null);

    let expiries = app
        .db
        .texts("SELECT CAST(expiry AS TEXT) FROM knox_authtoken")
        .await;
    assert_eq!(expiries, [None]);

    app.clock.advance(Duration::from_secs(10 * 365 * 24 * 3600));
    let token = body["token"].as_str().unwrap();
    assert_eq!(app.me(token).await.status(), 200);
}

async fn settings_ttl_none_applies(backend: Backend) {
    let settings = Settings::builder().token_ttl(None).build().unwrap();
    let app = TestApp::start(backend, settings, PlainViews::router()).await;
    let body = app.login_body(ALICE).await;
    assert_eq!(body["expiry"], Value::Null);
}

store_tests!(
    login_returns_token_and_expiry,
    login_wrong_password_is_401,
    login_unknown_user_same_answer,
    login_without_credentials_is_401,
    login_with_token_only_is_401,
    login_password_with_colons_and_unicode,
    login_malformed_basic_headers,
    login_lower_case_basic_scheme,
    login_inactive_user_is_401,
    login_get_is_405,
    view_arguments_shape_response,
    settings_prefix_and_length_apply,
    ttl_none_never_expires,
    settings_ttl_none_applies,
);
