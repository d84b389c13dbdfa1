//! Micro-benchmarks of the work every protected route does before its handler
//! runs: reading the `Authorization` header, computing the SHA-512 digest of
//! the token, and `Knox::authenticate` end to end on an in-memory SQLite store.
//!
//! Run with `cargo bench -p axum-knox --bench auth`; add a filter such as
//! `-- extractor` to run one group.

use std::hint::black_box;
use std::time::Duration;

use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderMap, HeaderValue, Request};
use axum_knox::crypto::{generate_token, hash_token, GeneratedToken};
use axum_knox::store::SqliteStore;
use axum_knox::users::{KnoxUser, PasswordHasher, SqliteUsers};
use axum_knox::{authenticate_basic, Knox, Settings, TokenOptions};
use criterion::Criterion;
use tokio::runtime::Runtime;

/// Extra live tokens of the user in the `valid_user_has_200_tokens` case, as
/// in the `me_many_tokens` load scenario.
const EXTRA_TOKENS: usize = 200;

/// The token lifetime of knox's default settings.
const TOKEN_TTL: Duration = Duration::from_secs(10 * 3600);

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("failed to build a Tokio runtime")
}

/// Opens a private in-memory database with the token and user tables and the
/// user alice.
async fn knox_in_memory(settings: Settings) -> (Knox<KnoxUser>, KnoxUser) {
    let store = SqliteStore::open("sqlite::memory:")
        .await
        .expect("failed to open an in-memory SQLite store");
    let users = SqliteUsers::new(store.pool().clone(), PasswordHasher::insecure_fast());
    users.migrate().await.expect("failed to migrate knox_user");
    let alice = users
        .create_user("alice", "alice-password")
        .await
        .expect("failed to create alice");
    (Knox::new(store, users, settings), alice)
}

async fn issue(knox: &Knox<KnoxUser>, user: &KnoxUser) -> String {
    let options = TokenOptions {
        prefix: "",
        ttl: Some(TOKEN_TTL),
        limit: None,
    };
    knox.issue_token(user, options, None)
        .await
        .expect("failed to issue a token")
        .token
}

fn authorization(value: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    let value = HeaderValue::from_str(value).expect("invalid header value");
    headers.insert(AUTHORIZATION, value);
    headers
}

/// Times the header cases that `Knox::authenticate` decides before it hashes
/// a token, so each iteration measures header parsing and the outcome alone.
/// The parser itself is private to the crate.
fn header(c: &mut Criterion) {
    let runtime = runtime();
    let (knox, _) = runtime.block_on(knox_in_memory(Settings::default()));
    let token_cases = [
        ("absent", HeaderMap::new()),
        ("other_scheme", authorization("Bearer abc123")),
        ("token_without_credentials", authorization("Token")),
        ("token_with_spaces", authorization("Token abc def")),
    ];

    let mut group = c.benchmark_group("header");
    for (name, headers) in &token_cases {
        group.bench_function(*name, |b| {
            b.to_async(&runtime)
                .iter(|| async { black_box(knox.authenticate(black_box(headers)).await.is_ok()) });
        });
    }

    // Basic credentials that fail to decode are rejected before any password work.
    let (request, ()) = Request::builder()
        .header(AUTHORIZATION, "Basic !!!not-base64")
        .body(())
        .expect("invalid request")
        .into_parts();
    group.bench_function("basic_undecodable", |b| {
        b.to_async(&runtime).iter(|| async {
            black_box(
                authenticate_basic(&knox, black_box(&request))
                    .await
                    .is_err(),
            )
        });
    });
    group.finish();
}

fn digest(c: &mut Criterion) {
    let token = generate_token("", 64);
    let prefixed = generate_token("kx_", 64);

    let mut group = c.benchmark_group("digest");
    group.bench_function("hash_token_64_hex", |b| {
        b.iter(|| hash_token(black_box(token.as_bytes())));
    });
    group.bench_function("hash_token_prefix_and_64_hex", |b| {
        b.iter(|| hash_token(black_box(prefixed.as_bytes())));
    });
    // What a login does before its insert: CSPRNG bytes, hex, digest and key.
    group.bench_function("generate_token_with_digest", |b| {
        b.iter(|| GeneratedToken::generate(black_box(""), black_box(64)));
    });
    group.finish();
}

/// Times `Knox::authenticate` with a token in the header: digest, store
/// lookup, constant-time compare and user load, as the `Auth` extractor runs it.
///
/// NOTE: sqlx runs each SQLite connection on its own thread, so the cases that
/// reach the store include a thread wake-up per query. On an idle 2-core VM
/// they measured up to twenty times slower than with both cores kept busy, so
/// compare them only between runs made under the same machine load.
fn extractor(c: &mut Criterion) {
    let runtime = runtime();
    let mut group = c.benchmark_group("extractor");

    let (knox, alice) = runtime.block_on(knox_in_memory(Settings::default()));
    let valid = authorization(&format!("Token {}", runtime.block_on(issue(&knox, &alice))));
    let unknown = authorization(&format!("Token {}", generate_token("", 64)));
    assert!(runtime
        .block_on(knox.authenticate(&valid))
        .is_ok_and(|auth| auth.is_some()));
    assert!(runtime.block_on(knox.authenticate(&unknown)).is_err());

    group.bench_function("valid", |b| {
        b.to_async(&runtime)
            .iter(|| async { black_box(knox.authenticate(black_box(&valid)).await.is_ok()) });
    });
    group.bench_function("unknown_token", |b| {
        b.to_async(&runtime)
            .iter(|| async { black_box(knox.authenticate(black_box(&unknown)).await.is_err()) });
    });

    runtime.block_on(async {
        for _ in 0..EXTRA_TOKENS {
            issue(&knox, &alice).await;
        }
    });
    group.bench_function("valid_user_has_200_tokens", |b| {
        b.to_async(&runtime)
            .iter(|| async { black_box(knox.authenticate(black_box(&valid)).await.is_ok()) });
    });

    // The same lookups with AUTH_CACHE_TTL on: after the first request the
    // cache returns the outcome, valid or unknown, without a store query.
    let cached_settings = Settings::builder()
        .auth_cache_ttl(Some(Duration::from_secs(60)))
        .build()
        .expect("invalid cache settings");
    let (cached_knox, cached_alice) = runtime.block_on(knox_in_memory(cached_settings));
    let cached = authorization(&format!(
        "Token {}",
        runtime.block_on(issue(&cached_knox, &cached_alice))
    ));
    assert!(runtime.block_on(cached_knox.authenticate(&cached)).is_ok());
    group.bench_function("valid_auth_cache_on", |b| {
        b.to_async(&runtime).iter(|| async {
            black_box(cached_knox.authenticate(black_box(&cached)).await.is_ok())
        });
    });
    let cached_unknown = authorization(&format!("Token {}", generate_token("", 64)));
    assert!(runtime
        .block_on(cached_knox.authenticate(&cached_unknown))
        .is_err());
    group.bench_function("unknown_token_auth_cache_on", |b| {
        b.to_async(&runtime).iter(|| async {
            black_box(
                cached_knox
                    .authenticate(black_box(&cached_unknown))
                    .await
                    .is_err(),
            )
        });
    });
    group.finish();
}

// A plain `main` in place of `criterion_group!`, whose generated public
// function has no doc comment and so fails the `missing_docs` lint.
fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    header(&mut criterion);
    digest(&mut criterion);
    extractor(&mut criterion);
    criterion.final_summary();
}
