//! Redaction of secrets, before anything is hashed, stored or logged.
//!
//! Inside `data`, `refs` and `changes` (both sides), a value is a secret when
//! - its key (or, in `changes`, the last segment of its `field`) names one: `password`, `passwd`,
//!   `secret`, `token`, `api_key`/`apikey`, `authorization`, `cookie`, `private_key`,
//!   `client_secret`, `ssn`, `cvv`/`cvc`, `pin`, … (case-insensitive, ignoring `_`, `-` and `.`;
//!   keys that merely contain `password`, `secret`, `token`, `apikey` or `privatekey` count too);
//! - or it is a string (or integer) that looks like a payment card number: 13–19 digits, with
//!   optional spaces or dashes, passing the Luhn check.
//!
//! Each secret is replaced by `{"$redacted": true, "preview": …, "fingerprint": "hmac-sha256:…"}`:
//! the preview is `****` plus the last four digits of a card, or a short prefix of any other
//! secret (at most a quarter of it, never more than 4 characters, nothing for short values); the
//! fingerprint is HMAC-SHA256 of the value's canonical JSON under the tenant's redaction key, so an
//! investigator holding a candidate value can ask whether it matches, and nobody else can test
//! guesses offline.

use crate::canonical::canonical_bytes;
use hmac::{Hmac, Mac};
use serde_json::{Map, Value};
use sha2::Sha256;

/// The key marking a redacted value.
pub const REDACTED_KEY: &str = "$redacted";

/// Normalised key names that are secrets exactly.
const EXACT: &[&str] = &[
    "password",
    "passwd",
    "pwd",
    "secret",
    "token",
    "apikey",
    "authorization",
    "auth",
    "cookie",
    "setcookie",
    "privatekey",
    "clientsecret",
    "ssn",
    "cvv",
    "cvc",
    "cvv2",
    "pin",
    "otp",
    "accesstoken",
    "refreshtoken",
    "idtoken",
    "sessiontoken",
    "bearer",
    "creditcard",
    "cardnumber",
    "pan",
    "iban",
    "passphrase",
    "signature",
    "credentials",
];
/// Normalised fragments that make any key a secret.
const CONTAINS: &[&str] = &[
    "password",
    "passwd",
    "secret",
    "token",
    "apikey",
    "privatekey",
    "credential",
];

fn normalise(key: &str) -> String {
    key.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// True when a field named `key` holds a secret.
pub fn is_secret_key(key: &str) -> bool {
    let k = normalise(key);
    !k.is_empty() && (EXACT.contains(&k.as_str()) || CONTAINS.iter().any(|f| k.contains(f)))
}

/// The digits of `s` if it looks like a payment card number: 13–19 digits, optionally grouped by
/// single spaces or dashes, passing the Luhn check.
pub fn card_digits(s: &str) -> Option<String> {
    let s = s.trim();
    if s.is_empty() || s.len() > 40 {
        return None;
    }
    let mut digits = String::with_capacity(19);
    let mut last_sep = true;
    for c in s.chars() {
        match c {
            '0'..='9' => {
                digits.push(c);
                last_sep = false;
            }
            ' ' | '-' if !last_sep => last_sep = true,
            _ => return None,
        }
    }
    if last_sep || !(13..=19).contains(&digits.len()) || !luhn(&digits) {
        return None;
    }
    Some(digits)
}

/// The Luhn checksum over a string of ASCII digits.
pub fn luhn(digits: &str) -> bool {
    let mut sum = 0u32;
    for (i, b) in digits.bytes().rev().enumerate() {
        let mut d = u32::from(b - b'0');
        if i % 2 == 1 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
    }
    sum.is_multiple_of(10)
}

/// The keyed fingerprint of a value: `hmac-sha256:<hex>` of its canonical JSON.
pub fn fingerprint(key: &[u8; 32], value: &Value) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(&canonical_bytes(value));
    format!("hmac-sha256:{}", hex::encode(mac.finalize().into_bytes()))
}

fn preview(value: &Value, card: Option<&str>) -> String {
    if let Some(d) = card {
        return format!("****{}", &d[d.len() - 4..]);
    }
    match value {
        Value::String(s) => {
            let n = s.chars().count();
            let show = (n / 4).min(4);
            if n < 8 {
                "****".to_owned()
            } else {
                format!("{}****", s.chars().take(show).collect::<String>())
            }
        }
        _ => "****".to_owned(),
    }
}

fn redacted(key: &[u8; 32], value: &Value, card: Option<&str>) -> Value {
    let mut m = Map::new();
    m.insert(REDACTED_KEY.into(), Value::Bool(true));
    m.insert("preview".into(), Value::String(preview(value, card)));
    m.insert("fingerprint".into(), Value::String(fingerprint(key, value)));
    Value::Object(m)
}

