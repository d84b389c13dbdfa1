//! The real django-rest-knox as a peer: a Django project served by gunicorn
//! on a loopback port, on a database shared with the axum app under test.
//!
//! The project lives in `KNOX_PEER_DIR` (default: `shared/bench/knox-peer`
//! beside this repository) and brings two scripts. `setup.sh` creates a
//! virtualenv if it is missing, installs the pinned Django, DRF and
//! django-rest-knox from PyPI, migrates, and creates the user alice.
//! `serve.sh PORT` starts gunicorn in the background and prints its process
//! id. Nothing is written to the project's directory: the virtualenv lives in
//! `KNOX_PEER_VENV` (default `target/tmp/knox-peer-venv`), reused across
//! runs, and the SQLite file and logs in a temporary directory.
//!
//! When Python or the peer cannot be set up, a test panics under `CI=true`
//! and is skipped otherwise, with the reason printed.

use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::database::postgres_url;

/// Serialises `setup.sh` runs, since two of them may not install into one
/// virtualenv at once.
static SETUP: Mutex<()> = Mutex::new(());

/// Environment variables of the parent process that would change the peer's
/// database or settings. Each is removed before the scripts run, and so is
/// every `KNOX_*` variable.
const PEER_VARIABLES: &[&str] = &["DATABASE_URL", "DB_CONN_MAX_AGE", "DJANGO_SETTINGS_MODULE"];

/// Returns whether the tests run under `CI=true`, where nothing may be skipped.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|value| value == "true")
}

/// Reports that the peer cannot run: a panic under `CI=true`, otherwise a
/// printed reason and `None`, so the calling test returns early.
fn unavailable<T>(reason: &str) -> Option<T> {
    if in_ci() {
        panic!("the django-rest-knox peer is required under CI=true: {reason}");
    }
    eprintln!("skipping a django-rest-knox interop test: {reason}");
    None
}

/// Where the peer project and its virtualenv are.
#[derive(Debug, Clone)]
pub struct PeerProject {
    dir: PathBuf,
    venv: PathBuf,
}

impl PeerProject {
    /// Finds the peer project and checks that `python3` (or `PYTHON`) and
    /// `curl` run. The virtualenv goes to `KNOX_PEER_VENV`, or else to
    /// `knox-peer-venv` in `target_tmpdir`, the test's `CARGO_TARGET_TMPDIR`.
    /// Returns `None` outside CI when something is missing.
    ///
    /// # Panics
    ///
    /// Under `CI=true`, when something is missing.
    pub fn locate(target_tmpdir: &str) -> Option<PeerProject> {
        let dir = std::env::var_os("KNOX_PEER_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/bench/knox-peer")
            });
        if !dir.join("setup.sh").is_file() || !dir.join("serve.sh").is_file() {
            return unavailable(&format!(
                "no setup.sh and serve.sh in {}; set KNOX_PEER_DIR to the knox-peer project",
                dir.display()
            ));
        }

        let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_owned());
        for program in [python.as_str(), "curl"] {
            let runs = Command::new(program)
                .arg("--version")
                .output()
                .is_ok_and(|output| output.status.success());
            if !runs {
                return unavailable(&format!("`{program} --version` failed; install {program}"));
            }
        }

        let venv = std::env::var_os("KNOX_PEER_VENV")
            .map(PathBuf::from)
            .unwrap_or_else(|| Path::new(target_tmpdir).join("knox-peer-venv"));
        Some(PeerProject { dir, venv })
    }

    fn command(&self, script: &str, database: &PeerDatabase) -> Command {
        let mut command = Command::new(self.dir.join(script));
        for (name, _) in std::env::vars_os() {
            let name = name.to_string_lossy();
            if name.starts_with("KNOX_") || PEER_VARIABLES.contains(&name.as_ref()) {
                command.env_remove(name.as_ref());
            }
        }
        command
            .env("KNOX_PEER_VENV", &self.venv)
            .env("PYTHONDONTWRITEBYTECODE", "1");
        match database {
            PeerDatabase::Sqlite { path, .. } => command.env("KNOX_PEER_SQLITE", path),
            PeerDatabase::Postgres { url, .. } => command.env("DATABASE_URL", url),
        };
        command
    }

    /// Runs `setup.sh` on `database`: creates the virtualenv if it is missing,
    /// installs the pinned packages, migrates and creates alice. Returns
    /// `None` outside CI when it fails.
    ///
    /// # Panics
    ///
    /// Under `CI=true`, when it fails.
    pub async fn set_up(&self, database: &PeerDatabase) -> Option<()> {
        let mut command = self.command("setup.sh", database);
        let output = tokio::task::spawn_blocking(move || {
            let _installing = SETUP
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            command.output()
        })
        .await
        .expect("setup.sh thread");
        match output {
            Ok(output) if output.status.success() => Some(()),
            Ok(output) => unavailable(&format!(
                "setup.sh failed with {}:\n{}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            )),
            Err(error) => unavailable(&format!("setup.sh did not start: {error}")),
        }
    }

    /// Starts the peer on `database` with the `KNOX_*` settings in `settings`
    /// and one gunicorn worker, on a free loopback port.
    ///
    /// # Panics
    ///
    /// When `serve.sh` fails three times, with the peer's log.
    pub async fn serve(&self, database: &PeerDatabase, settings: &[(&str, &str)]) -> DjangoPeer {
        let mut failures = Vec::new();
        // A port found free can be taken before gunicorn binds it, so a failed
        // start is retried on another port.
        for _ in 0..3 {
            let port = free_port();
            let log = database.dir().join(format!("peer-{port}.log"));
            let mut command = self.command("serve.sh", database);
            command
                .arg(port.to_string())
                .env("WORKERS", "1")
                .env("LOG", &log)
                .envs(settings.iter().copied());
            let output = tokio::task::spawn_blocking(move || command.output())
                .await
                .expect("serve.sh thread")
                .expect("run serve.sh");

            // serve.sh prints the id first, so a failed start is still stopped.
            let peer = DjangoPeer {
                base: format!("http://127.0.0.1:{port}"),
                pid: parse_pid(&output),
                log,
                client: reqwest::Client::new(),
            };
            if output.status.success() && peer.pid.is_some() {
                return peer;
            }
            failures.push(format!(
                "port {port}: {}\n{}",
                String::from_utf8_lossy(&output.stderr),
                peer.log_text()
            ));
        }
        panic!("the peer did not start:\n{}", failures.join("\n"));
    }
}

fn parse_pid(output: &Output) -> Option<u32> {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .next()
        .and_then(|line| line.trim().parse().ok())
}

fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|listener| listener.local_addr())
        .expect("bind a loopback port")
        .port()
}

