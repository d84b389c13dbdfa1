//! Two app instances on one PostgreSQL database, as behind a load balancer.
//!
//! Both serve knox's views and `/api/me` from their own connection pool on the
//! database of `DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/test`),
//! on 127.0.0.1 ports `PORT` and `PORT + 1` (default 3000 and 3001). A token
//! issued by one works on the other, and a logout on one is seen by the other
//! at once, because every request reads the shared database.

use std::net::{Ipv4Addr, SocketAddr};

use axum::routing::get;
use axum::{Json, Router};
use axum_knox::store::PgStore;
use axum_knox::users::{KnoxUser, PasswordHasher, PgUsers};
use axum_knox::{knox_view, Auth, Knox, Settings};

/// Login, logout and logout-all, shared by both instances.
#[knox_view(token_limit = 10)]
struct AuthViews;

async fn me(auth: Auth<KnoxUser>) -> Json<KnoxUser> {
    Json(auth.user)
}

/// Builds one instance: its own pool, store and router.
async fn instance(url: &str) -> Result<Router, Box<dyn std::error::Error>> {
    let store = PgStore::open(url).await?;
    let users = PgUsers::new(store.pool().clone(), PasswordHasher::default());
    users.migrate().await?;
    let knox = Knox::new(store, users, Settings::default());
    Ok(Router::new()
        .nest("/api/auth", AuthViews::router())
        .route("/api/me", get(me))
        .with_state(knox))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter("info")
        .init();
    let url = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|port| port.parse().ok())
        .unwrap_or(3000);

    // The demo user lives in the shared database, so one instance creates it.
    let setup = PgStore::open(&url).await?;
    let users = PgUsers::new(setup.pool().clone(), PasswordHasher::default());
    users.migrate().await?;
    if users.find_by_username("alice").await?.is_none() {
        users.create_user("alice", "alice-password").await?;
    }

    let mut servers = Vec::new();
    for offset in 0..2 {
        let app = instance(&url).await?;
        let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port + offset));
        let listener = tokio::net::TcpListener::bind(address).await?;
        println!("instance {offset} on http://{address}");
        servers.push(tokio::spawn(
            async move { axum::serve(listener, app).await },
        ));
    }
    println!("log in on one, use the token on the other:");
    println!("  TOKEN=$(curl -s -X POST -u alice:alice-password http://127.0.0.1:{port}/api/auth/login | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"token\"])')");
    println!(
        "  curl -s -H \"Authorization: Token $TOKEN\" http://127.0.0.1:{}/api/me",
        port + 1
    );

    for server in servers {
        server.await??;
    }
    Ok(())
}
