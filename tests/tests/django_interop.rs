//! The real django-rest-knox 5.1.0 and this crate on one database: each
//! accepts the other's tokens and honours the other's logouts and expiries.
//!
//! Each test sets up the Django peer (see `knox_tests::peer`) and starts it
//! twice under gunicorn: once with knox's default settings, once with a token
//! prefix. Beside it runs an axum app on the same SQLite file or PostgreSQL
//! database, with `existing_knox_tables` and `DjangoUsers`. Apart from the
//! table choice, the app keeps every default setting. All traffic stays on
//! 127.0.0.1.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::routing::get;
use axum::{Json, Router};
use axum_knox::clock::ManualClock;
use axum_knox::store::{PgStore, SqliteStore, TokenStore};
use axum_knox::users::{DjangoUsers, KnoxUser};
use axum_knox::{knox_view, Auth, Knox, Settings};
use chrono::{TimeDelta, Utc};
use knox_tests::peer::{DjangoPeer, PeerDatabase, PeerProject};
use knox_tests::{basic, detail_401, store_tests, Backend, ALICE};
use serde_json::{json, Value};

/// Prefix of the prefixed peer and of [`PrefixedViews`]: knox's maximum of 10
/// characters, so knox's 15-character `token_key` holds only 5 random ones.
const PREFIX: &str = "acme_live_";

/// A user whose hash Django wrote at 1000 iterations: the password "secret".
const ERIN: (&str, &str) = ("erin", "secret");

/// `PBKDF2PasswordHasher().encode("secret", "pepper", 1000)` in Django 5.2.19.
const SECRET_PBKDF2_1000: &str =
    "pbkdf2_sha256$1000$pepper$lA3VSxFxZ6ip2/1vc7AjRermsSZvpp1iOlL1BD2eHIU=";

#[knox_view]
struct AuthViews;

#[knox_view(prefix = "acme_live_")]
struct PrefixedViews;

#[knox_view(token_limit = 1)]
struct LimitedViews;

/// The axum side: default views at `/api/auth`, prefixed ones at
/// `/api/prefixed/auth`, limited ones at `/api/limited/auth`, and `/api/me`.
struct RustApp {
    base: String,
    client: reqwest::Client,
    clock: ManualClock,
    store: Arc<dyn TokenStore>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for RustApp {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn me(auth: Auth<KnoxUser>) -> Json<Value> {
    Json(json!({ "id": auth.user.id, "username": auth.user.username }))
}

impl RustApp {
    async fn start(database: &PeerDatabase) -> RustApp {
        let url = database.url();
        let (store, users): (Arc<dyn TokenStore>, DjangoUsers) = match database {
            PeerDatabase::Sqlite { .. } => {
                let pool = axum_knox::store::sqlite::connect(&url)
                    .await
                    .expect("open Django's SQLite file");
                let store = SqliteStore::existing_knox_tables(pool.clone())
                    .await
                    .expect("use Django's knox_authtoken on SQLite");
                (Arc::new(store), DjangoUsers::sqlite(pool))
            }
            PeerDatabase::Postgres { .. } => {
                let pool = axum_knox::store::postgres::connect(&url)
                    .await
                    .expect("connect to Django's PostgreSQL database");
                let store = PgStore::existing_knox_tables(pool.clone())
                    .await
                    .expect("use Django's knox_authtoken on PostgreSQL");
                (Arc::new(store), DjangoUsers::postgres(pool))
            }
        };
        // The decoy for unknown users costs 1000 iterations instead of a
        // million, which take seconds in a debug build; no check here times it.
        let users = users.unknown_user_iterations(1000);

        let clock = ManualClock::starting_now();
        let knox = Knox::from_parts(
            Arc::clone(&store),
            Arc::new(users),
            Settings::default(),
            Arc::new(clock.clone()),
        );
        let app = Router::new()
            .nest("/api/auth", AuthViews::router())
            .nest("/api/prefixed/auth", PrefixedViews::router())
            .nest("/api/limited/auth", LimitedViews::router())
            .route("/api/me", get(me))
            .with_state(knox);
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .expect("bind loopback");
        let address = listener.local_addr().expect("local address");
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("serve");
        });

        RustApp {
            base: format!("http://{address}"),
            client: reqwest::Client::new(),
            clock,
            store,
            server,
        }
    }