/// The database that the peer and the axum app share, removed when dropped.
pub enum PeerDatabase {
    /// A SQLite file in a temporary directory, which also contains the logs.
    Sqlite {
        /// Path of the file.
        path: PathBuf,
        /// The directory, deleted on drop.
        dir: tempfile::TempDir,
    },
    /// A database of its own on the PostgreSQL server of [`postgres_url`].
    Postgres {
        /// URL of the database.
        url: String,
        /// Name of the database, dropped on drop.
        name: String,
        /// A temporary directory for the logs.
        dir: tempfile::TempDir,
    },
}

impl PeerDatabase {
    /// Creates an empty SQLite file path in a fresh directory.
    pub fn sqlite() -> PeerDatabase {
        let dir = tempfile::tempdir().expect("temporary directory");
        let path = dir.path().join("django.sqlite3");
        PeerDatabase::Sqlite { path, dir }
    }

    /// Creates an empty database next to the one of [`postgres_url`], since
    /// the peer takes a database name and no schema.
    ///
    /// # Panics
    ///
    /// When PostgreSQL is unreachable or the database cannot be created.
    pub async fn postgres() -> PeerDatabase {
        let admin_url = postgres_url();
        let name = format!("knox_interop_{}", axum_knox::crypto::generate_token("", 16));
        let admin = sqlx::PgPool::connect(&admin_url)
            .await
            .unwrap_or_else(|error| panic!("PostgreSQL is unreachable at {admin_url}: {error}"));
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&admin)
            .await
            .expect("create the interop database");
        admin.close().await;

        PeerDatabase::Postgres {
            url: with_database(&admin_url, &name),
            name,
            dir: tempfile::tempdir().expect("temporary directory"),
        }
    }

    /// Returns the URL the axum app connects with.
    pub fn url(&self) -> String {
        match self {
            PeerDatabase::Sqlite { path, .. } => format!("sqlite://{}", path.display()),
            PeerDatabase::Postgres { url, .. } => url.clone(),
        }
    }

    fn dir(&self) -> &Path {
        match self {
            PeerDatabase::Sqlite { dir, .. } | PeerDatabase::Postgres { dir, .. } => dir.path(),
        }
    }
}

