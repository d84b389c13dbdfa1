//! Token generation, hashing and comparison, byte-compatible with django-rest-knox.
//!
//! A token is `prefix + N lowercase hex characters` drawn from the operating
//! system's CSPRNG. The database stores only the SHA-512 hex digest of the whole
//! token string (prefix included) and a short lookup key.

use rand::rngs::OsRng;
use rand::RngCore;
use sha2::{Digest, Sha512};
use subtle::ConstantTimeEq;

/// Length of a token digest: SHA-512 in lowercase hex (knox's `DIGEST_LENGTH`).
pub const DIGEST_LENGTH: usize = 128;

/// Number of random characters kept in the lookup key (knox's `TOKEN_KEY_LENGTH`).
pub const TOKEN_KEY_LENGTH: usize = 15;

/// Maximum length of a token prefix (knox's `MAXIMUM_TOKEN_PREFIX_LENGTH`).
pub const MAXIMUM_TOKEN_PREFIX_LENGTH: usize = 10;

/// Default number of random hex characters in a token (knox's `AUTH_TOKEN_CHARACTER_LENGTH`).
pub const DEFAULT_TOKEN_CHARACTER_LENGTH: usize = 64;

/// Generates a token: `prefix` followed by `character_length` lowercase hex
/// characters from the operating system's CSPRNG.
///
/// An odd `character_length` is rounded down to whole bytes, as knox does.
///
/// ```
/// let token = axum_knox::crypto::generate_token("kx_", 64);
/// assert!(token.starts_with("kx_"));
/// assert_eq!(token.len(), 3 + 64);
/// ```
pub fn generate_token(prefix: &str, character_length: usize) -> String {
    let mut bytes = vec![0u8; character_length / 2];
    OsRng.fill_bytes(&mut bytes);

    let mut token = String::with_capacity(prefix.len() + bytes.len() * 2);
    token.push_str(prefix);
    token.push_str(&hex::encode(&bytes));
    token
}

/// Computes the SHA-512 digest of a token as 128 lowercase hex characters.
///
/// The input is hashed as its raw bytes, which equals knox's `hash_token` for
/// every UTF-8 token string.
///
/// ```
/// let digest = axum_knox::crypto::hash_token(b"kx_00ff");
/// assert_eq!(digest.len(), axum_knox::crypto::DIGEST_LENGTH);
/// ```
pub fn hash_token(token: &[u8]) -> String {
    hex::encode(Sha512::digest(token))
}

/// Returns the lookup key stored beside a token's digest: the prefix plus the
/// first [`TOKEN_KEY_LENGTH`] random characters.
///
/// knox keeps `token[:15]`, so a 10-character prefix leaves it only 5 random
/// characters. Keeping the whole prefix plus 15 random characters gives at most
/// 25 characters, which is the width of knox's `token_key` column.
/// Authentication never relies on this key: lookups go by digest.
pub fn token_key(token: &str, prefix_length: usize) -> &str {
    let end = prefix_length
        .saturating_add(TOKEN_KEY_LENGTH)
        .min(token.len());
    // The token was built from an ASCII prefix and hex, so every index is a char boundary.
    token.get(..end).unwrap_or(token)
}

/// A freshly generated token with its digest and lookup key. The plaintext
/// lives only here and in the response that hands it out.
#[derive(Clone, PartialEq, Eq)]
pub struct GeneratedToken {
    /// The token to hand to the client.
    pub token: String,
    /// SHA-512 hex digest of the token, the only form that is stored.
    pub digest: String,
    /// The prefix and first 15 random characters, stored for display.
    pub token_key: String,
}

impl GeneratedToken {
    /// Generates a token of `prefix` and `character_length` hex characters.
    pub fn generate(prefix: &str, character_length: usize) -> Self {
        let token = generate_token(prefix, character_length);
        let digest = hash_token(token.as_bytes());
        let token_key = token_key(&token, prefix.len()).to_owned();
        Self {
            token,
            digest,
            token_key,
        }
    }
}

impl std::fmt::Debug for GeneratedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeneratedToken")
            .field("token", &"<redacted>")
            .field("digest", &"<redacted>")
            .field("token_key", &self.token_key)
            .finish()
    }
}

/// Generates a random id for a refresh family: 32 lowercase hex characters.
pub fn generate_family_id() -> String {
    generate_token("", 32)
}

/// Compares two digests in constant time, so response timing reveals nothing
/// about how many leading characters of a guess were right.
pub fn digests_match(left: &str, right: &str) -> bool {
    left.as_bytes().ct_eq(right.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_matches_knox() {
        // python3 -c 'import hashlib; print(hashlib.sha512(b"kx_9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08").hexdigest())'
        let token = "kx_9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
        let expected = "70ba9ec97ac8616c1cec70a0301637c5a6f9a2830cba0fee3f012234484e9f5dfe8b8a2052874cd60b4f466a94e462330a6041f45da05acf415b733aa8e352ac";
        assert_eq!(hash_token(token.as_bytes()), expected);
    }

    #[test]
    fn digest_matches_knox_without_prefix() {
        // python3 -c 'import hashlib; print(hashlib.sha512(b"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef").hexdigest())'
        let token = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        let expected = "ad2981aa58beca63a49b8831274b89d81766a23d7932474f03e55cf00cbe27004e66fd0912aed0b3cb1afee2aa904115c89db49d6c9bad785523023a9c309561";
        assert_eq!(hash_token(token.as_bytes()), expected);
    }

    #[test]
    fn generated_token_shape() {
        let token = generate_token("ab_", DEFAULT_TOKEN_CHARACTER_LENGTH);
        assert_eq!(token.len(), 3 + 64);
        assert!(token.starts_with("ab_"));
        let random = &token[3..];
        assert!(random
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
    }

    #[test]
    fn generated_tokens_differ() {
        let first = generate_token("", 64);
        let second = generate_token("", 64);
        assert_ne!(first, second);
    }

    #[test]
    fn token_key_keeps_prefix_and_fifteen_random() {
        let token = "0123456789_abcdef0123456789abcdef";
        assert_eq!(token_key(token, 11), "0123456789_abcdef012345678");
        assert_eq!(token_key("abcdef0123456789abcd", 0), "abcdef012345678");
        assert_eq!(token_key("short", 0), "short");
    }

    #[test]
    fn digest_comparison() {
        assert!(digests_match("abc", "abc"));
        assert!(!digests_match("abc", "abd"));
        assert!(!digests_match("abc", "abcd"));
    }
}
