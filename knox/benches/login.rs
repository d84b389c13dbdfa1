//! Micro-benchmark of the login handler that `#[knox_view]` generates, driven
//! through its router with `tower::ServiceExt::oneshot`, so no socket is
//! involved. Passwords use `PasswordHasher::insecure_fast()`, the cheapest
//! Argon2id cost, as the load benchmark's quickstart does.
//!
//! Run with `cargo bench -p axum-knox --bench login`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::header::AUTHORIZATION;
use axum::http::{Method, Request, StatusCode};
use axum::Router;
use axum_knox::store::SqliteStore;
use axum_knox::users::{KnoxUser, PasswordHasher, SqliteUsers};
use axum_knox::{knox_view, Knox, Settings};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use criterion::Criterion;
use tower::ServiceExt;

/// Login, logout and logout-all with every default.
#[knox_view]
struct BenchViews;

fn login_request(username: &str, password: &str) -> Request<Body> {
    let credentials = STANDARD.encode(format!("{username}:{password}"));
    Request::builder()
        .method(Method::POST)
        .uri("/login")
        .header(AUTHORIZATION, format!("Basic {credentials}"))
        .body(Body::empty())
        .expect("invalid login request")
}

async fn post(router: &Router, request: Request<Body>) -> StatusCode {
    let response = router
        .clone()
        .oneshot(request)
        .await
        .expect("the router is infallible");
    response.status()
}

fn login(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("failed to build a Tokio runtime");
    let (knox, alice, router) = runtime.block_on(async {
        let store = SqliteStore::open("sqlite::memory:")
            .await
            .expect("failed to open an in-memory SQLite store");
        let users = SqliteUsers::new(store.pool().clone(), PasswordHasher::insecure_fast());
        users.migrate().await.expect("failed to migrate knox_user");
        let alice: KnoxUser = users
            .create_user("alice", "alice-password")
            .await
            .expect("failed to create alice");
        let knox = Knox::new(store, users, Settings::default());
        let router = BenchViews::router().with_state(knox.clone());
        (knox, alice, router)
    });

    let status = runtime.block_on(post(&router, login_request("alice", "alice-password")));
    assert_eq!(status, StatusCode::OK, "login with the right password");
    let status = runtime.block_on(post(&router, login_request("alice", "wrong")));
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "login with a wrong password"
    );

    let mut group = c.benchmark_group("login");
    // Each login inserts a token. The tokens of a batch are revoked after
    // its clock stops, so the table stays small and cleanup is not measured.
    group.bench_function("valid", |b| {
        b.to_async(&runtime).iter_custom(|iterations| {
            let (knox, alice, router) = (knox.clone(), alice.clone(), router.clone());
            async move {
                let start = Instant::now();
                for _ in 0..iterations {
                    let request = login_request("alice", "alice-password");
                    black_box(post(&router, request).await);
                }
                let elapsed: Duration = start.elapsed();
                knox.revoke_all(&alice)
                    .await
                    .expect("failed to revoke the batch's tokens");
                elapsed
            }
        });
    });
    group.bench_function("wrong_password", |b| {
        b.to_async(&runtime)
            .iter(|| async { black_box(post(&router, login_request("alice", "wrong")).await) });
    });
    group.finish();
}

// A plain `main` in place of `criterion_group!`, whose generated public
// function has no doc comment and so fails the `missing_docs` lint.
fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    login(&mut criterion);
    criterion.final_summary();
}