/// Returns `url` with its database name replaced by `name`.
fn with_database(url: &str, name: &str) -> String {
    let (location, query) = url.split_once('?').unwrap_or((url, ""));
    let (server, _database) = location
        .rsplit_once('/')
        .filter(|(server, _)| server.contains("//"))
        .unwrap_or((location, ""));
    if query.is_empty() {
        format!("{server}/{name}")
    } else {
        format!("{server}/{name}?{query}")
    }
}

impl Drop for PeerDatabase {
    fn drop(&mut self) {
        let PeerDatabase::Postgres { name, .. } = self else {
            return;
        };
        // Drop cannot await, so a thread of its own removes the database.
        // FORCE ends connections a stopped peer may have left behind.
        let statement = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
        let url = postgres_url();
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async {
                let admin = sqlx::PgPool::connect(&url).await?;
                sqlx::query(&statement).execute(&admin).await?;
                admin.close().await;
                Ok::<_, sqlx::Error>(())
            })
        })
        .join();
        if let Ok(Err(error)) = dropped {
            eprintln!("dropping the interop database {name} failed: {error}");
        }
    }
}

/// A running gunicorn of the peer, stopped when dropped.
pub struct DjangoPeer {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    pid: Option<u32>,
    log: PathBuf,
    client: reqwest::Client,
}

impl DjangoPeer {
    /// `POST /auth/login/` with Basic credentials.
    pub async fn login(&self, (username, password): (&str, &str)) -> reqwest::Response {
        self.client
            .post(format!("{}/auth/login/", self.base))
            .header("Authorization", crate::basic(username, password))
            .send()
            .await
            .expect("login request to the peer")
    }

    /// Logs in and returns the token, panicking unless the status is 200.
    pub async fn login_token(&self, credentials: (&str, &str)) -> String {
        let response = self.login(credentials).await;
        assert_eq!(response.status(), 200, "login at the peer failed");
        let body: Value = response.json().await.expect("login body");
        body["token"].as_str().expect("token").to_owned()
    }

    /// `GET /me/` with `Authorization: Token <token>`.
    pub async fn me(&self, token: &str) -> reqwest::Response {
        self.client
            .get(format!("{}/me/", self.base))
            .header("Authorization", format!("Token {token}"))
            .send()
            .await
            .expect("request to the peer")
    }

    /// `POST /auth/<action>/` (`logout` or `logoutall`) with a token.
    pub async fn post_auth(&self, action: &str, token: &str) -> reqwest::Response {
        self.client
            .post(format!("{}/auth/{action}/", self.base))
            .header("Authorization", format!("Token {token}"))
            .send()
            .await
            .expect("request to the peer")
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for DjangoPeer {
    fn drop(&mut self) {
        let Some(pid) = self.pid else {
            return;
        };
        if std::thread::panicking() {
            eprintln!("log of the peer at {}:\n{}", self.base, self.log_text());
        }

        // SIGINT is gunicorn's quick shutdown; SIGKILL follows if it hangs.
        signal(pid, "-INT");
        let deadline = Instant::now() + Duration::from_secs(10);
        while is_running(pid) {
            if Instant::now() > deadline {
                signal(pid, "-KILL");
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Sends `signal` (such as `-INT`) to process `pid`; returns whether it was delivered.
fn signal(pid: u32, signal: &str) -> bool {
    Command::new("kill")
        .args([signal, &pid.to_string()])
        .output()
        .is_ok_and(|output| output.status.success())
}

/// Returns whether process `pid` still runs. gunicorn is not a child of this
/// process, so an exited one may stay a zombie until its new parent reaps it.
fn is_running(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(") ")
            .is_none_or(|(_, fields)| !fields.starts_with('Z')),
        Err(_) if Path::new("/proc/self").exists() => false,
        Err(_) => signal(pid, "-0"),
    }
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn database_name_is_replaced() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/test", "other"),
            "postgres://postgres@127.0.0.1:5432/other"
        );
        assert_eq!(
            with_database("postgres://u:p@127.0.0.1/test?sslmode=disable", "other"),
            "postgres://u:p@127.0.0.1/other?sslmode=disable"
        );
        assert_eq!(
            with_database("postgres://127.0.0.1:5432", "other"),
            "postgres://127.0.0.1:5432/other"
        );
    }
}