fn is_redacted(v: &Value) -> bool {
    v.get(REDACTED_KEY).is_some()
}

/// Redacts a value in place: all of it when `secret`, else every secret found inside it. Returns
/// how many values were redacted.
fn walk(key: &[u8; 32], v: &mut Value, secret: bool) -> usize {
    if is_redacted(v) {
        return 0;
    }
    if secret && !v.is_null() {
        // A card number under a secret key still shows only its last four digits.
        let card = match &*v {
            Value::String(s) => card_digits(s),
            Value::Number(n) => n.as_u64().and_then(|n| card_digits(&n.to_string())),
            _ => None,
        };
        *v = redacted(key, v, card.as_deref());
        return 1;
    }
    match v {
        Value::String(s) => match card_digits(s) {
            Some(d) => {
                *v = redacted(key, v, Some(&d));
                1
            }
            None => 0,
        },
        Value::Number(n) => match n
            .as_u64()
            .map(|n| n.to_string())
            .as_deref()
            .and_then(card_digits)
        {
            Some(d) => {
                *v = redacted(key, v, Some(&d));
                1
            }
            None => 0,
        },
        Value::Array(items) => items.iter_mut().map(|i| walk(key, i, false)).sum(),
        Value::Object(m) => m
            .iter_mut()
            .map(|(k, i)| {
                let s = is_secret_key(k);
                walk(key, i, s)
            })
            .sum(),
        _ => 0,
    }
}

