//! A database outage gives 503 with a JSON body, and the server recovers when
//! the database comes back. A TCP proxy on loopback sits between the store
//! and PostgreSQL, so the test can cut and restore the connection.

use std::net::SocketAddr;
use std::time::Duration;

use axum_knox::{knox_view, Settings};
use knox_tests::{postgres_url, skip_postgres, Backend, Database, TestApp, ALICE};
use serde_json::Value;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

#[knox_view]
struct AuthViews;

/// Forwards connections from a loopback port to PostgreSQL until stopped.
struct Proxy {
    accept: JoinHandle<()>,
    connections: std::sync::Arc<std::sync::Mutex<Vec<JoinHandle<()>>>>,
}

impl Proxy {
    /// Returns a proxy that forwards nothing, to stand in for a stopped one.
    fn idle() -> Proxy {
        Proxy {
            accept: tokio::spawn(async {}),
            connections: std::sync::Arc::default(),
        }
    }

    async fn start(listen: SocketAddr, target: SocketAddr) -> Proxy {
        let listener = TcpListener::bind(listen).await.expect("bind proxy port");
        let connections = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let tracked = connections.clone();
        let accept = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let forward = tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                tracked.lock().unwrap().push(forward);
            }
        });
        Proxy {
            accept,
            connections,
        }
    }

    /// Closes the listener and every forwarded connection, and returns once
    /// the port is free again.
    async fn stop(self) {
        self.accept.abort();
        let _ = self.accept.await;
        let connections: Vec<_> = self.connections.lock().unwrap().drain(..).collect();
        for connection in connections {
            connection.abort();
            let _ = connection.await;
        }
    }
}

async fn status_and_body(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    (status, response.json().await.expect("JSON body"))
}

/// A server whose only way to PostgreSQL is the proxy.
struct BehindProxy {
    app: TestApp,
    proxy: Proxy,
    listen: SocketAddr,
    target: SocketAddr,
    /// The schema, made directly and dropped last.
    owner: Database,
}

impl BehindProxy {
    async fn start() -> BehindProxy {
        let owner = Database::create(Backend::Postgres).await;
        let Database::Postgres { schema, .. } = &owner else {
            unreachable!("created a PostgreSQL database");
        };
        let direct: PgConnectOptions = postgres_url().parse().unwrap();
        let target = SocketAddr::from(([127, 0, 0, 1], direct.get_port()));
        let listen = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();

        let proxy = Proxy::start(listen, target).await;
        let pool = PgPoolOptions::new()
            .max_connections(4)
            .acquire_timeout(Duration::from_secs(2))
            .connect_with(
                direct
                    .port(listen.port())
                    .options([("search_path", schema.as_str())]),
            )
            .await
            .expect("connect through the proxy");
        let db = Database::Postgres {
            pool,
            schema: String::new(),
        };
        let app = TestApp::start_on(db, Settings::default(), AuthViews::router()).await;
        BehindProxy {
            app,
            proxy,
            listen,
            target,
            owner,
        }
    }

    /// Closes every connection through the proxy and the proxy itself.
    async fn cut(&mut self) {
        let proxy = std::mem::replace(&mut self.proxy, Proxy::idle());
        proxy.stop().await;
    }

    /// Opens the proxy again.
    async fn restore(&mut self) {
        self.proxy = Proxy::start(self.listen, self.target).await;
    }

    /// Starts the server, logs in and checks that the token works.
    async fn start_logged_in() -> (BehindProxy, String) {
        let server = BehindProxy::start().await;
        let token = server.app.login_token(ALICE).await;
        assert_eq!(server.app.me(&token).await.status(), 200);
        (server, token)
    }

    /// Checks that `token` authenticates and a login succeeds again.
    async fn assert_serving(&self, token: &str, context: &str) {
        assert_eq!(self.app.me(token).await.status(), 200, "{context}");
        assert_eq!(self.app.login(ALICE).await.status(), 200, "{context}");
    }

    async fn stop(self) {
        self.proxy.stop().await;
        drop(self.app);
        drop(self.owner);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outage_gives_503_then_recovers() {
    if skip_postgres() {
        return;
    }
    let (mut server, token) = BehindProxy::start_logged_in().await;

    server.cut().await;
    let (status, body) = status_and_body(server.app.me(&token).await).await;
    assert_eq!(status, 503);
    assert_eq!(
        body["detail"],
        "Service temporarily unavailable, try again later."
    );

    // Requests during the outage fail side by side, each after the pool's
    // 2-second acquire timeout, rather than one after another.
    let started = std::time::Instant::now();
    let burst = (0..8).map(|_| server.app.me(&token));
    for response in futures::future::join_all(burst).await {
        assert_eq!(response.status(), 503);
    }
    let elapsed = started.elapsed();
    assert!(
        elapsed < Duration::from_secs(6),
        "8 requests took {elapsed:?} to fail"
    );
    let (status, _) = status_and_body(server.app.login(ALICE).await).await;
    assert_eq!(status, 503, "login during the outage");
    server.restore().await;

    server
        .assert_serving(&token, "recovered once the database is back")
        .await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_idle_connections_are_replaced() {
    if skip_postgres() {
        return;
    }
    let (mut server, token) = BehindProxy::start_logged_in().await;

    // Every connection open now is closed while idle, as when the server
    // restarts between two requests, and the server is reachable again at once.
    server.cut().await;
    server.restore().await;

    server
        .assert_serving(&token, "a closed idle connection is replaced, not reported")
        .await;
    server.stop().await;
}
