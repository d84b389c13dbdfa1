//! Parsing of the `Authorization` header, following knox and DRF.
//!
//! The header is split on ASCII whitespace as Python's `bytes.split()` does.
//! The scheme word is compared case-insensitively; a header for another scheme
//! belongs to another authenticator and is not an error.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

/// The credentials an `Authorization` header carries for one scheme.
#[derive(PartialEq, Eq)]
pub(crate) enum SchemeCredentials<'a> {
    /// No header, an empty one, or one for another scheme.
    NotThisScheme,
    /// The scheme word alone.
    Empty,
    /// More than one word after the scheme.
    ContainsSpaces,
    /// Exactly one word after the scheme, as raw bytes.
    Present(&'a [u8]),
}

impl std::fmt::Debug for SchemeCredentials<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NotThisScheme => f.write_str("NotThisScheme"),
            Self::Empty => f.write_str("Empty"),
            Self::ContainsSpaces => f.write_str("ContainsSpaces"),
            Self::Present(_) => f.write_str("Present(<redacted>)"),
        }
    }
}

/// Splits `header` and returns the credentials it carries for `scheme`.
pub(crate) fn parse_scheme<'a>(header: &'a [u8], scheme: &str) -> SchemeCredentials<'a> {
    let mut words = header
        .split(|byte| byte.is_ascii_whitespace() || *byte == 0x0b)
        .filter(|word| !word.is_empty());

    let Some(first) = words.next() else {
        return SchemeCredentials::NotThisScheme;
    };
    if !first.eq_ignore_ascii_case(scheme.as_bytes()) {
        return SchemeCredentials::NotThisScheme;
    }
    let Some(credentials) = words.next() else {
        return SchemeCredentials::Empty;
    };
    if words.next().is_some() {
        return SchemeCredentials::ContainsSpaces;
    }
    SchemeCredentials::Present(credentials)
}

/// A username and password from a Basic header.
pub struct BasicCredentials {
    /// The username, before the first colon.
    pub username: String,
    /// The password, after the first colon; it may contain colons.
    pub password: String,
}

impl std::fmt::Debug for BasicCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BasicCredentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// Decodes Basic credentials: base64 of UTF-8 `username:password`, split at
/// the first colon. Returns `None` for bad base64, bad UTF-8 or a missing colon.
pub(crate) fn decode_basic(encoded: &[u8]) -> Option<BasicCredentials> {
    let decoded = STANDARD.decode(encoded).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (username, password) = text.split_once(':')?;
    Some(BasicCredentials {
        username: username.to_owned(),
        password: password.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_header_cases() {
        use SchemeCredentials::*;
        assert_eq!(parse_scheme(b"", "Token"), NotThisScheme);
        assert_eq!(parse_scheme(b"   ", "Token"), NotThisScheme);
        assert_eq!(parse_scheme(b"Bearer abc", "Token"), NotThisScheme);
        assert_eq!(parse_scheme(b"Token", "Token"), Empty);
        assert_eq!(parse_scheme(b"token  ", "Token"), Empty);
        assert_eq!(parse_scheme(b"Token a b", "Token"), ContainsSpaces);
        assert_eq!(parse_scheme(b"TOKEN\tabc", "Token"), Present(b"abc"));
        assert_eq!(parse_scheme(b" Token  abc ", "Token"), Present(b"abc"));
        assert_eq!(
            parse_scheme(b"Token \xff\xfe", "Token"),
            Present(b"\xff\xfe")
        );
    }

    #[test]
    fn basic_splits_at_first_colon() {
        let encoded = STANDARD.encode("alice:pa:ss:wörd");
        let credentials = decode_basic(encoded.as_bytes()).unwrap();
        assert_eq!(credentials.username, "alice");
        assert_eq!(credentials.password, "pa:ss:wörd");
    }

    #[test]
    fn basic_rejects_malformed() {
        assert!(decode_basic(b"!!!not base64").is_none());
        assert!(decode_basic(STANDARD.encode("no colon").as_bytes()).is_none());
        assert!(decode_basic(STANDARD.encode(b"\xff:\xfe").as_bytes()).is_none());
    }

    #[test]
    fn basic_debug_hides_password() {
        let credentials = decode_basic(STANDARD.encode("alice:hunter2").as_bytes()).unwrap();
        assert!(!format!("{credentials:?}").contains("hunter2"));
    }
}
