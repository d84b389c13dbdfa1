//! Group commit: logins queued together are written in one batch, under the
//! same rules as one by one.
//!
//! These tests run on a current-thread runtime, so every insert of a
//! `join_all` is queued before the writer task first runs and all of them
//! land in one batch.

use std::sync::Arc;

use axum_knox::store::{InsertOutcome, PgStore, SqliteStore, StoreError, TokenRecord, TokenStore};
use chrono::{DateTime, Duration, Utc};
use knox_tests::{skip_postgres, Backend, Database};

async fn open(backend: Backend) -> (Database, Arc<dyn TokenStore>) {
    let db = Database::create(backend).await;
    let store: Arc<dyn TokenStore> = match &db {
        Database::Sqlite { pool, .. } => {
            let store = SqliteStore::new(pool.clone());
            store.migrate().await.expect("migrate SQLite store");
            Arc::new(store)
        }
        Database::Postgres { pool, .. } => {
            let store = PgStore::new(pool.clone());
            store.migrate().await.expect("migrate PostgreSQL store");
            Arc::new(store)
        }
    };
    (db, store)
}

fn record(digest: &str, user_id: &str, now: DateTime<Utc>) -> TokenRecord {
    TokenRecord {
        digest: digest.to_owned(),
        token_key: digest.chars().take(15).collect(),
        user_id: user_id.to_owned(),
        created: now,
        expiry: Some(now + Duration::hours(1)),
    }
}

/// Inserts every record at once and returns the outcomes in the same order.
async fn insert_together(
    store: &dyn TokenStore,
    records: &[TokenRecord],
    limit: Option<u32>,
    now: DateTime<Utc>,
) -> Vec<Result<InsertOutcome, StoreError>> {
    let inserts = records
        .iter()
        .map(|record| store.insert_token(record, None, limit, now));
    futures::future::join_all(inserts).await
}

async fn failing_insert_leaves_the_rest_of_its_batch(backend: Backend) {
    let (db, store) = open(backend).await;
    let now = Utc::now();
    let stored = record("taken-digest", "1", now);
    store
        .insert_token(&stored, None, None, now)
        .await
        .expect("first insert");

    // The first insert of the batch repeats a stored digest, so it must fail.
    // The two after it belong to other logins and must not fail with it.
    let batch = [
        record("taken-digest", "2", now),
        record("second-digest", "3", now),
        record("third-digest", "4", now),
    ];
    let outcomes = insert_together(store.as_ref(), &batch, None, now).await;

    assert!(outcomes[0].is_err(), "a repeated digest cannot be stored");
    assert_eq!(outcomes[1].as_ref().ok(), Some(&InsertOutcome::Inserted));
    assert_eq!(outcomes[2].as_ref().ok(), Some(&InsertOutcome::Inserted));
    assert_eq!(db.count("knox_authtoken", "1 = 1").await, 3);
    assert_eq!(
        db.count(
            "knox_authtoken",
            "digest = 'taken-digest' AND user_id = '1'"
        )
        .await,
        1,
        "the stored row is untouched"
    );
}

async fn batch_applies_limit_in_arrival_order(backend: Backend) {
    let (db, store) = open(backend).await;
    let now = Utc::now();
    store
        .insert_token(&record("stored", "alice", now), None, Some(3), now)
        .await
        .expect("first insert");

    // Alice has one token and may have three. Bob has none.
    let batch: Vec<TokenRecord> = (0..6)
        .map(|n| {
            let user = if n % 2 == 0 { "alice" } else { "bob" };
            record(&format!("digest-{n}"), user, now)
        })
        .collect();
    let outcomes: Vec<InsertOutcome> = insert_together(store.as_ref(), &batch, Some(3), now)
        .await
        .into_iter()
        .map(|outcome| outcome.expect("insert"))
        .collect();

    use InsertOutcome::{Inserted, LimitReached};
    assert_eq!(
        outcomes,
        [
            Inserted,
            Inserted,
            Inserted,
            Inserted,
            LimitReached,
            Inserted
        ],
        "alice's first two fit beside her stored token, her third does not; bob's three fit"
    );
    assert_eq!(db.count("knox_authtoken", "user_id = 'alice'").await, 3);
    assert_eq!(db.count("knox_authtoken", "user_id = 'bob'").await, 3);
    assert_eq!(
        db.count("knox_authtoken", "digest = 'digest-4'").await,
        0,
        "a refused insert stores nothing"
    );
}

async fn batch_of_many_stores_every_row(backend: Backend) {
    let (db, store) = open(backend).await;
    let now = Utc::now();
    // More inserts than one batch takes, with and without expiry.
    let mut batch: Vec<TokenRecord> = (0..300)
        .map(|n| record(&format!("digest-{n}"), &format!("user-{}", n % 7), now))
        .collect();
    batch[10].expiry = None;
    let outcomes = insert_together(store.as_ref(), &batch, None, now).await;

    assert!(outcomes
        .iter()
        .all(|outcome| matches!(outcome, Ok(InsertOutcome::Inserted))));
    assert_eq!(db.count("knox_authtoken", "1 = 1").await, 300);
    assert_eq!(db.count("knox_authtoken", "expiry IS NULL").await, 1);
    let found = store.find_token("digest-299", now).await.expect("lookup");
    assert!(
        matches!(found, axum_knox::store::Lookup::Live(ref token) if token.user_id == "user-5"),
        "{found:?}"
    );
}

async fn cancelled_login_stores_nothing(backend: Backend) {
    let (db, store) = open(backend).await;
    let now = Utc::now();

    // Polled once, the login is queued; then it is dropped, as a cancelled
    // request is, before the writer task first runs.
    let cancelled_token = record("cancelled", "alice", now);
    let mut cancelled = store.insert_token(&cancelled_token, None, Some(1), now);
    assert!(futures::poll!(&mut cancelled).is_pending());
    drop(cancelled);

    let next = store
        .insert_token(&record("next", "alice", now), None, Some(1), now)
        .await
        .expect("second login");
    assert_eq!(next, InsertOutcome::Inserted, "the only session is free");
    assert_eq!(db.count("knox_authtoken", "digest = 'cancelled'").await, 0);
}

macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(knox_tests::Backend::Sqlite).await;
                }
            )*
        }

        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    if super::skip_postgres() {
                        return;
                    }
                    super::$name(knox_tests::Backend::Postgres).await;
                }
            )*
        }
    };
}

on_both_stores!(
    failing_insert_leaves_the_rest_of_its_batch,
    batch_applies_limit_in_arrival_order,
    batch_of_many_stores_every_row,
    cancelled_login_stores_nothing,
);
