//! The quickstart server: knox's login, logout and logout-all views and a
//! protected `/api/me`, on a SQLite file.
//!
//! Environment:
//! - `DATABASE_URL`: SQLite database, created if missing (default `sqlite://knox-quickstart.sqlite3`),
//!   or a `postgres://` URL for a store shared by several instances
//! - `DEMO_USER`, `DEMO_PASSWORD`: the user created if missing (default `alice` / `alice-password`)
//! - `PORT`: port on 127.0.0.1 (default 3000)
//! - `API_PREFIX`: path the routes are mounted under (default `/api`; empty for
//!   `/auth/login` and `/me`, the paths of the load harness)
//! - `KNOX_REFRESH=1`: issue refresh tokens too, with a minimum issue interval of 1 second
//! - `KNOX_*` (such as `KNOX_TOKEN_TTL=2s`) and `KNOX_CONFIG` (a TOML file): knox's
//!   settings, see `SettingsLoader`; an invalid value stops the server with exit code 2
//! - `DEMO_PASSWORD_HASH=insecure-fast`: hash passwords at the lowest Argon2 cost, for
//!   load benchmarks only (default: the argon2 crate's recommended cost)
//! - `RUST_LOG`: log filter (default `info`)

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use axum::routing::get;
use axum::{Json, Router};
use axum_knox::clock::SystemClock;
use axum_knox::settings::SettingsLoader;
use axum_knox::store::{PgStore, SqliteStore, StoreError, TokenStore};
use axum_knox::users::{KnoxUser, PasswordHasher, PgUsers, SqliteUsers, UserBackend};
use axum_knox::{knox_view, Auth, Knox, Settings};
use serde::Serialize;

/// The `user` field of the login response.
#[derive(Serialize)]
struct PublicUser {
    id: i64,
    username: String,
}

impl From<&KnoxUser> for PublicUser {
    fn from(user: &KnoxUser) -> Self {
        Self {
            id: user.id,
            username: user.username.clone(),
        }
    }
}

/// Login, logout and logout-all, mounted at `/api/auth`.
#[knox_view(serializer = PublicUser)]
struct AuthViews;

async fn me(auth: Auth<KnoxUser>) -> Json<PublicUser> {
    Json(PublicUser::from(&auth.user))
}

/// Builds the settings: knox's defaults with a 1-second authentication cache,
/// `KNOX_REFRESH`'s shorthand, the `KNOX_CONFIG` file, then `KNOX_*`
/// variables, later sources winning.
fn load_settings() -> Result<Settings, axum_knox::settings::LoadError> {
    // One process: every revocation goes through it and reaches the cache at once.
    let mut base = Settings::builder().auth_cache_ttl(Some(std::time::Duration::from_secs(1)));
    if knox_refresh_enabled() {
        base = base
            .enable_refresh_token(true)
            .min_refresh_token_issue_interval(std::time::Duration::from_secs(1));
    }
    SettingsLoader::new()
        .base(base)
        .process_env()
        .allow_env("KNOX_REFRESH")
        .load()
}

/// Opens the token store and users table of `url`: PostgreSQL for
/// `postgres://` URLs, SQLite otherwise. Creates the demo user if it is missing.
async fn open_database(
    url: &str,
    hasher: PasswordHasher,
    demo_user: &str,
    demo_password: &str,
) -> Result<(Arc<dyn TokenStore>, Arc<dyn UserBackend<User = KnoxUser>>), StoreError> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let store = PgStore::open(url).await?;
        let users = PgUsers::new(store.pool().clone(), hasher);
        users.migrate().await?;
        if users.find_by_username(demo_user).await?.is_none() {
            users.create_user(demo_user, demo_password).await?;
            tracing::info!(username = %demo_user, "created demo user");
        } else {
            note_existing_user(demo_user);
        }
        return Ok((Arc::new(store), Arc::new(users)));
    }

    let store = SqliteStore::open(url).await?;
    let users = SqliteUsers::new(store.pool().clone(), hasher);
    users.migrate().await?;
    if users.find_by_username(demo_user).await?.is_none() {
        users.create_user(demo_user, demo_password).await?;
        tracing::info!(username = %demo_user, "created demo user");
    } else {
        note_existing_user(demo_user);
    }
    Ok((Arc::new(store), Arc::new(users)))
}

/// Returns `url` with the password of its user part, if any, replaced by `***`.
fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let Some((user_part, host_part)) = rest.split_once('@') else {
        return url.to_owned();
    };
    match user_part.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host_part}"),
        None => url.to_owned(),
    }
}

/// Describes a store error with its cause, in one line.
fn describe(error: &StoreError) -> String {
    match std::error::Error::source(error) {
        Some(cause) => format!("{error}: {cause}"),
        None => error.to_string(),
    }
}

