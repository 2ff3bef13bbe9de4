//! The second factor of local accounts: RFC 6238 time-based one-time passwords, as every
//! authenticator app reads them (HMAC-SHA-1, 6 digits, 30-second steps), through `totp-rs`.
//!
//! A person's key is 20 random bytes (RFC 4226's recommended length), shown once as base32 and as
//! an `otpauth://` URI while they set it up, then stored only sealed ([`crate::keyring::Keyring::seal`],
//! bound to the person). A code is accepted for the current step and one step either side (clock
//! drift), and each step at most once per person: the store keeps the last step used
//! (`People::use_totp_step`), so a code seen over a shoulder cannot be replayed.

use totp_rs::{Algorithm, TOTP};

/// Seconds per step.
const STEP: u64 = 30;
/// Digits per code.
const DIGITS: usize = 6;

/// A new random key.
pub(crate) fn new_key() -> zeroize::Zeroizing<Vec<u8>> {
    let mut k = zeroize::Zeroizing::new(vec![0u8; 20]);
    getrandom::fill(&mut k).expect("the operating system's random generator failed");
    k
}

fn totp(key: &[u8]) -> TOTP {
    TOTP::new_unchecked(Algorithm::SHA1, DIGITS, 1, STEP, key.to_vec())
}

/// The key as base32 without padding, as authenticator apps take it typed in.
pub(crate) fn base32(key: &[u8]) -> String {
    totp_rs::Secret::Raw(key.to_vec()).to_encoded().to_string()
}

/// The `otpauth://` URI of the key (what a QR code of the key holds).
pub(crate) fn uri(key: &[u8], issuer: &str, account: &str) -> String {
    let enc = sealbook_domain::settings::percent_encode;
    format!(
        "otpauth://totp/{}:{}?secret={}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={STEP}",
        enc(issuer),
        enc(account),
        base32(key),
        enc(issuer)
    )
}

/// The QR code of `uri` (the set-up link), as an SVG image in a `data:` URL for an `<img>`:
/// black modules on white with the standard four-module quiet zone, medium error correction.
pub(crate) fn qr_data_url(uri: &str) -> Option<String> {
    use base64::Engine;
    let qr = qrcodegen::QrCode::encode_text(uri, qrcodegen::QrCodeEcc::Medium).ok()?;
    let n = qr.size();
    let mut path = String::new();
    for y in 0..n {
        for x in 0..n {
            if qr.get_module(x, y) {
                path.push_str(&format!("M{},{}h1v1h-1z", x + 4, y + 4));
            }
        }
    }
    let svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {s} {s}\" shape-rendering=\"crispEdges\"><rect width=\"{s}\" height=\"{s}\" fill=\"#fff\"/><path d=\"{path}\" fill=\"#000\"/></svg>",
        s = n + 8
    );
    Some(format!(
        "data:image/svg+xml;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(svg)
    ))
}

/// The step of `code` for `key` at Unix time `now` (the current step or one either side), or
/// `None` when it matches none. Each candidate is compared in constant time.
pub(crate) fn matching_step(key: &[u8], code: &str, now: u64) -> Option<i64> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != DIGITS || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let t = totp(key);
    let current = now / STEP;
    let mut found = None;
    for step in [current.saturating_sub(1), current, current + 1] {
        let expected = t.generate(step * STEP);
        if crate::secret::hashes_equal(&crate::secret::hash(&expected), &crate::secret::hash(&code))
        {
            found = Some(step as i64);
        }
    }
    found
}

/// The current Unix time in seconds.
pub(crate) fn unix_now() -> u64 {
    time::OffsetDateTime::now_utc().unix_timestamp().max(0) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238, appendix B: the SHA-1 key "12345678901234567890" (the test vectors are 8
    /// digits; the last 6 of each are the 6-digit code).
    #[test]
    fn rfc_6238_known_answers() {
        let key = b"12345678901234567890";
        for (time, eight) in [
            (59u64, "94287082"),
            (1111111109, "07081804"),
            (1111111111, "14050471"),
            (1234567890, "89005924"),
            (2000000000, "69279037"),
            (20000000000, "65353130"),
        ] {
            let six = &eight[2..];
            assert_eq!(totp(key).generate(time), six, "t = {time}");
            assert_eq!(matching_step(key, six, time), Some((time / 30) as i64));
        }
    }

    #[test]
    fn codes_match_one_step_either_side_only() {
        let key = b"12345678901234567890";
        let code = totp(key).generate(1111111109);
        let step = (1111111109 / 30) as i64;
        assert_eq!(matching_step(key, &code, 1111111109 + 30), Some(step));
        assert_eq!(matching_step(key, &code, 1111111109 - 30), Some(step));
        assert_eq!(matching_step(key, &code, 1111111109 + 90), None);
        assert_eq!(matching_step(key, "12345", 1111111109), None);
        assert_eq!(matching_step(key, "abcdef", 1111111109), None);
        let spaced = format!("{} {}", &code[..3], &code[3..]);
        assert_eq!(matching_step(key, &spaced, 1111111109), Some(step));
    }

    #[test]
    fn the_qr_code_is_an_svg_image() {
        use base64::Engine;
        let url = qr_data_url("otpauth://totp/Sealbook%20acme:ana%40example.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ").unwrap();
        let b64 = url.strip_prefix("data:image/svg+xml;base64,").unwrap();
        let svg = String::from_utf8(
            base64::engine::general_purpose::STANDARD
                .decode(b64)
                .unwrap(),
        )
        .unwrap();
        assert!(svg.starts_with("<svg") && svg.contains("<path d=\"M"));
    }

    #[test]
    fn the_uri_names_issuer_account_and_key() {
        let key = b"12345678901234567890";
        assert_eq!(base32(key), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
        assert_eq!(
            uri(key, "Sealbook acme", "ana@example.com"),
            "otpauth://totp/Sealbook%20acme:ana%40example.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Sealbook%20acme&algorithm=SHA1&digits=6&period=30"
        );
    }
}
