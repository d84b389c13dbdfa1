//! Runnable axum-knox applications live in `examples/`.
