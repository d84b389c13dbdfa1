//! Formatting of expiry times with chrono strftime formats.

use chrono::format::{Item, StrftimeItems};
use chrono::{DateTime, Utc};
use std::fmt::Write;

/// Returns whether chrono accepts `format` as a strftime format.
///
/// An empty format is rejected: it would turn every expiry into `""`.
pub fn is_valid_format(format: &str) -> bool {
    !format.is_empty() && !StrftimeItems::new(format).any(|item| matches!(item, Item::Error))
}

/// Formats `time` with `format`, or returns `None` when the format is invalid.
///
/// chrono's `format` panics on an invalid format when displayed; this checks
/// first, so a format returned by a user hook can never crash a request.
pub fn format(time: DateTime<Utc>, format: &str) -> Option<String> {
    if !is_valid_format(format) {
        return None;
    }
    let mut out = String::new();
    write!(out, "{}", time.format(format)).ok()?;
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_drf() {
        let time: DateTime<Utc> = "2026-12-04T19:28:50.123456Z".parse().unwrap();
        assert_eq!(
            format(time, crate::settings::DEFAULT_EXPIRY_DATETIME_FORMAT).as_deref(),
            Some("2026-12-04T19:28:50.123456Z")
        );
    }

    #[test]
    fn invalid_format_gives_none() {
        let time = Utc::now();
        assert_eq!(format(time, "%Q"), None);
        assert_eq!(format(time, ""), None);
        assert!(!is_valid_format("%"));
    }
}
