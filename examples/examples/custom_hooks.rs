//! A view with overridden hooks: administrators get short-lived tokens, and
//! the login body is shaped like an OAuth token response.
//!
//! Run it with `cargo run -p knox-examples --example custom_hooks`; it uses an
//! in-memory database and creates `admin` / `admin-password` and
//! `alice` / `alice-password`. `PORT` sets the port on 127.0.0.1 (default 3001).

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use axum::routing::get;
use axum::Router;
use axum_knox::store::SqliteStore;
use axum_knox::users::{KnoxUser, PasswordHasher, SqliteUsers};
use axum_knox::{knox_view, Auth, Context, IssuedToken, Knox, KnoxHooks, Settings};
use serde_json::{Map, Value};

/// Login, logout and logout-all with custom hooks.
#[knox_view(custom_hooks, ttl = "8h", prefix = "demo_")]
struct AuthViews;

impl KnoxHooks for AuthViews {
    fn token_ttl(&self, ctx: &Context<'_, KnoxUser>) -> Option<Duration> {
        // A stolen administrator token is worth more, so it lives 15 minutes.
        if ctx.user.username == "admin" {
            Some(Duration::from_secs(15 * 60))
        } else {
            Some(Duration::from_secs(8 * 3600))
        }
    }

    fn post_response_data(
        &self,
        ctx: &Context<'_, KnoxUser>,
        issued: &IssuedToken,
    ) -> Map<String, Value> {
        let expires_in = issued
            .record
            .expiry
            .map(|expiry| (expiry - ctx.now).num_seconds());
        let mut body = Map::new();
        body.insert("access_token".into(), issued.token.clone().into());
        body.insert("token_type".into(), "Token".into());
        body.insert("expires_in".into(), expires_in.into());
        body.insert("username".into(), ctx.user.username.clone().into());
        body
    }
}

async fn hello(auth: Auth<KnoxUser>) -> String {
    format!("hello, {}\n", auth.user.username)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt().with_env_filter("info").init();

    let store = SqliteStore::open("sqlite::memory:").await?;
    let users = SqliteUsers::new(store.pool().clone(), PasswordHasher::default());
    users.migrate().await?;
    users.create_user("admin", "admin-password").await?;
    users.create_user("alice", "alice-password").await?;
    let knox = Knox::new(store, users, Settings::default());

    let app = Router::new()
        .nest("/api/auth", AuthViews::router())
        .route("/api/hello", get(hello))
        .with_state(knox);

    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|port| port.parse().ok())
        .unwrap_or(3001);
    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let listener = tokio::net::TcpListener::bind(address).await?;
    println!("custom hooks example on http://{address}");
    println!("  curl -s -X POST -u admin:admin-password http://{address}/api/auth/login");
    println!("  curl -s -X POST -u alice:alice-password http://{address}/api/auth/login");
    axum::serve(listener, app).await?;
    Ok(())
}
