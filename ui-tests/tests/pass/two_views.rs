use axum::Router;
use axum_knox::users::KnoxUser;
use axum_knox::{knox_view, Knox, KnoxView};

/// Long-lived tokens for scripts.
#[knox_view(ttl = none, prefix = "script_")]
pub struct ScriptViews;

/// Short-lived tokens with refresh tokens for the browser.
#[knox_view(ttl = "15m", prefix = "web_", refresh(ttl = "30d"))]
pub struct WebViews;

fn main() {
    assert_eq!(ScriptViews::OPTIONS.ttl, Some(None));
    assert_eq!(WebViews::OPTIONS.prefix, Some("web_"));
    let _: Router<Knox<KnoxUser>> = Router::new()
        .nest("/api/scripts", ScriptViews::router())
        .nest("/api/web", WebViews::router());
}