/// Says that an existing demo user keeps the password it was created with,
/// since `DEMO_PASSWORD` and `DEMO_PASSWORD_HASH` apply only to a new user.
fn note_existing_user(demo_user: &str) {
    tracing::info!(
        username = %demo_user,
        "demo user exists and keeps its password; DEMO_PASSWORD and DEMO_PASSWORD_HASH apply only to a new user"
    );
}

/// Reads `KNOX_REFRESH` with the boolean forms of the settings; an invalid
/// value stops the quickstart.
fn knox_refresh_enabled() -> bool {
    let Ok(value) = std::env::var("KNOX_REFRESH") else {
        return false;
    };
    match value.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => true,
        "0" | "false" | "no" | "off" | "" => false,
        _ => {
            eprintln!("KNOX_REFRESH={value:?}: expected true or false (or 1 or 0)");
            std::process::exit(2);
        }
    }
}

/// Resolves on Ctrl-C or, on Unix, SIGTERM, so `kill` also stops the server
/// gracefully.
async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate = match tokio::signal::unix::signal(
            tokio::signal::unix::SignalKind::terminate(),
        ) {
            Ok(terminate) => terminate,
            Err(error) => {
                tracing::warn!(error = %error, "cannot listen for SIGTERM; only Ctrl-C stops the server");
                let _ = interrupt.await;
                return;
            }
        };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
    tracing::info!("shutting down");
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Logs go to stderr; stdout carries only the address and the curl lines.
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();

    let database_url = env_or("DATABASE_URL", "sqlite://knox-quickstart.sqlite3");
    let port_text = env_or("PORT", "3000");
    let Ok(port) = port_text.parse::<u16>() else {
        eprintln!("PORT={port_text:?}: expected a port number such as 3000");
        std::process::exit(2);
    };
    let api_prefix = env_or("API_PREFIX", "/api");
    if !(api_prefix.is_empty() || (api_prefix.starts_with('/') && !api_prefix.ends_with('/'))) {
        eprintln!("API_PREFIX={api_prefix:?}: expected empty or a path such as \"/api\"");
        std::process::exit(2);
    }
    let demo_user = env_or("DEMO_USER", "alice");
    let demo_password = env_or("DEMO_PASSWORD", "alice-password");

    let settings = match load_settings() {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("invalid knox settings:\n{error}");
            std::process::exit(2);
        }
    };
    let hasher = match env_or("DEMO_PASSWORD_HASH", "default").as_str() {
        "default" => PasswordHasher::default(),
        "insecure-fast" => {
            tracing::warn!("DEMO_PASSWORD_HASH=insecure-fast: passwords are hashed at the lowest cost, for benchmarks only");
            PasswordHasher::insecure_fast()
        }
        other => {
            eprintln!("DEMO_PASSWORD_HASH={other:?}: expected \"default\" or \"insecure-fast\"");
            std::process::exit(2);
        }
    };

    let (store, users) = match open_database(&database_url, hasher, &demo_user, &demo_password)
        .await
    {
        Ok(opened) => opened,
        Err(error) => {
            eprintln!(
                "cannot open the database of DATABASE_URL={}: {}",
                redact_password(&database_url),
                describe(&error)
            );
            eprintln!("Check that the server runs and the database exists, or set DATABASE_URL to a sqlite:// file.");
            std::process::exit(1);
        }
    };
    tracing::info!(?settings, "effective knox settings");
    let knox = Knox::from_parts(store, users, settings, Arc::new(SystemClock));
    knox.spawn_purge_task(std::time::Duration::from_secs(3600));

    let app = Router::new()
        .nest(&format!("{api_prefix}/auth"), AuthViews::router())
        .route(&format!("{api_prefix}/me"), get(me))
        .with_state(knox);

    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let listener = match tokio::net::TcpListener::bind(address).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("cannot listen on {address}: {error}; stop the other server or set PORT");
            std::process::exit(1);
        }
    };
    let base = format!("http://{address}{api_prefix}");
    println!("knox quickstart listening on {base}\n");
    println!("Log in (the response holds a token):");
    println!("  curl -s -X POST -u {demo_user}:{demo_password} {base}/auth/login");
    println!("Call a protected route with it:");
    println!("  curl -s -H \"Authorization: Token $TOKEN\" {base}/me");
    if knox_refresh_enabled() {
        println!("Exchange the refresh token for a new pair:");
        println!("  curl -s -X POST -H 'Content-Type: application/json' -d \"{{\\\"refresh_token\\\": \\\"$REFRESH\\\"}}\" {base}/auth/refresh");
    }
    println!("Log out that token, or every token of the user:");
    println!("  curl -s -X POST -H \"Authorization: Token $TOKEN\" {base}/auth/logout");
    println!("  curl -s -X POST -H \"Authorization: Token $TOKEN\" {base}/auth/logoutall");

    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    tracing::info!("server stopped");
    Ok(())
}