    async fn login_at(&self, views: &str, (username, password): (&str, &str)) -> reqwest::Response {
        self.client
            .post(format!("{}{views}/login", self.base))
            .header("Authorization", basic(username, password))
            .send()
            .await
            .expect("login request")
    }

    async fn login_token_at(&self, views: &str, credentials: (&str, &str)) -> String {
        let response = self.login_at(views, credentials).await;
        assert_eq!(response.status(), 200, "login at {views} failed");
        let body: Value = response.json().await.expect("login body");
        body["token"].as_str().expect("token").to_owned()
    }

    async fn login_token(&self, credentials: (&str, &str)) -> String {
        self.login_token_at("/api/auth", credentials).await
    }

    async fn me(&self, token: &str) -> reqwest::Response {
        self.client
            .get(format!("{}/api/me", self.base))
            .header("Authorization", format!("Token {token}"))
            .send()
            .await
            .expect("request")
    }

    async fn post_auth(&self, action: &str, token: &str) -> reqwest::Response {
        self.client
            .post(format!("{}/api/auth/{action}", self.base))
            .header("Authorization", format!("Token {token}"))
            .send()
            .await
            .expect("request")
    }

    /// Returns the stored `token_key` of a live `token`.
    async fn stored_token_key(&self, token: &str) -> String {
        let digest = axum_knox::crypto::hash_token(token.as_bytes());
        match self.store.find_token(&digest, self.now()).await {
            Ok(axum_knox::store::Lookup::Live(record)) => record.token_key,
            other => panic!("no live row for the token: {other:?}"),
        }
    }

    fn now(&self) -> chrono::DateTime<Utc> {
        axum_knox::clock::Clock::now(&self.clock)
    }
}

/// Asserts that `response` is 200 for alice, from either side.
async fn assert_alice(response: reqwest::Response, what: &str) {
    assert_eq!(response.status(), 200, "{what}");
    let body: Value = response.json().await.expect("JSON body");
    assert_eq!(body["username"], "alice", "{what}");
}

/// Asserts that `response` is knox's 401 for an unknown token.
async fn assert_invalid_token(response: reqwest::Response, what: &str) {
    assert_eq!(
        detail_401(response, "Token").await,
        "Invalid token.",
        "{what}"
    );
}

/// Runs one database through every direction. The steps share alice, so
/// each takes fresh tokens and the logout-all steps come last but one.
async fn knox_and_axum_share_tokens(backend: Backend) {
    let Some(project) = PeerProject::locate(env!("CARGO_TARGET_TMPDIR")) else {
        return;
    };
    let database = match backend {
        Backend::Sqlite => PeerDatabase::sqlite(),
        Backend::Postgres => PeerDatabase::postgres().await,
    };
    if project.set_up(&database).await.is_none() {
        return;
    }
    // Declared after the database, so the peers stop before it is dropped.
    let knox = project.serve(&database, &[]).await;
    let prefixed_knox = project
        .serve(&database, &[("KNOX_TOKEN_PREFIX", PREFIX)])
        .await;
    let django_schema = texts(&database, knox_authtoken_schema(backend)).await;
    let ours = RustApp::start(&database).await;

    knox_token_works_here_until_knox_logout(&knox, &ours).await;
    our_token_works_in_knox_until_our_logout(&knox, &ours).await;
    prefixed_tokens_cross_both_ways(&knox, &prefixed_knox, &ours).await;
    expiry_is_honoured_both_ways(&knox, &ours).await;
    knox_tokens_count_against_our_limit(&knox, &ours).await;
    logout_all_crosses_both_ways(&knox, &ours).await;
    django_users_log_in_as_django_allows(&database, &knox, &ours).await;

    assert_eq!(
        texts(&database, knox_authtoken_schema(backend)).await,
        django_schema,
        "Django's knox_authtoken keeps its columns and indexes"
    );
}

/// Returns a query that lists the columns and indexes of `knox_authtoken`.
fn knox_authtoken_schema(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => {
            "SELECT type || ' ' || name || ': ' || COALESCE(sql, '') FROM sqlite_master
             WHERE tbl_name = 'knox_authtoken' ORDER BY name"
        }
        Backend::Postgres => {
            "SELECT column_name || ' ' || data_type || ' ' || is_nullable
             FROM information_schema.columns
             WHERE table_schema = current_schema() AND table_name = 'knox_authtoken'
             UNION ALL
             SELECT indexdef FROM pg_indexes
             WHERE schemaname = current_schema() AND tablename = 'knox_authtoken'
             ORDER BY 1"
        }
    }
}

