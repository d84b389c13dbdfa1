//! Runs the quickstart binary as a user would: configured only through its
//! environment, on a fresh SQLite file, over real HTTP.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

/// Path of the quickstart example, built by `cargo test` beside this test binary.
fn quickstart_binary() -> PathBuf {
    let test_binary = std::env::current_exe().expect("path of the test binary");
    // target/<profile>/deps/quickstart-<hash> -> target/<profile>/examples/quickstart
    let profile_dir = test_binary
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target profile directory");
    profile_dir
        .join("examples")
        .join(format!("quickstart{}", std::env::consts::EXE_SUFFIX))
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    listener.local_addr().expect("local address").port()
}

/// A running quickstart process, killed on drop.
struct Quickstart {
    child: Child,
    base: String,
    _dir: tempfile::TempDir,
}

impl Drop for Quickstart {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn command(dir: &tempfile::TempDir, port: u16, env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(quickstart_binary());
    command
        .current_dir(dir.path())
        .env_clear()
        .env("PORT", port.to_string())
        .env("DEMO_PASSWORD_HASH", "insecure-fast")
        .env("RUST_LOG", "error")
        .envs(env.iter().copied())
        .stdin(Stdio::null());
    command
}

/// Starts the quickstart and waits until it prints its address.
fn start(env: &[(&str, &str)]) -> Quickstart {
    let dir = tempfile::tempdir().expect("temporary directory");
    let port = free_port();
    let mut child = command(&dir, port, env)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start quickstart");

    let stdout = child.stdout.take().expect("stdout");
    // The guard exists before any check, so a failed start still kills the process.
    let server = Quickstart {
        child,
        base: format!("http://127.0.0.1:{port}"),
        _dir: dir,
    };

    let mut lines = BufReader::new(stdout).lines();
    let first = lines.next().and_then(Result::ok).unwrap_or_default();
    assert!(
        first.contains("listening on"),
        "unexpected first line: {first:?}"
    );
    // Keep draining stdout so the process never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    server
}

/// Runs the quickstart expecting it to exit; returns its exit code and stderr.
fn run_to_exit(env: &[(&str, &str)]) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let output = command(&dir, free_port(), env)
        .output()
        .expect("run quickstart");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

async fn login(client: &reqwest::Client, base: &str) -> reqwest::Response {
    client
        .post(format!("{base}/api/auth/login"))
        .basic_auth("alice", Some("alice-password"))
        .send()
        .await
        .expect("login request")
}

async fn me(client: &reqwest::Client, base: &str, authorization: &str) -> (u16, Value) {
    let response = client
        .get(format!("{base}/api/me"))
        .header("Authorization", authorization)
        .send()
        .await
        .expect("me request");
    let status = response.status().as_u16();
    (status, response.json().await.expect("JSON body"))
}

#[tokio::test]
async fn curl_sequence_works() {
    let server = start(&[]);
    let client = reqwest::Client::new();
    let base = &server.base;

    let response = login(&client, base).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert!(body["expiry"].is_string());
    assert_eq!(body["user"]["username"], "alice");
    let token = body["token"].as_str().unwrap().to_owned();

    let (status, user) = me(&client, base, &format!("Token {token}")).await;
    assert_eq!((status, user["username"].as_str()), (200, Some("alice")));

    let cases = [
        ("", "Authentication credentials were not provided."),
        ("Token wrong", "Invalid token."),
        (
            "Token a b",
            "Invalid token header. Token string should not contain spaces.",
        ),
        ("Token", "Invalid token header. No credentials provided."),
    ];
    for (header, message) in cases {
        let (status, body) = me(&client, base, header).await;
        assert_eq!(status, 401, "header {header:?}");
        assert_eq!(body["detail"], message, "header {header:?}");
    }

    let second = login(&client, base).await.json::<Value>().await.unwrap();
    let second = second["token"].as_str().unwrap().to_owned();
    let logout = client
        .post(format!("{base}/api/auth/logout"))
        .header("Authorization", format!("Token {token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), 204);
    assert_eq!(me(&client, base, &format!("Token {token}")).await.0, 401);
    assert_eq!(me(&client, base, &format!("Token {second}")).await.0, 200);

    let third = login(&client, base).await.json::<Value>().await.unwrap();
    let third = third["token"].as_str().unwrap().to_owned();
    let logout_all = client
        .post(format!("{base}/api/auth/logoutall"))
        .header("Authorization", format!("Token {third}"))
        .send()
        .await
        .unwrap();
    assert_eq!(logout_all.status(), 204);
    assert_eq!(me(&client, base, &format!("Token {second}")).await.0, 401);
    assert_eq!(me(&client, base, &format!("Token {third}")).await.0, 401);
}

#[tokio::test]
async fn env_settings_take_effect() {
    let server = start(&[("KNOX_TOKEN_TTL", "2s"), ("KNOX_TOKEN_LIMIT_PER_USER", "1")]);
    let client = reqwest::Client::new();

    let first = login(&client, &server.base).await;
    assert_eq!(first.status(), 200);
    let token = first.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let second = login(&client, &server.base).await;
    assert_eq!(second.status(), 403, "KNOX_TOKEN_LIMIT_PER_USER=1");

    assert_eq!(
        me(&client, &server.base, &format!("Token {token}")).await.0,
        200
    );
    // The only sleep of the suite: the quickstart reads the system clock.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let (status, body) = me(&client, &server.base, &format!("Token {token}")).await;
    assert_eq!(status, 401, "KNOX_TOKEN_TTL=2s");
    assert_eq!(body["detail"], "Invalid token.");
    assert_eq!(
        login(&client, &server.base).await.status(),
        200,
        "the expired token no longer counts"
    );
}

#[tokio::test]
async fn config_file_then_env() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("knox.toml");
    std::fs::write(&config, "TOKEN_PREFIX = \"cfg_\"\ntoken_ttl = \"1h\"\n").unwrap();
    let config = config.to_str().unwrap();

    let server = start(&[("KNOX_CONFIG", config), ("KNOX_TOKEN_TTL", "none")]);
    let client = reqwest::Client::new();
    let body: Value = login(&client, &server.base).await.json().await.unwrap();
    assert!(
        body["token"].as_str().unwrap().starts_with("cfg_"),
        "the file applies"
    );
    assert_eq!(
        body["expiry"],
        Value::Null,
        "the environment overrides the file"
    );
}

#[tokio::test]
async fn refresh_flag_enables_refresh() {
    let server = start(&[("KNOX_REFRESH", "1")]);
    let client = reqwest::Client::new();
    let body: Value = login(&client, &server.base).await.json().await.unwrap();
    let refresh_token = body["refresh_token"]
        .as_str()
        .expect("refresh token")
        .to_owned();

    let refresh = |token: String| {
        let client = client.clone();
        let url = format!("{}/api/auth/refresh", server.base);
        async move {
            client
                .post(url)
                .json(&serde_json::json!({ "refresh_token": token }))
                .send()
                .await
                .unwrap()
        }
    };
    let throttled = refresh(refresh_token.clone()).await;
    assert_eq!(
        throttled.status(),
        429,
        "minimum issue interval of 1 second"
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let rotated = refresh(refresh_token).await;
    assert_eq!(rotated.status(), 200);
}

#[test]
fn invalid_value_stops_server() {
    let (code, stderr) = run_to_exit(&[("KNOX_TOKEN_TTL", "10 hours")]);
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains(r#"KNOX_TOKEN_TTL="10 hours": expected a duration such as "90s", "10h" or "30d", or "none""#),
        "{stderr}"
    );
}

#[test]
fn unknown_variable_stops_server() {
    let (code, stderr) = run_to_exit(&[("KNOX_TOKEN_TLL", "1h")]);
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains("unknown KNOX_TOKEN_TLL; did you mean KNOX_TOKEN_TTL?"),
        "{stderr}"
    );
}

#[tokio::test]
async fn empty_api_prefix_serves_root_paths() {
    let server = start(&[("API_PREFIX", "")]);
    let client = reqwest::Client::new();
    let response = client
        .post(format!("{}/auth/login", server.base))
        .basic_auth("alice", Some("alice-password"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let token = response.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let me = client
        .get(format!("{}/me", server.base))
        .header("Authorization", format!("Token {token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
}

#[test]
fn invalid_api_prefix_stops_server() {
    let (code, stderr) = run_to_exit(&[("API_PREFIX", "api/")]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("API_PREFIX=\"api/\""), "{stderr}");
}

#[test]
fn invalid_refresh_flag_stops_server() {
    let (code, stderr) = run_to_exit(&[("KNOX_REFRESH", "maybe")]);
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains("KNOX_REFRESH=\"maybe\": expected true or false"),
        "{stderr}"
    );
}

#[test]
fn unopenable_database_stops_server() {
    let url = "postgres://alice:secret-password@127.0.0.1:5432/knox_no_such_database";
    let (code, stderr) = run_to_exit(&[("DATABASE_URL", url)]);
    assert_eq!(code, Some(1));
    assert!(
        stderr.contains("cannot open the database of DATABASE_URL=postgres://alice:***@127.0.0.1:5432/knox_no_such_database"),
        "{stderr}"
    );
    assert!(!stderr.contains("secret-password"), "{stderr}");
}

#[test]
fn taken_port_stops_server() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let port = listener.local_addr().expect("address").port().to_string();
    let (code, stderr) = run_to_exit(&[("PORT", port.as_str())]);
    assert_eq!(code, Some(1));
    assert!(
        stderr.contains(&format!("cannot listen on 127.0.0.1:{port}")),
        "{stderr}"
    );
}
