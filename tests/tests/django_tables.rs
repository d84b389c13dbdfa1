//! Stores on a `knox_authtoken` table that Django created: what
//! `existing_knox_tables` accepts, rejects and leaves unchanged, without
//! Python. `django_interop.rs` runs the real django-rest-knox against them.

use std::sync::Arc;

use axum_knox::crypto::GeneratedToken;
use axum_knox::store::{
    InsertOutcome, Lookup, PgStore, SqliteStore, StoreError, TokenRecord, TokenStore,
};
use chrono::{TimeDelta, Utc};
use knox_tests::{skip_postgres, store_tests, Backend, Database};

/// The schema of `knox_authtoken` after django-rest-knox 5.1.0's migrations
/// on Django 5.2's SQLite backend, without the foreign key to `auth_user`.
const DJANGO_SQLITE_TABLE: &str = r#"
CREATE TABLE "knox_authtoken" ("digest" varchar(128) NOT NULL PRIMARY KEY, "created" datetime NOT NULL, "user_id" integer NOT NULL, "expiry" datetime NULL, "token_key" varchar(25) NOT NULL);
CREATE INDEX "knox_authtoken_user_id_e5a5d899" ON "knox_authtoken" ("user_id");
CREATE INDEX "knox_authtoken_token_key_8f4f7d47" ON "knox_authtoken" ("token_key");
"#;

/// The same on PostgreSQL, with `{user_id}` for the type of the user's key.
const DJANGO_POSTGRES_TABLE: &str = r#"
CREATE TABLE "knox_authtoken" ("digest" varchar(128) NOT NULL PRIMARY KEY, "created" timestamp with time zone NOT NULL, "user_id" {user_id} NOT NULL, "expiry" timestamp with time zone NULL, "token_key" varchar(25) NOT NULL);
CREATE INDEX "knox_authtoken_user_id_e5a5d899" ON "knox_authtoken" ("user_id");
CREATE INDEX "knox_authtoken_token_key_8f4f7d47" ON "knox_authtoken" ("token_key");
"#;

/// The schema of `knox_authtoken` and its indexes, to compare before and after.
const SQLITE_SCHEMA: &str =
    "SELECT type || ' ' || name || ': ' || COALESCE(sql, '') FROM sqlite_master
     WHERE tbl_name = 'knox_authtoken' ORDER BY name";
const POSTGRES_SCHEMA: &str = "
    SELECT column_name || ' ' || data_type || ' ' || is_nullable FROM information_schema.columns
    WHERE table_schema = current_schema() AND table_name = 'knox_authtoken'
    UNION ALL
    SELECT indexdef FROM pg_indexes
    WHERE schemaname = current_schema() AND tablename = 'knox_authtoken'
    ORDER BY 1";

async fn existing_tables(db: &Database) -> Result<Arc<dyn TokenStore>, StoreError> {
    match db {
        Database::Sqlite { pool, .. } => SqliteStore::existing_knox_tables(pool.clone())
            .await
            .map(|store| Arc::new(store) as Arc<dyn TokenStore>),
        Database::Postgres { pool, .. } => PgStore::existing_knox_tables(pool.clone())
            .await
            .map(|store| Arc::new(store) as Arc<dyn TokenStore>),
    }
}

async fn execute_script(db: &Database, script: &str) {
    for statement in script.split(';').filter(|s| !s.trim().is_empty()) {
        db.execute(statement).await;
    }
}

fn token_for(user_id: &str, prefix: &str) -> (GeneratedToken, TokenRecord) {
    let generated = GeneratedToken::generate(prefix, 64);
    let now = Utc::now();
    let record = TokenRecord {
        digest: generated.digest.clone(),
        token_key: generated.token_key.clone(),
        user_id: user_id.to_owned(),
        created: now,
        expiry: Some(now + TimeDelta::hours(10)),
    };
    (generated, record)
}

