//! Verification of password hashes written by Django's default hasher.
//!
//! Django stores `pbkdf2_sha256$<iterations>$<salt>$<hash>`: PBKDF2-HMAC-SHA256
//! over the UTF-8 password and salt, 32 bytes, in standard base64 with
//! padding. Only this hasher is supported. Every other one (`argon2`,
//! `bcrypt_sha256`, `scrypt`, `pbkdf2_sha1`, `md5`) and the unusable marker `!`
//! never match, so such a login fails as a wrong password would.

use base64::Engine;
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// Algorithm name of Django's default hasher, `PBKDF2PasswordHasher`.
pub const ALGORITHM: &str = "pbkdf2_sha256";

/// Iterations of `PBKDF2PasswordHasher` in Django 5.2, the cost of a new hash
/// and of the decoy check for unknown users.
pub const DEFAULT_ITERATIONS: u32 = 1_000_000;

/// Length of the derived key: the SHA-256 output, as Django leaves `dklen` unset.
const HASH_LENGTH: usize = 32;

/// Returns whether `password` matches `encoded`, a value of Django's
/// `auth_user.password` column.
///
/// As Django's `PBKDF2PasswordHasher.verify` does, it hashes the password
/// with the stored salt and iterations, encodes the result the way Django
/// writes it, and compares the two encodings in constant time. A hash of any
/// other hasher, an unusable password or a malformed value returns `false`
/// without hashing.
///
/// ```
/// use axum_knox::users::django_password::check_password;
///
/// // PBKDF2PasswordHasher().encode("secret", "pepper", 1000) in Django 5.2.19.
/// let encoded = "pbkdf2_sha256$1000$pepper$lA3VSxFxZ6ip2/1vc7AjRermsSZvpp1iOlL1BD2eHIU=";
/// assert!(check_password("secret", encoded));
/// assert!(!check_password("Secret", encoded));
/// assert!(!check_password("secret", "md5$pepper$0d8e1e7e9b3a0b1c2d3e4f5a6b7c8d9e"));
/// ```
pub fn check_password(password: &str, encoded: &str) -> bool {
    let Some(parsed) = parse(encoded) else {
        return false;
    };
    let computed = encode(password, parsed.salt, parsed.iterations);
    computed.as_bytes().ct_eq(encoded.as_bytes()).into()
}

/// Returns the algorithm name at the start of `encoded`, such as `argon2`,
/// for log lines that explain why a hash was not verified. The name is not secret.
pub fn algorithm(encoded: &str) -> &str {
    encoded.split('$').next().unwrap_or_default()
}

/// Returns whether `encoded` is a password at all: Django marks a user who
/// may not log in with a password by a value starting with `!`.
pub fn is_usable(encoded: &str) -> bool {
    !encoded.starts_with('!')
}

/// Hashes `password` as Django's `PBKDF2PasswordHasher.encode` does.
///
/// Used for the decoy check of unknown users and for tests; Django remains
/// the writer of real hashes.
pub fn encode(password: &str, salt: &str, iterations: u32) -> String {
    let mut hash = [0u8; HASH_LENGTH];
    pbkdf2::pbkdf2_hmac::<Sha256>(password.as_bytes(), salt.as_bytes(), iterations, &mut hash);
    let hash = base64::engine::general_purpose::STANDARD.encode(hash);
    format!("{ALGORITHM}${iterations}${salt}${hash}")
}

struct Parsed<'a> {
    iterations: u32,
    salt: &'a str,
}

/// Splits `pbkdf2_sha256$<iterations>$<salt>$<hash>` as Django does, at the
/// first three `$`. The hash part is checked only by the final comparison.
fn parse(encoded: &str) -> Option<Parsed<'_>> {
    let mut parts = encoded.splitn(4, '$');
    let (algorithm, iterations, salt, _hash) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    if algorithm != ALGORITHM {
        return None;
    }
    // Python's hashlib rejects zero iterations, so no Django hash has them.
    let iterations = iterations.parse::<u32>().ok().filter(|&n| n > 0)?;
    Some(Parsed { iterations, salt })
}

