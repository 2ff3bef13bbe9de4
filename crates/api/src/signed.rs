//! Signed, expiring tokens that need no storage: a JSON payload and its MAC under a key of the
//! token's purpose ([`crate::keyring::Keyring::mac`]), `base64url(payload).base64url(mac)`.
//!
//! Used where a short-lived proof is handed to a browser and comes back: the half-done sign-in
//! between a correct password and its second factor, and embedded viewer tokens. A token MUST
//! carry `exp` (Unix seconds); [`open`] refuses it after that, or when it was made for another
//! purpose, under another deployment secret, or altered. Payloads hold no secret: they are
//! readable by whoever holds the token.

use crate::keyring::Keyring;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::Value;

/// The longest token [`open`] reads.
const MAX_TOKEN: usize = 4096;

/// The token of `payload` (an object holding `exp`) for `purpose`.
pub(crate) fn make(keyring: &Keyring, purpose: &'static [u8], payload: &Value) -> String {
    let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(payload).unwrap_or_default());
    let mac = keyring.mac(purpose, body.as_bytes());
    format!("{body}.{}", URL_SAFE_NO_PAD.encode(mac))
}

/// The payload of `token` if it was made by [`make`] for `purpose` under this deployment's
/// secret and its `exp` is after `now` (Unix seconds).
pub(crate) fn open(
    keyring: &Keyring,
    purpose: &'static [u8],
    token: &str,
    now: u64,
) -> Option<Value> {
    if token.len() > MAX_TOKEN {
        return None;
    }
    let (body, mac) = token.split_once('.')?;
    let presented = URL_SAFE_NO_PAD.decode(mac).ok()?;
    let expected = keyring.mac(purpose, body.as_bytes());
    if presented.len() != 32
        || !crate::secret::hashes_equal(&expected, presented.as_slice().try_into().ok()?)
    {
        return None;
    }
    let payload: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(body).ok()?).ok()?;
    let exp = payload.get("exp")?.as_u64()?;
    (exp > now).then_some(payload)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tokens_open_for_their_purpose_until_they_expire() {
        let k = Keyring::new([1; 32]);
        let t = make(&k, b"a\0", &json!({"exp": 100, "who": "ana"}));
        assert_eq!(open(&k, b"a\0", &t, 99).unwrap()["who"], "ana");
        assert!(open(&k, b"a\0", &t, 100).is_none(), "expired");
        assert!(open(&k, b"b\0", &t, 99).is_none(), "another purpose");
        assert!(
            open(&Keyring::new([2; 32]), b"a\0", &t, 99).is_none(),
            "another secret"
        );
        let (body, mac) = t.split_once('.').unwrap();
        let forged = URL_SAFE_NO_PAD.encode(br#"{"exp":100,"who":"eve"}"#);
        assert!(
            open(&k, b"a\0", &format!("{forged}.{mac}"), 99).is_none(),
            "altered"
        );
        assert!(open(&k, b"a\0", body, 99).is_none());
        let no_exp = make(&k, b"a\0", &json!({"who": "ana"}));
        assert!(
            open(&k, b"a\0", &no_exp, 0).is_none(),
            "a token without exp never opens"
        );
    }
}