async fn knox_token_works_here_until_knox_logout(knox: &DjangoPeer, ours: &RustApp) {
    let token = knox.login_token(ALICE).await;
    assert_alice(ours.me(&token).await, "a token knox issued, at our /api/me").await;
    assert_alice(knox.me(&token).await, "the same token at knox's /me/").await;

    let logout = knox.post_auth("logout", &token).await;
    assert_eq!(logout.status(), 204, "logout at knox");
    assert_invalid_token(ours.me(&token).await, "our /api/me after knox's logout").await;
}

async fn our_token_works_in_knox_until_our_logout(knox: &DjangoPeer, ours: &RustApp) {
    let token = ours.login_token(ALICE).await;
    assert_alice(knox.me(&token).await, "a token we issued, at knox's /me/").await;
    assert_alice(ours.me(&token).await, "the same token at our /api/me").await;

    let logout = ours.post_auth("logout", &token).await;
    assert_eq!(logout.status(), 204, "our logout");
    let after = knox.me(&token).await;
    assert_eq!(after.status(), 401, "knox's /me/ after our logout");
    let body: Value = after.json().await.expect("JSON body");
    assert_eq!(body["detail"], "Invalid token.");
}

async fn prefixed_tokens_cross_both_ways(
    knox: &DjangoPeer,
    prefixed_knox: &DjangoPeer,
    ours: &RustApp,
) {
    let from_knox = prefixed_knox.login_token(ALICE).await;
    assert!(from_knox.starts_with(PREFIX), "knox prefixed its token");
    assert_alice(
        ours.me(&from_knox).await,
        "a prefixed knox token, at our /api/me",
    )
    .await;

    let from_us = ours.login_token_at("/api/prefixed/auth", ALICE).await;
    assert!(from_us.starts_with(PREFIX), "we prefixed our token");
    // knox looks a token up by its first 15 characters, prefix included.
    assert_eq!(
        ours.stored_token_key(&from_us).await,
        from_us[..15],
        "token_key in Django's table is knox's token[:15]"
    );
    assert_alice(
        prefixed_knox.me(&from_us).await,
        "our prefixed token, at the prefixed knox",
    )
    .await;
    assert_alice(
        knox.me(&from_us).await,
        "our prefixed token, at knox without a prefix setting",
    )
    .await;
}

async fn expiry_is_honoured_both_ways(knox: &DjangoPeer, ours: &RustApp) {
    let ttl = TimeDelta::hours(10);

    // knox's token expires after knox's default 10 hours; our clock passes that.
    let from_knox = knox.login_token(ALICE).await;
    assert_alice(
        ours.me(&from_knox).await,
        "a fresh knox token, at our /api/me",
    )
    .await;
    ours.clock.set(Utc::now() + ttl + TimeDelta::minutes(1));
    assert_invalid_token(
        ours.me(&from_knox).await,
        "a knox token past its expiry, at our /api/me",
    )
    .await;
    ours.clock.set(Utc::now());

    // Issued on our clock 10 hours and 2 seconds ago, our token expired 2
    // seconds ago by the real clock that knox reads.
    ours.clock.set(Utc::now() - ttl - TimeDelta::seconds(2));
    let from_us = ours.login_token(ALICE).await;
    assert_alice(
        ours.me(&from_us).await,
        "our token, before its expiry on our clock",
    )
    .await;
    let at_knox = knox.me(&from_us).await;
    assert_eq!(at_knox.status(), 401, "knox's /me/ with our expired token");
    ours.clock.set(Utc::now());
    assert_invalid_token(ours.me(&from_us).await, "our expired token, at our /api/me").await;
}

async fn knox_tokens_count_against_our_limit(knox: &DjangoPeer, ours: &RustApp) {
    let from_knox = knox.login_token(ALICE).await;
    assert_alice(
        ours.me(&from_knox).await,
        "a fresh knox token, at our /api/me",
    )
    .await;

    let response = ours.login_at("/api/limited/auth", ALICE).await;
    assert_eq!(
        response.status(),
        403,
        "a limit of 1 counts knox's live token"
    );
    let body: Value = response.json().await.expect("JSON body");
    assert_eq!(
        body["error"],
        "Maximum amount of tokens allowed per user exceeded."
    );
}

