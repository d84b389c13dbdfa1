//! Hook overrides in a user `impl` block: TTL per user, response bodies and
//! the login authenticator.

use std::future::Future;
use std::time::Duration;

use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use axum_knox::users::KnoxUser;
use axum_knox::{
    knox_view, Context, IssuedToken, Knox, KnoxHooks, KnoxRejection, RejectionKind, Settings,
};
use knox_tests::{store_tests, Backend, TestApp, ALICE, BOB};
use serde_json::{json, Map, Value};

#[knox_view(custom_hooks, ttl = "1h")]
struct CustomViews;

impl KnoxHooks for CustomViews {
    fn context(&self, request: &Parts) -> Map<String, Value> {
        let mut extra = Map::new();
        let agent = request
            .headers
            .get("user-agent")
            .and_then(|value| value.to_str().ok())
            .unwrap_or("unknown");
        extra.insert("agent".to_owned(), Value::String(agent.to_owned()));
        extra
    }

    fn token_ttl(&self, ctx: &Context<'_, KnoxUser>) -> Option<Duration> {
        // bob gets five minutes; everyone else the view's `ttl`.
        if ctx.user.username == "bob" {
            Some(Duration::from_secs(300))
        } else {
            Some(Duration::from_secs(3600))
        }
    }

    fn post_response_data(
        &self,
        ctx: &Context<'_, KnoxUser>,
        issued: &IssuedToken,
    ) -> Map<String, Value> {
        let mut data = Map::new();
        data.insert("access".to_owned(), Value::String(issued.token.clone()));
        data.insert(
            "expires_at".to_owned(),
            self.format_expiry_datetime(ctx, issued.record.expiry),
        );
        data.insert("agent".to_owned(), ctx.extra["agent"].clone());
        data
    }

    fn post_response(&self, ctx: &Context<'_, KnoxUser>) -> Response {
        let body = json!({ "bye": ctx.user.username });
        (StatusCode::OK, Json(body)).into_response()
    }
}

#[knox_view(custom_hooks)]
struct ApiKeyViews;

impl KnoxHooks for ApiKeyViews {
    // Logs in with an `X-Api-Key: <username>-key` header instead of Basic.
    fn authenticate(
        &self,
        knox: &Knox<KnoxUser>,
        request: &Parts,
    ) -> impl Future<Output = Result<KnoxUser, KnoxRejection>> + Send {
        let key = request
            .headers
            .get("x-api-key")
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        let knox = knox.clone();
        async move {
            let missing = || KnoxRejection::new(RejectionKind::InvalidCredentials, None);
            let username = key
                .as_deref()
                .and_then(|key| key.strip_suffix("-key"))
                .ok_or_else(missing)?;
            let Ok(Some(user)) = knox.users().load_user(username_to_id(username)).await else {
                return Err(missing());
            };
            Ok(user)
        }
    }
}

fn username_to_id(username: &str) -> &str {
    match username {
        "alice" => "1",
        "bob" => "2",
        _ => "0",
    }
}

async fn ttl_hook_per_user(backend: Backend) {
    let app = TestApp::start(backend, Settings::default(), CustomViews::router()).await;
    let alice = app.login_body(ALICE).await;
    let bob = app.login_body(BOB).await;

    let now = app.clock_now();
    let format = "%Y-%m-%dT%H:%M:%S%.6fZ";
    assert_eq!(
        alice["expires_at"],
        (now + chrono::Duration::hours(1))
            .format(format)
            .to_string()
    );
    assert_eq!(
        bob["expires_at"],
        (now + chrono::Duration::minutes(5))
            .format(format)
            .to_string()
    );

    app.clock.advance(Duration::from_secs(301));
    let bob_token = bob["access"].as_str().unwrap();
    let alice_token = alice["access"].as_str().unwrap();
    assert_eq!(app.me(bob_token).await.status(), 401);
    assert_eq!(app.me(alice_token).await.status(), 200);
}

async fn response_hooks_shape_bodies(backend: Backend) {
    let app = TestApp::start(backend, Settings::default(), CustomViews::router()).await;
    let response = app
        .client
        .post(app.url("/api/auth/login"))
        .header("Authorization", knox_tests::basic(ALICE.0, ALICE.1))
        .header("User-Agent", "hooks-test/1.0")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.unwrap();
    let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["access", "agent", "expires_at"]);
    assert_eq!(body["agent"], "hooks-test/1.0");

    let token = body["access"].as_str().unwrap();
    let logout = app.post_with_token("/api/auth/logout", token).await;
    assert_eq!(logout.status(), 200);
    assert_eq!(
        logout.json::<Value>().await.unwrap(),
        json!({ "bye": "alice" })
    );
    assert_eq!(app.me(token).await.status(), 401);
}

async fn authenticate_hook_replaces_basic(backend: Backend) {
    let app = TestApp::start(backend, Settings::default(), ApiKeyViews::router()).await;

    let response = app
        .client
        .post(app.url("/api/auth/login"))
        .header("X-Api-Key", "bob-key")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let token = response.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let me: Value = app.me(&token).await.json().await.unwrap();
    assert_eq!(me["username"], "bob");

    let basic = app.login(ALICE).await;
    assert_eq!(basic.status(), 401, "Basic is no longer accepted");
    assert_eq!(app.token_rows().await, 1);
}

store_tests!(
    ttl_hook_per_user,
    response_hooks_shape_bodies,
    authenticate_hook_replaces_basic,
);
