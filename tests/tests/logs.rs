//! Captures every log line of a full session and checks that no token,
//! digest or password appears in it.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use axum_knox::{knox_view, Settings};
use knox_tests::{store_tests, Backend, TestApp, ALICE};

#[knox_view(token_limit = 2)]
struct AuthViews;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Installs one global subscriber for this test binary and returns its buffer;
/// the tests of both stores share it.
fn captured() -> &'static Captured {
    static CAPTURED: OnceLock<Captured> = OnceLock::new();
    CAPTURED.get_or_init(|| {
        let captured = Captured::default();
        let writer = captured.clone();
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .init();
        captured
    })
}

async fn logs_hold_no_secrets(backend: Backend) {
    let captured = captured();
    let app = TestApp::start(backend, Settings::default(), AuthViews::router()).await;
    let token = app.login_token(ALICE).await;
    let second = app.login_token(ALICE).await;
    assert_eq!(app.login(ALICE).await.status(), 403);
    assert_eq!(app.login(("alice", "wrong-password")).await.status(), 401);
    assert_eq!(app.me(&token).await.status(), 200);
    assert_eq!(app.me(&format!("{token}x")).await.status(), 401);
    assert_eq!(
        app.post_with_token("/api/auth/logout", &token)
            .await
            .status(),
        204
    );
    assert_eq!(
        app.post_with_token("/api/auth/logoutall", &second)
            .await
            .status(),
        204
    );

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("user logged in"),
        "logging was captured: {logs}"
    );
    assert!(logs.contains("user logged out"));
    for secret in [&token, &second] {
        assert!(!logs.contains(secret.as_str()));
        assert!(!logs.contains(&secret[..15]), "no part of a token");
        let digest = axum_knox::crypto::hash_token(secret.as_bytes());
        assert!(!logs.contains(&digest[..32]), "no digest");
    }
    assert!(!logs.contains(ALICE.1));
    assert!(!logs.contains("wrong-password"));
}

store_tests!(logs_hold_no_secrets);