async fn logout_all_crosses_both_ways(knox: &DjangoPeer, ours: &RustApp) {
    let from_knox = knox.login_token(ALICE).await;
    let from_us = ours.login_token(ALICE).await;
    let logout_all = knox.post_auth("logoutall", &from_knox).await;
    assert_eq!(logout_all.status(), 204, "logoutall at knox");
    assert_invalid_token(ours.me(&from_us).await, "our token after knox's logoutall").await;

    let from_knox = knox.login_token(ALICE).await;
    let from_us = ours.login_token(ALICE).await;
    let logout_all = ours.post_auth("logoutall", &from_us).await;
    assert_eq!(logout_all.status(), 204, "our logoutall");
    assert_eq!(
        knox.me(&from_knox).await.status(),
        401,
        "knox's token after our logoutall"
    );
}

async fn django_users_log_in_as_django_allows(
    database: &PeerDatabase,
    knox: &DjangoPeer,
    ours: &RustApp,
) {
    // Rows as Django's createuser would write them: erin with a PBKDF2 hash
    // at 1000 iterations, frank inactive with it, gina with an MD5 hash,
    // hana with an unusable password.
    let users = [
        ("erin", SECRET_PBKDF2_1000, true),
        ("frank", SECRET_PBKDF2_1000, false),
        ("gina", "md5$pepper$2a8f5d3e3c2f6b0e8a3c9d1e7f4b5a60", true),
        ("hana", "!K3rjn1o5UnusablePasswordMarker0123456789", true),
    ];
    for (username, password, active) in users {
        execute(
            database,
            &format!(
                "INSERT INTO auth_user (password, is_superuser, username, first_name, last_name,
                     email, is_staff, is_active, date_joined)
                 VALUES ('{password}', FALSE, '{username}', '', '', '', FALSE, {active},
                     CURRENT_TIMESTAMP)"
            ),
        )
        .await;
    }

    let token = ours.login_token(ERIN).await;
    assert_eq!(ours.me(&token).await.status(), 200, "erin at our /api/me");
    let at_knox = knox.me(&token).await;
    assert_eq!(at_knox.status(), 200, "erin's token from us, at knox");
    let last_login = texts(
        database,
        "SELECT CAST(last_login AS TEXT) FROM auth_user WHERE username = 'erin'",
    )
    .await;
    assert!(last_login[0].is_some(), "our login set last_login");

    for (credentials, why) in [
        (("erin", "Secret"), "wrong password"),
        (("nobody", "secret"), "unknown user"),
        (("frank", "secret"), "inactive user"),
        (("gina", "secret"), "MD5 hash"),
        (("hana", "secret"), "unusable password"),
        (("alice", ""), "empty password"),
    ] {
        let response = ours.login_at("/api/auth", credentials).await;
        assert_eq!(
            detail_401(response, "Basic realm=\"api\"").await,
            "Invalid username/password.",
            "{why}"
        );
    }
    let frank_login = texts(
        database,
        "SELECT CAST(last_login AS TEXT) FROM auth_user WHERE username = 'frank'",
    )
    .await;
    assert!(
        frank_login[0].is_none(),
        "a rejected login leaves last_login alone"
    );
}

async fn execute(database: &PeerDatabase, sql: &str) {
    match database {
        PeerDatabase::Sqlite { .. } => {
            let pool = sqlx::SqlitePool::connect(&database.url())
                .await
                .expect("open");
            sqlx::query(sql).execute(&pool).await.expect("statement");
            pool.close().await;
        }
        PeerDatabase::Postgres { .. } => {
            let pool = sqlx::PgPool::connect(&database.url())
                .await
                .expect("connect");
            sqlx::query(sql).execute(&pool).await.expect("statement");
            pool.close().await;
        }
    }
}

async fn texts(database: &PeerDatabase, sql: &str) -> Vec<Option<String>> {
    use sqlx::Row;
    match database {
        PeerDatabase::Sqlite { .. } => {
            let pool = sqlx::SqlitePool::connect(&database.url())
                .await
                .expect("open");
            let rows = sqlx::query(sql).fetch_all(&pool).await.expect("query");
            pool.close().await;
            rows.iter().map(|row| row.get(0)).collect()
        }
        PeerDatabase::Postgres { .. } => {
            let pool = sqlx::PgPool::connect(&database.url())
                .await
                .expect("connect");
            let rows = sqlx::query(sql).fetch_all(&pool).await.expect("query");
            pool.close().await;
            rows.iter().map(|row| row.get(0)).collect()
        }
    }
}

store_tests!(knox_and_axum_share_tokens);
