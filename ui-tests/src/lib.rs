//! trybuild cases of `#[knox_view]` live in `tests/`.