async fn missing_table_is_reported(backend: Backend) {
    let db = Database::create(backend).await;

    let error = existing_tables(&db)
        .await
        .err()
        .expect("no knox_authtoken, no store");
    assert!(
        matches!(
            error,
            StoreError::MissingTable {
                table: "knox_authtoken",
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "table `knox_authtoken` not found; run Django's migrations first \
         (`python manage.py migrate knox`)"
    );
    let created = db
        .count(
            match backend {
                Backend::Sqlite => "sqlite_master",
                Backend::Postgres => "information_schema.tables",
            },
            match backend {
                Backend::Sqlite => "name LIKE 'knox_%'",
                Backend::Postgres => "table_schema = current_schema()",
            },
        )
        .await;
    assert_eq!(created, 0, "nothing is created before the check");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_django_table_is_used_unchanged() {
    let db = Database::create(Backend::Sqlite).await;
    execute_script(&db, DJANGO_SQLITE_TABLE).await;
    let before = db.texts(SQLITE_SCHEMA).await;

    let store = existing_tables(&db).await.expect("use Django's table");
    let (generated, record) = token_for("42", "acme_live_");
    let inserted = store
        .insert_token(&record, None, Some(5), record.created)
        .await
        .expect("insert");
    assert_eq!(inserted, InsertOutcome::Inserted);

    let stored = db
        .texts("SELECT typeof(user_id) || ' ' || token_key || ' ' || created FROM knox_authtoken")
        .await;
    let expected_created = record.created.format("%Y-%m-%d %H:%M:%S%.6f");
    assert_eq!(
        stored,
        [Some(format!(
            "integer {} {expected_created}",
            &generated.token[..15]
        ))],
        "an integer user id, knox's token_key and Django's time format"
    );
    let Lookup::Live(found) = store.find_token(&record.digest, Utc::now()).await.unwrap() else {
        panic!("the token is live");
    };
    assert_eq!(found.user_id, "42");
    assert_eq!(store.count_live_tokens("42", Utc::now()).await.unwrap(), 1);
    assert_eq!(store.delete_user_tokens("42").await.unwrap(), 1);

    assert_eq!(
        db.texts(SQLITE_SCHEMA).await,
        before,
        "knox_authtoken unchanged"
    );
    let refresh_tables = db
        .count(
            "sqlite_master",
            "type = 'table' AND name IN ('knox_refresh_family', 'knox_refresh_token')",
        )
        .await;
    assert_eq!(refresh_tables, 2, "the store's own refresh tables exist");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_user_id_types_round_trip() {
    if skip_postgres() {
        return;
    }
    let db = Database::create(Backend::Postgres).await;
    let uuid = "6f1c1a52-5d0b-4a8e-9d2a-3c1f0b8e7a10";
    for (sql_type, user_id, other_user) in [
        ("integer", "42", "43"),
        ("bigint", "9007199254740993", "43"),
        ("smallint", "42", "43"),
        ("text", "42", "43"),
        ("varchar(64)", uuid, "43"),
        ("uuid", uuid, "0b7e0c5e-6b2f-4a55-8d3e-0c4f4e0b1a22"),
    ] {
        db.execute("DROP TABLE IF EXISTS knox_authtoken").await;
        execute_script(&db, &DJANGO_POSTGRES_TABLE.replace("{user_id}", sql_type)).await;
        let before = db.texts(POSTGRES_SCHEMA).await;

        let store = existing_tables(&db).await.expect("use Django's table");
        let (generated, record) = token_for(user_id, "acme_live_");
        let (_, other) = token_for(other_user, "");
        for token in [&record, &other] {
            let inserted = store
                .insert_token(token, None, Some(1), token.created)
                .await
                .unwrap_or_else(|error| panic!("{sql_type}: insert failed: {error:?}"));
            assert_eq!(inserted, InsertOutcome::Inserted, "{sql_type}");
        }
        let (_, second) = token_for(user_id, "");
        let at_limit = store
            .insert_token(&second, None, Some(1), second.created)
            .await
            .unwrap();
        assert_eq!(at_limit, InsertOutcome::LimitReached, "{sql_type}");

        let Lookup::Live(found) = store.find_token(&record.digest, Utc::now()).await.unwrap()
        else {
            panic!("{sql_type}: the token is live");
        };
        assert_eq!(found.user_id, user_id, "{sql_type}");
        assert_eq!(found.token_key, generated.token[..15], "{sql_type}");
        let live = store.count_live_tokens(user_id, Utc::now()).await.unwrap();
        assert_eq!(live, 1, "{sql_type}");
        let deleted = store.delete_user_tokens(user_id).await.unwrap();
        assert_eq!(deleted, 1, "{sql_type}: only this user's token");
        assert_eq!(db.count("knox_authtoken", "TRUE").await, 1, "{sql_type}");

        assert_eq!(
            db.texts(POSTGRES_SCHEMA).await,
            before,
            "{sql_type}: knox_authtoken unchanged"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_unsupported_user_id_type_is_reported() {
    if skip_postgres() {
        return;
    }
    let db = Database::create(Backend::Postgres).await;
    execute_script(
        &db,
        &DJANGO_POSTGRES_TABLE.replace("{user_id}", "numeric(10, 0)"),
    )
    .await;

    let error = existing_tables(&db)
        .await
        .err()
        .expect("a numeric user_id is not supported");
    assert_eq!(
        error.to_string(),
        "column `knox_authtoken.user_id` has the unsupported type `numeric(10,0)`"
    );
}

store_tests!(missing_table_is_reported);
