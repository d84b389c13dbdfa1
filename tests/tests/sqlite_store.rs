//! The SQLite store's own connections: the login writer with its background
//! checkpoints, and the connections lent to lookups, on a file and in memory.

use std::time::Duration;

use axum_knox::store::{sqlite, InsertOutcome, Lookup, SqliteStore, TokenRecord, TokenStore};
use axum_knox::users::{PasswordHasher, SqliteUsers, UserBackend};
use chrono::{DateTime, Utc};

fn record(n: usize, now: DateTime<Utc>) -> TokenRecord {
    TokenRecord {
        digest: format!("{n:0128x}"),
        token_key: format!("{n:015x}"),
        user_id: "1".to_owned(),
        created: now,
        expiry: Some(now + chrono::Duration::hours(1)),
    }
}

async fn insert_many(store: &SqliteStore, range: std::ops::Range<usize>, now: DateTime<Utc>) {
    let records: Vec<TokenRecord> = range.map(|n| record(n, now)).collect();
    let inserts = records
        .iter()
        .map(|record| store.insert_token(record, None, None, now));
    for outcome in futures::future::join_all(inserts).await {
        assert_eq!(outcome.expect("insert"), InsertOutcome::Inserted);
    }
}

#[tokio::test]
async fn checkpoints_copy_logins_into_file() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("knox.sqlite3");
    let store = SqliteStore::open(&format!("sqlite://{}", path.display()))
        .await
        .expect("open store");
    let size_before = std::fs::metadata(&path).expect("database file").len();
    let now = Utc::now();

    // The writer's connection never checkpoints and nothing else writes, so
    // only the background checkpoint can move these rows into the file. It
    // starts after a batch when the last one is older than 100 ms.
    insert_many(&store, 0..500, now).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    insert_many(&store, 500..501, now).await;
    let mut size_after = size_before;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        size_after = std::fs::metadata(&path).expect("database file").len();
        if size_after > size_before {
            break;
        }
    }

    assert!(
        size_after > size_before,
        "the database file stayed at {size_before} bytes"
    );
    assert!(matches!(
        store.find_token(&record(0, now).digest, now).await,
        Ok(Lookup::Live(_))
    ));
}

#[tokio::test]
async fn in_memory_database_serves_logins() {
    let pool = sqlite::connect("sqlite::memory:")
        .await
        .expect("in-memory pool");
    let store = SqliteStore::new(pool.clone());
    store.migrate().await.expect("migrate store");
    let users = SqliteUsers::new(pool, PasswordHasher::insecure_fast());
    users.migrate().await.expect("migrate users");
    let alice = users
        .create_user("alice", "alice-password")
        .await
        .expect("create user");
    let now = Utc::now();

    // The in-memory database lives on the pool's one connection: the writer
    // and the lookups must share it, and give it back between uses.
    insert_many(&store, 0..40, now).await;
    let verified = users
        .verify_credentials("alice", "alice-password")
        .await
        .expect("verify");
    assert_eq!(verified.map(|user| user.id), Some(alice.id));
    assert!(matches!(
        store.find_token(&record(39, now).digest, now).await,
        Ok(Lookup::Live(_))
    ));
    assert_eq!(
        store.delete_token(&record(39, now).digest).await.ok(),
        Some(1)
    );
    assert!(matches!(
        store.find_token(&record(39, now).digest, now).await,
        Ok(Lookup::Missing)
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_memory_writes_do_not_deadlock() {
    let pool = sqlite::connect("sqlite::memory:")
        .await
        .expect("in-memory pool");
    let store = SqliteStore::new(pool);
    store.migrate().await.expect("migrate store");
    let now = Utc::now();

    // Logins queue for the writer while lookups of expired tokens delete
    // them, and both need the database's one connection and the write queue.
    let rounds = async {
        for round in 0..50 {
            let first = round * 100;
            let mut expired: Vec<TokenRecord> =
                (first..first + 10).map(|n| record(n, now)).collect();
            for token in &mut expired {
                token.expiry = Some(now - chrono::Duration::seconds(1));
                store
                    .insert_token(token, None, None, now)
                    .await
                    .expect("insert expired token");
            }
            let logins = (first + 10..first + 40)
                .map(|n| record(n, now))
                .collect::<Vec<_>>();
            let inserts = futures::future::join_all(
                logins
                    .iter()
                    .map(|token| store.insert_token(token, None, None, now)),
            );
            let lookups = futures::future::join_all(
                expired
                    .iter()
                    .map(|token| store.find_token(&token.digest, now)),
            );
            let (inserted, found) = tokio::join!(inserts, lookups);
            assert!(inserted.iter().all(|outcome| outcome.is_ok()));
            assert!(found
                .iter()
                .all(|lookup| matches!(lookup, Ok(Lookup::Expired(_)))));
        }
    };
    tokio::time::timeout(Duration::from_secs(30), rounds)
        .await
        .expect("the writes finish");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn busy_database_fails_batch_once() {
    use std::str::FromStr;

    let dir = tempfile::tempdir().expect("temporary directory");
    let url = format!("sqlite://{}", dir.path().join("knox.sqlite3").display());
    let busy_timeout = Duration::from_millis(200);
    let options = sqlx::sqlite::SqliteConnectOptions::from_str(&url)
        .expect("URL")
        .create_if_missing(true)
        .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
        .busy_timeout(busy_timeout);
    let pool = sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(4)
        .connect_with(options.clone())
        .await
        .expect("pool");
    let store = SqliteStore::new(pool);
    store.migrate().await.expect("migrate");

    // Another process's writer, modelled by a connection outside the store.
    let mut other = sqlx::ConnectOptions::connect(&options)
        .await
        .expect("other connection");
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut other)
        .await
        .expect("take the write lock");

    let now = Utc::now();
    let records: Vec<TokenRecord> = (0..10).map(|n| record(n, now)).collect();
    let started = std::time::Instant::now();
    let outcomes = futures::future::join_all(
        records
            .iter()
            .map(|token| store.insert_token(token, None, Some(100), now)),
    )
    .await;
    let elapsed = started.elapsed();
    sqlx::query("ROLLBACK")
        .execute(&mut other)
        .await
        .expect("release the write lock");

    // One busy timeout fails every login waiting with it; they are not tried
    // again one by one, each waiting the timeout anew.
    assert!(outcomes.iter().all(Result::is_err), "{outcomes:?}");
    assert!(
        elapsed < busy_timeout * 4,
        "10 logins failed after {elapsed:?} with a busy timeout of {busy_timeout:?}"
    );
    let later = store
        .insert_token(&record(99, now), None, Some(100), now)
        .await
        .expect("login once the lock is free");
    assert_eq!(later, InsertOutcome::Inserted);
}
