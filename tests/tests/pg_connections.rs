//! The PostgreSQL store's connections: the lookups' lent connections stay
//! within the pool's maximum, and a session the server ended while idle is
//! replaced without failing a request.

use std::time::Duration;

use axum_knox::store::{Lookup, PgStore, TokenRecord, TokenStore};
use chrono::{DateTime, Utc};
use knox_tests::{postgres_url, skip_postgres};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;

fn record(n: usize, now: DateTime<Utc>) -> TokenRecord {
    TokenRecord {
        digest: format!("{n:0128x}"),
        token_key: format!("{n:015x}"),
        user_id: "alice".to_owned(),
        created: now,
        expiry: None,
    }
}

/// A schema of its own and a pool on it whose connections carry a name of
/// their own, so `pg_stat_activity` can tell them apart.
struct Schema {
    admin: PgPool,
    pool: PgPool,
    name: String,
    application: String,
}

impl Schema {
    async fn create(max_connections: u32, settings: &[(&str, &str)]) -> Schema {
        let admin = PgPool::connect(&postgres_url())
            .await
            .expect("connect to PostgreSQL");
        let suffix = axum_knox::crypto::generate_token("", 16);
        let name = format!("knox_test_{suffix}");
        let application = format!("knox-test-{suffix}");
        sqlx::query(&format!("CREATE SCHEMA {name}"))
            .execute(&admin)
            .await
            .expect("create schema");
        let mut options: Vec<(&str, &str)> = vec![("search_path", &name)];
        options.extend_from_slice(settings);
        let connect: PgConnectOptions = postgres_url().parse().expect("PostgreSQL URL");
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(connect.options(options).application_name(&application))
            .await
            .expect("pool");
        Schema {
            admin,
            pool,
            name,
            application,
        }
    }

    /// Counts the server's sessions of this pool.
    async fn sessions(&self) -> i64 {
        sqlx::query_scalar("SELECT COUNT(*) FROM pg_stat_activity WHERE application_name = $1")
            .bind(&self.application)
            .fetch_one(&self.admin)
            .await
            .expect("count sessions")
    }

    /// Ends every session of this pool, as a server restart does.
    async fn terminate_sessions(&self) {
        sqlx::query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
        )
        .bind(&self.application)
        .execute(&self.admin)
        .await
        .expect("terminate sessions");
    }

    async fn drop_schema(self) {
        self.pool.close().await;
        sqlx::query(&format!("DROP SCHEMA {} CASCADE", self.name))
            .execute(&self.admin)
            .await
            .expect("drop schema");
    }
}

async fn store_with_token(schema: &Schema, now: DateTime<Utc>) -> (PgStore, TokenRecord) {
    let store = PgStore::new(schema.pool.clone());
    store.migrate().await.expect("migrate");
    let token = record(7, now);
    store
        .insert_token(&token, None, None, now)
        .await
        .expect("insert");
    assert!(matches!(
        store.find_token(&token.digest, now).await,
        Ok(Lookup::Live(_))
    ));
    (store, token)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lent_connections_stay_within_pool() {
    if skip_postgres() {
        return;
    }
    let schema = Schema::create(4, &[]).await;
    let store = PgStore::new(schema.pool.clone());
    store.migrate().await.expect("migrate");
    let now = Utc::now();

    // Lookups at once borrow every connection the store may keep. Then the
    // pool hands out all it has left.
    let digests: Vec<String> = (0..8).map(|n| record(n, now).digest).collect();
    let lookups = digests.iter().map(|digest| store.find_token(digest, now));
    for lookup in futures::future::join_all(lookups).await {
        assert!(matches!(lookup, Ok(Lookup::Missing)));
    }
    let mut held = Vec::new();
    while let Ok(Ok(connection)) =
        tokio::time::timeout(Duration::from_millis(200), schema.pool.acquire()).await
    {
        held.push(connection);
    }
    let sessions = schema.sessions().await;

    drop(held);
    drop(store);
    schema.drop_schema().await;
    assert!(sessions <= 4, "{sessions} sessions on a pool of 4");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminated_idle_session_is_replaced() {
    if skip_postgres() {
        return;
    }
    let schema = Schema::create(8, &[]).await;
    let now = Utc::now();
    let (store, token) = store_with_token(&schema, now).await;

    // The server ends every idle session, sending a FATAL error first.
    schema.terminate_sessions().await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let first = store.find_token(&token.digest, now).await;
    let second = store.find_token(&token.digest, now).await;

    drop(store);
    schema.drop_schema().await;
    assert!(
        matches!(first, Ok(Lookup::Live(_))),
        "first lookup: {first:?}"
    );
    assert!(
        matches!(second, Ok(Lookup::Live(_))),
        "second lookup: {second:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_session_timeout_is_survived() {
    if skip_postgres() {
        return;
    }
    let schema = Schema::create(8, &[("idle_session_timeout", "300")]).await;
    let now = Utc::now();
    let (store, token) = store_with_token(&schema, now).await;

    // The server ends the sessions that stay idle longer than 300 ms.
    tokio::time::sleep(Duration::from_millis(800)).await;
    let after = store.find_token(&token.digest, now).await;

    drop(store);
    schema.drop_schema().await;
    assert!(
        matches!(after, Ok(Lookup::Live(_))),
        "lookup after idle: {after:?}"
    );
}
