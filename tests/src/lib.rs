//! Shared harness of the integration tests: a real server on a loopback port
//! over a real database, SQLite or PostgreSQL, with a manual clock.
//!
//! Every test body takes a [`Backend`] and runs once per store through
//! [`store_tests!`]. A PostgreSQL test gets its own schema, dropped afterwards,
//! in the database of `KNOX_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::routing::get;
use axum::{Json, Router};
use axum_knox::clock::ManualClock;
use axum_knox::store::{PgStore, SqliteStore, TokenStore};
use axum_knox::users::{KnoxUser, PasswordHasher, PgUsers, SqliteUsers, UserBackend};
use axum_knox::{Auth, Knox, Settings};
use base64::Engine;
use serde_json::{json, Value};

mod database;
pub mod peer;

pub use database::{postgres_url, skip_postgres, Backend, Database, TestUsers};

/// Runs each listed `async fn name(backend: Backend)` as two tests,
/// `sqlite::name` and `postgres::name`.
#[macro_export]
macro_rules! store_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::Backend::Sqlite).await;
                }
            )*
        }

        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if $crate::skip_postgres() {
                        return;
                    }
                    super::$name($crate::Backend::Postgres).await;
                }
            )*
        }
    };
}

/// The first demo user.
pub const ALICE: (&str, &str) = ("alice", "alice-password");
/// A second user, for isolation checks.
pub const BOB: (&str, &str) = ("bob", "bob: pässword with colons");

/// A running server with its database, clock and client.
pub struct TestApp {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// A client with no default headers.
    pub client: reqwest::Client,
    /// The clock the server reads; advance it to expire tokens.
    pub clock: ManualClock,
    /// The server's state.
    pub knox: Knox<KnoxUser>,
    /// The users table.
    pub users: TestUsers,
    /// The database the server runs on.
    pub db: Database,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// `GET /api/me`: the authenticated user.
async fn me(auth: Auth<KnoxUser>) -> Json<Value> {
    Json(json!({
        "id": auth.user.id,
        "username": auth.user.username,
        "expiry": auth.token.expiry.map(|expiry| expiry.to_rfc3339()),
    }))
}

/// `GET /api/maybe`: the user if authenticated, or `null`.
async fn maybe(auth: Option<Auth<KnoxUser>>) -> Json<Value> {
    Json(json!({ "username": auth.map(|auth| auth.user.username) }))
}

impl TestApp {
    /// Starts a server on a fresh database of `backend` with `views` nested
    /// at `/api/auth` plus `/api/me` and `/api/maybe`, users alice and bob, and
    /// the clock at the current time.
    pub async fn start(
        backend: Backend,
        settings: Settings,
        views: Router<Knox<KnoxUser>>,
    ) -> TestApp {
        let db = Database::create(backend).await;
        Self::start_on(db, settings, views).await
    }

    /// Starts a server on `db`, creating alice and bob unless they exist.
    pub async fn start_on(
        db: Database,
        settings: Settings,
        views: Router<Knox<KnoxUser>>,
    ) -> TestApp {
        let (store, users): (Arc<dyn TokenStore>, TestUsers) = match &db {
            Database::Sqlite { pool, .. } => {
                let store = SqliteStore::new(pool.clone());
                store.migrate().await.expect("migrate SQLite store");
                let users = SqliteUsers::new(pool.clone(), PasswordHasher::insecure_fast());
                users.migrate().await.expect("migrate users");
                (Arc::new(store), TestUsers::Sqlite(users))
            }
            Database::Postgres { pool, .. } => {
                let store = PgStore::new(pool.clone());
                store.migrate().await.expect("migrate PostgreSQL store");
                let users = PgUsers::new(pool.clone(), PasswordHasher::insecure_fast());
                users.migrate().await.expect("migrate users");
                (Arc::new(store), TestUsers::Postgres(users))
            }
        };
        for (username, password) in [ALICE, BOB] {
            if users.find_by_username(username).await.is_none() {
                users.create_user(username, password).await;
            }
        }

        let clock = ManualClock::starting_now();
        let backend: Arc<dyn UserBackend<User = KnoxUser>> = users.backend();
        let knox = Knox::from_parts(store, backend, settings, Arc::new(clock.clone()));
        let app = Router::new()
            .nest("/api/auth", views)
            .route("/api/me", get(me))
            .route("/api/maybe", get(maybe))
            .with_state(knox.clone());

        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .expect("bind loopback");
        let address = listener.local_addr().expect("local address");
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("serve");
        });

        TestApp {
            base: format!("http://{address}"),
            client: reqwest::Client::new(),
            clock,
            knox,
            users,
            db,
            server,
        }
    }

    /// Returns the absolute URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// `POST /api/auth/login` with Basic credentials.
    pub async fn login(&self, (username, password): (&str, &str)) -> reqwest::Response {
        self.client
            .post(self.url("/api/auth/login"))
            .header("Authorization", basic(username, password))
            .send()
            .await
            .expect("login request")
    }

    /// Logs in and returns the login body, panicking unless the status is 200.
    pub async fn login_body(&self, credentials: (&str, &str)) -> Value {
        let response = self.login(credentials).await;
        assert_eq!(response.status(), 200, "login failed");
        response.json().await.expect("login body")
    }

    /// Logs in and returns the token.
    pub async fn login_token(&self, credentials: (&str, &str)) -> String {
        let body = self.login_body(credentials).await;
        body["token"]
            .as_str()
            .expect("token in login body")
            .to_owned()
    }

    /// `GET /api/me` with `Authorization: Token <token>`.
    pub async fn me(&self, token: &str) -> reqwest::Response {
        self.get_with_header("/api/me", &format!("Token {token}"))
            .await
    }

    /// `GET path` with a raw `Authorization` header value.
    pub async fn get_with_header(&self, path: &str, authorization: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .header("Authorization", authorization)
            .send()
            .await
            .expect("request")
    }

    /// `POST path` with `Authorization: Token <token>`.
    pub async fn post_with_token(&self, path: &str, token: &str) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .header("Authorization", format!("Token {token}"))
            .send()
            .await
            .expect("request")
    }

    /// Counts the stored access token rows of every user.
    pub async fn token_rows(&self) -> i64 {
        self.db.count("knox_authtoken", "TRUE").await
    }
}

/// Returns a Basic `Authorization` value.
pub fn basic(username: &str, password: &str) -> String {
    let encoded =
        base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"));
    format!("Basic {encoded}")
}

/// Reads a 401 response and returns its `detail`, checking the challenge header.
pub async fn detail_401(response: reqwest::Response, challenge: &str) -> String {
    assert_eq!(response.status(), 401);
    let header = response
        .headers()
        .get("www-authenticate")
        .expect("401 carries WWW-Authenticate")
        .to_str()
        .expect("ASCII challenge")
        .to_owned();
    assert_eq!(header, challenge);
    let body: Value = response.json().await.expect("JSON body");
    body["detail"].as_str().expect("detail").to_owned()
}

impl TestApp {
    /// Returns the time of the server's clock.
    pub fn clock_now(&self) -> chrono::DateTime<chrono::Utc> {
        axum_knox::clock::Clock::now(&self.clock)
    }
}