/// Redacts the secrets of an event body (`data`, `refs`, both sides of `changes`) under the
/// tenant's key, plus the catalog's `secret_paths` (JSON pointers). Returns how many values were
/// replaced.
pub fn redact(body: &mut Map<String, Value>, key: &[u8; 32], secret_paths: &[String]) -> usize {
    let mut n = 0;
    for p in secret_paths {
        let mut v = Value::Object(std::mem::take(body));
        if let Some(slot) = v.pointer_mut(p) {
            if !slot.is_null() && !is_redacted(slot) {
                *slot = redacted(key, slot, None);
                n += 1;
            }
        }
        if let Value::Object(m) = v {
            *body = m;
        }
    }
    if let Some(d) = body.get_mut("data") {
        n += walk(key, d, false);
    }
    if let Some(r) = body.get_mut("refs") {
        n += walk(key, r, false);
    }
    if let Some(Value::Array(changes)) = body.get_mut("changes") {
        for c in changes {
            let Some(o) = c.as_object_mut() else { continue };
            let field = o.get("field").and_then(Value::as_str).unwrap_or("");
            // `address.password`, `items[0].token`: the last segment names the field.
            let last = field
                .rsplit(['.', '/'])
                .next()
                .unwrap_or(field)
                .split('[')
                .next()
                .unwrap_or("");
            let secret = is_secret_key(last);
            for side in ["before", "after"] {
                if let Some(v) = o.get_mut(side) {
                    n += walk(key, v, secret);
                }
            }
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    const K: [u8; 32] = [7; 32];

    #[test]
    fn luhn_and_card_shapes() {
        assert!(luhn("4242424242424242"));
        assert!(!luhn("4242424242424241"));
        assert_eq!(
            card_digits("4242 4242 4242 4242").as_deref(),
            Some("4242424242424242")
        );
        assert_eq!(
            card_digits("4242-4242-4242-4242").as_deref(),
            Some("4242424242424242")
        );
        assert!(card_digits("4242424242424241").is_none(), "Luhn fails");
        assert!(
            card_digits("4242  4242 4242 4242").is_none(),
            "double separator"
        );
        assert!(card_digits("424242424242").is_none(), "12 digits");
        assert!(
            card_digits("order 4242424242424242").is_none(),
            "not only a number"
        );
        assert!(card_digits("378282246310005").is_some(), "Amex, 15 digits");
    }

    #[test]
    fn keys_values_and_changes_are_redacted_with_previews_and_fingerprints() {
        let mut body = json!({
            "data": {"user": {"Password": "hunter2hunter2", "name": "Ada"}, "card": "4242 4242 4242 4242",
                     "X-Api-Key": "sk_live_abcdefghijklmnop", "note": "fine", "n": 4242424242424242u64,
                     "list": ["5555555555554444", "ok"], "ssn": null},
            "refs": {"order_number": "PO-1", "token": "abc"},
            "changes": [{"field": "settings.client_secret", "before": "old-secret-value", "after": "new-secret-value"},
                        {"field": "status", "before": "open", "after": "shipped"}],
        });
        let m = body.as_object_mut().unwrap();
        let n = redact(m, &K, &[]);
        assert_eq!(n, 8);
        let d = &body["data"];
        assert_eq!(d["user"]["Password"]["$redacted"], true);
        assert_eq!(d["user"]["Password"]["preview"], "hun****");
        assert_eq!(d["user"]["name"], "Ada");
        assert_eq!(d["card"]["preview"], "****4242");
        assert_eq!(d["X-Api-Key"]["preview"], "sk_l****");
        assert_eq!(d["n"]["preview"], "****4242");
        assert_eq!(d["list"][0]["preview"], "****4444");
        assert_eq!(d["list"][1], "ok");
        assert_eq!(d["ssn"], Value::Null, "nothing to hide");
        assert_eq!(
            body["refs"]["token"]["preview"], "****",
            "short secrets show nothing"
        );
        assert_eq!(body["refs"]["order_number"], "PO-1");
        assert_eq!(body["changes"][0]["before"]["$redacted"], true);
        assert_eq!(body["changes"][1]["after"], "shipped");
        // Same value, same tenant key: same fingerprint; another tenant's key: another.
        assert_eq!(
            d["card"]["fingerprint"],
            Value::String(fingerprint(&K, &json!("4242 4242 4242 4242")))
        );
        assert_ne!(
            fingerprint(&K, &json!("x")),
            fingerprint(&[8; 32], &json!("x"))
        );
        // Redacting again changes nothing.
        let again = body.clone();
        assert_eq!(redact(body.as_object_mut().unwrap(), &K, &[]), 0);
        assert_eq!(body, again);
    }

    #[test]
    fn catalog_secret_paths() {
        let mut body = json!({"data": {"recovery": {"phrase": "correct horse battery staple"}}});
        let n = redact(
            body.as_object_mut().unwrap(),
            &K,
            &["/data/recovery/phrase".to_owned()],
        );
        assert_eq!(n, 1);
        assert_eq!(body["data"]["recovery"]["phrase"]["preview"], "corr****");
    }

    /// A Luhn-valid number of `len` digits from `seed` digits.
    fn card(seed: &[u8], len: usize) -> String {
        let mut d: Vec<u8> = seed.iter().cycle().take(len - 1).map(|b| b % 10).collect();
        for check in 0..10 {
            d.push(check);
            let s: String = d.iter().map(|x| char::from(b'0' + x)).collect();
            if luhn(&s) {
                return s;
            }
            d.pop();
        }
        unreachable!()
    }

    fn secret_key() -> impl Strategy<Value = String> {
        prop::sample::select(vec![
            "password",
            "API_KEY",
            "client-secret",
            "db_password",
            "Authorization",
            "cvv",
            "ssn",
            "refreshToken",
            "private_key",
        ])
        .prop_map(str::to_owned)
    }

    proptest! {
        /// No Luhn-valid card number and no value under a secret key survives anywhere in the
        /// serialised event, however they are nested or formatted.
        #[test]
        fn no_secret_survives(
            seed in prop::collection::vec(any::<u8>(), 1..20),
            len in 13usize..=19,
            sep in prop::sample::select(vec!["", " ", "-"]),
            key in secret_key(),
            secret in "[A-Za-z0-9!@#%^&*]{8,40}",
            depth in 0usize..4,
            where_ in 0usize..4,
        ) {
            let digits = card(&seed, len);
            let formatted: String = digits
                .as_bytes()
                .chunks(4)
                .map(|c| std::str::from_utf8(c).unwrap())
                .collect::<Vec<_>>()
                .join(sep);
            let mut inner = json!({ key.clone(): secret.clone(), "pan_like": formatted.clone(), "plain": "hello" });
            for i in 0..depth {
                inner = if i % 2 == 0 { json!({"nested": inner}) } else { json!([inner, "x"]) };
            }
            let mut body = match where_ {
                0 => json!({"data": inner}),
                1 => json!({"refs": {"card": formatted.clone(), key.clone(): secret.clone()}, "data": {}}),
                2 => json!({"changes": [{"field": format!("a.{key}"), "before": secret.clone(), "after": formatted.clone()}]}),
                _ => json!({"data": {"list": [inner.clone(), inner]}}),
            };
            redact(body.as_object_mut().unwrap(), &K, &[]);
            let text = body.to_string();
            prop_assert!(!text.contains(&formatted), "card survived: {text}");
            prop_assert!(!text.contains(&digits), "card digits survived: {text}");
            prop_assert!(!text.contains(&secret), "secret survived: {text}");
        }
    }
}