#[cfg(test)]
mod tests {
    use super::*;

    // make_password("alice-password", salt="Ab3dEf6hIj9kLm2n", hasher="pbkdf2_sha256")
    // in Django 5.2.19, at its default 1,000,000 iterations.
    const DJANGO_DEFAULT: &str =
        "pbkdf2_sha256$1000000$Ab3dEf6hIj9kLm2n$+glWUbxSC1Mnn2zw/4QuZ31qx1Zq1aduGOs1vkLfmXo=";

    // PBKDF2PasswordHasher().encode("secret", "pepper", 1000) in Django 5.2.19.
    const DJANGO_1000: &str =
        "pbkdf2_sha256$1000$pepper$lA3VSxFxZ6ip2/1vc7AjRermsSZvpp1iOlL1BD2eHIU=";

    #[test]
    fn verifies_django_default_hash() {
        // One check only: a million iterations take seconds in a debug build.
        assert!(check_password("alice-password", DJANGO_DEFAULT));
    }

    #[test]
    fn rejects_wrong_passwords() {
        assert!(check_password("secret", DJANGO_1000));
        for wrong in ["Secret", "secret ", "", "secre"] {
            assert!(!check_password(wrong, DJANGO_1000), "{wrong:?}");
        }
    }

    #[test]
    fn encode_matches_django() {
        assert_eq!(encode("secret", "pepper", 1000), DJANGO_1000);
    }

    #[test]
    fn verifies_non_ascii_password() {
        // PBKDF2PasswordHasher().encode("pässwörd: 🔑", "salt", 1000) in Django 5.2.19.
        let encoded = "pbkdf2_sha256$1000$salt$6LLJ1yhqibQOFli0G8tQbC81uUAfzCAuebRarliXZrM=";
        assert!(check_password("pässwörd: 🔑", encoded));
    }

    #[test]
    fn other_hashers_never_match() {
        for encoded in [
            "argon2$argon2id$v=19$m=102400,t=2,p=8$c2FsdA$aGFzaA",
            "bcrypt_sha256$$2b$12$abcdefghijklmnopqrstuuvwxyz",
            "scrypt$16384$salt$8$1$aGFzaA==",
            "pbkdf2_sha1$1000$salt$aGFzaA==",
            "md5$salt$5f4dcc3b5aa765d61d8327deb882cf99",
            "!unusablepasswordmarker0123456789abcdef",
            "",
        ] {
            assert!(!check_password("password", encoded), "{encoded}");
        }
    }

    #[test]
    fn malformed_hashes_never_match() {
        let valid = encode("password", "salt", 1000);
        assert!(check_password("password", &valid));
        for encoded in [
            "pbkdf2_sha256$0$salt$aGFzaA==",
            "pbkdf2_sha256$-5$salt$aGFzaA==",
            "pbkdf2_sha256$many$salt$aGFzaA==",
            "pbkdf2_sha256$1000$salt",
            "pbkdf2_sha256$01000$salt$",
            &valid.replace("$1000$", "$01000$"),
            valid.trim_end_matches('='),
            &format!("{valid}$"),
        ] {
            assert!(!check_password("password", encoded), "{encoded}");
        }
    }

    #[test]
    fn unusable_passwords_are_recognised() {
        assert!(!is_usable("!K3rjn1o5UnusablePasswordMarker0123456789"));
        assert!(is_usable(DJANGO_1000));
    }

    #[test]
    fn algorithm_names_the_hasher() {
        assert_eq!(algorithm(DJANGO_1000), "pbkdf2_sha256");
        assert_eq!(algorithm("argon2$argon2id$v=19"), "argon2");
        assert_eq!(algorithm(""), "");
    }
}
