//! Passwords of local accounts: argon2id (RFC 9106) with the `argon2` crate's defaults (19 MiB,
//! two passes, one lane: OWASP's recommendation), stored as PHC strings.
//!
//! Hashing is deliberately slow, so it runs on the blocking pool and at most
//! [`CONCURRENT_HASHES`] at once per process: a flood of sign-ins queues instead of exhausting
//! memory. A sign-in for an unknown or passwordless account verifies against a fixed dummy hash,
//! so the answer takes as long as for a real account and timing tells nothing about who exists.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use std::sync::OnceLock;
use tokio::sync::Semaphore;

/// Hashes computed at once; more wait their turn.
pub(crate) const CONCURRENT_HASHES: usize = 2;
/// The shortest password accepted.
pub(crate) const MIN_LEN: usize = 12;
/// The longest password accepted, in bytes (argon2 takes any length; this bounds the work).
pub(crate) const MAX_LEN: usize = 256;

fn permits() -> &'static Semaphore {
    static P: OnceLock<Semaphore> = OnceLock::new();
    P.get_or_init(|| Semaphore::new(CONCURRENT_HASHES))
}

fn dummy() -> &'static str {
    static D: OnceLock<String> = OnceLock::new();
    D.get_or_init(|| hash_now("sealbook dummy password, never a real one"))
}

fn hash_now(password: &str) -> String {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).expect("the operating system's random generator failed");
    let salt = SaltString::encode_b64(&salt).expect("16 bytes make a valid salt");
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2id hashes any password within MAX_LEN")
        .to_string()
}

/// Why a new password is refused, as the form shows it.
pub(crate) fn check_new(password: &str) -> Result<(), &'static str> {
    if password.chars().count() < MIN_LEN {
        Err("the password must have at least 12 characters")
    } else if password.len() > MAX_LEN {
        Err("the password must have at most 256 bytes")
    } else {
        Ok(())
    }
}

/// The argon2id PHC string of `password`.
pub(crate) async fn hash(password: String) -> String {
    let _permit = permits().acquire().await.expect("never closed");
    tokio::task::spawn_blocking(move || hash_now(&password))
        .await
        .expect("hashing does not panic")
}

/// Whether `password` matches `stored` (a PHC string); with `None`, checks against a dummy hash
/// and answers false, taking the same time.
pub(crate) async fn verify(password: String, stored: Option<String>) -> bool {
    if password.len() > MAX_LEN {
        return false;
    }
    let _permit = permits().acquire().await.expect("never closed");
    tokio::task::spawn_blocking(move || {
        let real = stored.is_some();
        let phc = stored.unwrap_or_else(|| dummy().to_owned());
        let ok = PasswordHash::new(&phc)
            .map(|h| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &h)
                    .is_ok()
            })
            .unwrap_or(false);
        ok && real
    })
    .await
    .expect("verifying does not panic")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_its_password_only() {
        let h = hash("correct horse battery".into()).await;
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(verify("correct horse battery".into(), Some(h.clone())).await);
        assert!(!verify("correct horse batterY".into(), Some(h.clone())).await);
        assert!(!verify("sealbook dummy password, never a real one".into(), None).await);
        assert_ne!(h, hash("correct horse battery".into()).await, "salted");
        assert!(!verify("x".into(), Some("not a phc string".into())).await);
    }

    #[test]
    fn new_passwords_have_bounds() {
        assert!(check_new("short").is_err());
        assert!(check_new("twelve chars").is_ok());
        assert!(check_new(&"x".repeat(MAX_LEN + 1)).is_err());
    }
}
