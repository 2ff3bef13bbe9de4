//! Redaction of secrets and payment card numbers, before anything is hashed, stored or logged.
//!
//! The rules, the lists and what they do not catch are in `docs/security/redaction.md`; in short:
//!
//! - **Secret keys.** A key is normalised (NFKD with marks and invisible characters removed, Unicode
//!   lowercase, Cyrillic and Greek look-alike letters mapped to Latin) and split into tokens on
//!   `_`, `-`, `.`, any other punctuation, camelCase and letter/digit boundaries. It is a secret
//!   key when a token ([`SECRET_TOKENS`]), two adjacent tokens ([`SECRET_PAIRS`]) or the whole key
//!   names a secret, or when the tokens joined contain a [`SECRET_FRAGMENTS`] word. Every value
//!   under a secret key is redacted, except `null`, booleans, and numbers where a number cannot be
//!   the secret (under `token`, `cookie`, …, or with a qualifier such as `count` or `max_length`).
//! - **Card numbers.** Every string the event carries, except its identifiers (event, actor,
//!   subject and on-behalf-of ids and types, request and correlation ids, `changes[].field`), is
//!   searched for 13–19 digits, grouped by single spaces or dashes, that pass the Luhn check; so
//!   is every number (integer, fraction or exponent form). A string that is a card number and
//!   nothing else, and a number, become a redaction object; a card number inside longer text is
//!   replaced in place by `[redacted card ****1234]`, so the rest stays readable.
//! - **Where.** `data`, `refs`, both sides of `changes`, `reason`, `context` (its `session_id` is
//!   a secret key), the names and e-mail of actor, subject and on-behalf-of, and `impersonation`
//!   (its `session_id` too), plus the catalog's `secret_paths`.
//!
//! Each redacted value becomes `{"$redacted": true, "preview": …, "fingerprint": "hmac-sha256:…"}`:
//! the preview is `****` plus the last four digits of a card, or a short prefix of any other
//! secret (at most a quarter of it, never more than 4 characters, nothing for short values); the
//! fingerprint is HMAC-SHA256 of the value's canonical JSON under the tenant's redaction key, so an
//! investigator holding a candidate value can ask whether it matches, and nobody else can test
//! guesses offline. Clients cannot send `$redacted` (validation refuses it), so every such object
//! in a log was written here, and redacting a redacted event changes nothing.
//!
//! This runs on every ingested event, so keys are classified without allocating when they are
//! ASCII, and strings with fewer than 13 digits are passed over after one count.

use crate::canonical::canonical_bytes;
use hmac::{Hmac, Mac};
use serde_json::{Map, Number, Value};
use sha2::Sha256;
use std::borrow::Cow;
use std::ops::Range;
use unicode_normalization::{char::is_combining_mark, UnicodeNormalization};

/// The key marking a redacted value.
pub const REDACTED_KEY: &str = "$redacted";

/// What a key says about the value under it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum KeyClass {
    /// Not a secret key: the value is only searched for card numbers.
    Plain,
    /// A secret key under which a number is not the secret (`token_count`, `max_tokens`,
    /// `pin_length`, `cookie`: a count, a limit, or a kind of secret that is never a number):
    /// strings, arrays and objects are redacted, numbers are searched for card numbers.
    SecretText,
    /// A secret key: every value under it but `null` and booleans is redacted.
    Secret,
}

/// Tokens that make a key secret wherever they stand in it, and whether a number under them may
/// be the secret (a PIN, a CVV, a numeric password). Sorted: looked up by binary search.
pub const SECRET_TOKENS: &[(&str, bool)] = &[
    ("apikey", false),
    ("authorization", false),
    ("bearer", false),
    ("cardnumber", true),
    ("cookie", false),
    ("cookies", false),
    ("credential", false),
    ("credentials", false),
    ("creditcard", true),
    ("cvc", true),
    ("cvn", true),
    ("cvv", true),
    ("hotp", true),
    ("iban", true),
    ("jwt", false),
    ("otp", true),
    ("pan", true),
    ("passcode", true),
    ("passphrase", true),
    ("passwd", true),
    ("password", true),
    ("pin", true),
    ("privatekey", false),
    ("pwd", true),
    ("secret", true),
    ("secrets", true),
    ("sessionid", false),
    ("setcookie", false),
    ("ssn", true),
    ("token", false),
    ("tokens", false),
    ("totp", true),
];

/// Two adjacent tokens that name a secret together (`api_key`, `apiKey`, `x-api-key`), and
/// whether a number may be the secret. Sorted.
pub const SECRET_PAIRS: &[(&str, &str, bool)] = &[
    ("access", "key", false),
    ("api", "key", false),
    ("auth", "code", false),
    ("auth", "header", false),
    ("backup", "code", true),
    ("backup", "codes", true),
    ("card", "no", true),
    ("card", "num", true),
    ("card", "number", true),
    ("credit", "card", true),
    ("encryption", "key", false),
    ("master", "key", false),
    ("private", "key", false),
    ("recovery", "code", true),
    ("recovery", "codes", true),
    ("security", "code", true),
    ("session", "id", false),
    ("session", "key", false),
    ("signing", "key", false),
];

/// Words that make a key secret when the key's tokens, joined, contain them (`dbpassword`,
/// `x_auth_token`, `mysecretvalue`); never short words, which would match inside others.
pub const SECRET_FRAGMENTS: &[(&str, bool)] = &[
    ("password", true),
    ("passwd", true),
    ("passphrase", true),
    ("secret", true),
    ("creditcard", true),
    ("cardnumber", true),
    ("token", false),
    ("credential", false),
    ("apikey", false),
    ("privatekey", false),
    ("sessionid", false),
];

/// Whole keys that are secrets only on their own (`auth` is, `auth_method` is not).
pub const SECRET_KEYS: &[&str] = &["auth", "signature"];

/// Tokens that say a number under a secret key is about the secret, not the secret itself
/// (`pin_attempts`, `password_min_length`, `password_changed_at`). Sorted.
pub const NUMBER_QUALIFIERS: &[&str] = &[
    "age",
    "at",
    "attempts",
    "count",
    "counts",
    "days",
    "digits",
    "expiration",
    "expires",
    "expiry",
    "failures",
    "len",
    "length",
    "limit",
    "max",
    "min",
    "policy",
    "retries",
    "rotation",
    "score",
    "size",
    "strength",
    "total",
    "tries",
    "ttl",
    "version",
];

/// Joined words that contain a fragment but are not secrets.
const FRAGMENT_EXCEPTIONS: &[&str] = &["secretar"];

/// The key in the form its tokens are read from: itself when ASCII (case kept for camelCase);
/// otherwise compatibility-decomposed, marks and invisible characters removed, lowercased,
/// look-alike letters mapped to Latin, other punctuation turned into `_`.
fn fold(key: &str) -> Cow<'_, str> {
    if key.is_ascii() {
        return Cow::Borrowed(key);
    }
    let mut out = String::with_capacity(key.len());
    for c in key.nfkd() {
        if c.is_ascii() {
            out.push(c);
            continue;
        }
        // Uppercase stays uppercase where it maps to Latin, so `userРin` still splits at `Р`.
        let upper = c.is_uppercase();
        for c in c.to_lowercase() {
            if is_combining_mark(c) || is_invisible(c) {
                continue;
            }
            let c = latin_skeleton(c);
            out.push(match c {
                'a'..='z' if upper => c.to_ascii_uppercase(),
                c if c.is_alphanumeric() => c,
                _ => '_',
            });
        }
    }
    Cow::Owned(out)
}

/// Default-ignorable code points: zero-width characters, joiners, direction marks, variation
/// selectors, the soft hyphen. They render as nothing and would otherwise split a word.
fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}'
        | '\u{180B}'..='\u{180F}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{206F}' | '\u{3164}' | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}'
        | '\u{FFA0}' | '\u{1BCA0}'..='\u{1BCA3}' | '\u{E0000}'..='\u{E0FFF}')
}

/// Lowercase Cyrillic, Greek and Latin letters that look like a Latin letter, mapped to it
/// (Unicode's confusables for the letters secret words are made of).
fn latin_skeleton(c: char) -> char {
    match c {
        'а' | 'α' | 'ɑ' => 'a',
        'в' | 'β' | 'ь' => 'b',
        'с' | 'ϲ' => 'c',
        'ԁ' => 'd',
        'е' | 'ε' | 'ё' => 'e',
        'ɡ' => 'g',
        'һ' | 'н' => 'h',
        'і' | 'ι' | 'ı' | 'ɩ' | 'ї' => 'i',
        'ј' | 'ȷ' => 'j',
        'к' | 'κ' => 'k',
        'ӏ' => 'l',
        'м' => 'm',
        'η' | 'п' => 'n',
        'о' | 'ο' | 'σ' => 'o',
        'р' | 'ρ' => 'p',
        'ԛ' => 'q',
        'ѕ' => 's',
        'т' | 'τ' => 't',
        'υ' | 'μ' => 'u',
        'ν' => 'v',
        'ԝ' | 'ω' | 'ш' => 'w',
        'х' | 'χ' => 'x',
        'у' | 'γ' => 'y',
        _ => c,
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Lower,
    Upper,
    Digit,
    Sep,
}

fn kind(b: u8) -> Kind {
    match b {
        b'a'..=b'z' | 0x80..=0xFF => Kind::Lower,
        b'A'..=b'Z' => Kind::Upper,
        b'0'..=b'9' => Kind::Digit,
        _ => Kind::Sep,
    }
}

/// The tokens of a folded key: split on separators, lower-to-upper case changes, the end of an
/// uppercase run before a capitalised word (`APIKey`: `API`, `Key`) and letter/digit boundaries.
struct Tokens<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Iterator for Tokens<'a> {
    type Item = &'a [u8];
    fn next(&mut self) -> Option<&'a [u8]> {
        let b = self.b;
        while self.i < b.len() && kind(b[self.i]) == Kind::Sep {
            self.i += 1;
        }
        if self.i >= b.len() {
            return None;
        }
        let start = self.i;
        self.i += 1;
        while self.i < b.len() {
            let split = match (kind(b[self.i - 1]), kind(b[self.i])) {
                (_, Kind::Sep) | (Kind::Lower, Kind::Upper) => true,
                (Kind::Digit, Kind::Lower | Kind::Upper)
                | (Kind::Lower | Kind::Upper, Kind::Digit) => true,
                (Kind::Upper, Kind::Upper) => {
                    b.get(self.i + 1).map(|&n| kind(n)) == Some(Kind::Lower)
                }
                _ => false,
            };
            if split {
                break;
            }
            self.i += 1;
        }
        Some(&b[start..self.i])
    }
}

/// A token lowercased into `buf`; `None` when longer than any listed word.
fn lower<'b>(t: &[u8], buf: &'b mut [u8; 16]) -> Option<&'b [u8]> {
    let out = buf.get_mut(..t.len())?;
    for (o, c) in out.iter_mut().zip(t) {
        *o = c.to_ascii_lowercase();
    }
    Some(out)
}

/// The letters fragments start with, as a bit mask over `a..=z`: most places of a key start none.
const FRAGMENT_FIRST: u32 = {
    let mut m = 0u32;
    let mut i = 0;
    while i < SECRET_FRAGMENTS.len() {
        m |= 1 << (SECRET_FRAGMENTS[i].0.as_bytes()[0] - b'a');
        i += 1;
    }
    m
};

/// What `key` says about the value under it.
pub fn key_class(key: &str) -> KeyClass {
    let folded = fold(key);
    let b = folded.as_bytes();
    let mut secret = false;
    let mut numbers = false;
    let mut qualified = false;
    let mut hit = |n: bool| {
        secret = true;
        numbers |= n;
    };
    let mut prev: Option<([u8; 16], usize)> = None;
    let mut count = 0;
    let mut only = ([0u8; 16], usize::MAX);
    for t in (Tokens { b, i: 0 }) {
        count += 1;
        let mut buf = [0u8; 16];
        let Some(t) = lower(t, &mut buf) else {
            prev = None;
            continue;
        };
        if let Ok(i) = SECRET_TOKENS.binary_search_by(|(w, _)| w.as_bytes().cmp(t)) {
            hit(SECRET_TOKENS[i].1);
        }
        if let Some((p, n)) = &prev {
            let p = &p[..*n];
            if let Ok(i) =
                SECRET_PAIRS.binary_search_by(|(a, c, _)| (a.as_bytes(), c.as_bytes()).cmp(&(p, t)))
            {
                hit(SECRET_PAIRS[i].2);
            }
        }
        qualified |= NUMBER_QUALIFIERS
            .binary_search_by(|w| w.as_bytes().cmp(t))
            .is_ok();
        let n = t.len();
        prev = Some((buf, n));
        only = (buf, n);
    }
    if count == 1
        && only.1 != usize::MAX
        && SECRET_KEYS
            .iter()
            .any(|w| w.as_bytes() == &only.0[..only.1])
    {
        hit(false);
    }
    // The tokens joined and lowercased, for the fragments; on the stack for keys of ordinary size.
    let len = b.iter().filter(|&&c| kind(c) != Kind::Sep).count();
    if len >= 5 {
        let mut stack = [0u8; 128];
        let mut heap = Vec::new();
        let joined: &mut [u8] = if len <= stack.len() {
            &mut stack[..len]
        } else {
            heap.resize(len, 0);
            &mut heap
        };
        for (slot, c) in joined
            .iter_mut()
            .zip(b.iter().filter(|&&c| kind(c) != Kind::Sep))
        {
            *slot = c.to_ascii_lowercase();
        }
        for i in 0..joined.len() {
            let c = joined[i];
            if !c.is_ascii_lowercase() || FRAGMENT_FIRST & (1 << (c - b'a')) == 0 {
                continue;
            }
            let rest = &joined[i..];
            for &(w, n) in SECRET_FRAGMENTS {
                if rest.starts_with(w.as_bytes())
                    && !FRAGMENT_EXCEPTIONS
                        .iter()
                        .any(|e| e.starts_with(w) && rest.starts_with(e.as_bytes()))
                {
                    hit(n);
                }
            }
        }
    }
    match (secret, numbers && !qualified) {
        (false, _) => KeyClass::Plain,
        (true, true) => KeyClass::Secret,
        (true, false) => KeyClass::SecretText,
    }
}

/// True when a field named `key` holds a secret (of any kind).
pub fn is_secret_key(key: &str) -> bool {
    key_class(key) != KeyClass::Plain
}

/// The digits of a card number: 13 to 19 ASCII digits.
#[derive(Clone, Copy)]
struct Digits {
    d: [u8; 19],
    len: usize,
}

impl Digits {
    fn as_bytes(&self) -> &[u8] {
        &self.d[..self.len]
    }
    fn last4(&self) -> &str {
        std::str::from_utf8(&self.d[self.len - 4..self.len]).expect("ASCII digits")
    }
    /// `digits` as a card number, when 13 to 19 of them pass Luhn.
    fn card(digits: impl Iterator<Item = u8>) -> Option<Digits> {
        let mut d = Digits { d: [0; 19], len: 0 };
        for c in digits {
            if d.len == 19 {
                return None;
            }
            d.d[d.len] = c;
            d.len += 1;
        }
        ((13..=19).contains(&d.len) && luhn_bytes(d.as_bytes())).then_some(d)
    }
}

/// The first card number in `b` at or after `from`: 13–19 digits in groups separated by one
/// space or dash, passing Luhn, with its byte range (first to last digit). Of the groups starting
/// at one place, the longest run that passes is taken.
fn next_card(b: &[u8], mut from: usize) -> Option<(Range<usize>, Digits)> {
    loop {
        let start = from + b.get(from..)?.iter().position(u8::is_ascii_digit)?;
        // Walk the chain of groups from `start`, remembering the longest run that passes.
        let mut buf = [0u8; 19];
        let mut n = 0;
        let mut i = start;
        let mut best: Option<(usize, Digits)> = None;
        let mut first_group_end = None;
        loop {
            let group_end = i + b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
            first_group_end.get_or_insert(group_end);
            if n + (group_end - i) > 19 {
                break;
            }
            buf[n..n + group_end - i].copy_from_slice(&b[i..group_end]);
            n += group_end - i;
            if n >= 13 {
                if let Some(d) = Digits::card(buf[..n].iter().copied()) {
                    best = Some((group_end, d));
                }
            }
            let chained = matches!(b.get(group_end), Some(b' ' | b'-'))
                && b.get(group_end + 1).is_some_and(u8::is_ascii_digit);
            if !chained {
                break;
            }
            i = group_end + 1;
        }
        if let Some((end, d)) = best {
            return Some((start..end, d));
        }
        // No card starts here; try from the next group of the chain.
        from = first_group_end.expect("one group at least");
    }
}

/// The Luhn checksum over a string of ASCII digits.
pub fn luhn(digits: &str) -> bool {
    digits.bytes().all(|b| b.is_ascii_digit()) && luhn_bytes(digits.as_bytes())
}

fn luhn_bytes(digits: &[u8]) -> bool {
    let mut sum = 0u32;
    for (i, b) in digits.iter().rev().enumerate() {
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

/// The digits of `s` if `s` (trimmed) is a payment card number and nothing else: 13–19 digits,
/// optionally grouped by single spaces or dashes, passing the Luhn check.
pub fn card_digits(s: &str) -> Option<String> {
    whole_card(s).map(|d| String::from_utf8(d.as_bytes().to_vec()).expect("ASCII digits"))
}

fn whole_card(s: &str) -> Option<Digits> {
    let t = s.trim();
    if t.len() < 13 {
        return None;
    }
    let (range, d) = next_card(t.as_bytes(), 0)?;
    (range == (0..t.len())).then_some(d)
}

/// True when `s` holds a card number anywhere (validation refuses those in field names).
pub fn holds_card(s: &str) -> bool {
    enough_digits(s) && next_card(s.as_bytes(), 0).is_some()
}

/// Fewer than 13 digits cannot hold a card number: one pass, no allocation.
fn enough_digits(s: &str) -> bool {
    s.len() >= 13 && s.bytes().filter(u8::is_ascii_digit).count() >= 13
}

/// `s` with every card number in it replaced by `[redacted card ****1234]`, and how many.
pub fn mask_cards(s: &str) -> (String, usize) {
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut last = 0;
    let mut n = 0;
    while let Some((r, d)) = next_card(b, last) {
        out.push_str(&s[last..r.start]);
        out.push_str("[redacted card ****");
        out.push_str(d.last4());
        out.push(']');
        last = r.end;
        n += 1;
    }
    out.push_str(&s[last..]);
    (out, n)
}

/// The card number a JSON number spells: its integer digits, or all its digits (fraction
/// included, exponent aside) as the canonical encoding writes them.
fn number_card(n: &Number) -> Option<Digits> {
    if let Some(u) = n.as_u64() {
        return Digits::card(itoa::Buffer::new().format(u).bytes());
    }
    if let Some(i) = n.as_i64() {
        return Digits::card(itoa::Buffer::new().format(i.unsigned_abs()).bytes());
    }
    let f = n.as_f64()?;
    let mut buf = ryu_js::Buffer::new();
    let text = buf.format_finite(f.abs());
    let mantissa = text.split(['e', 'E']).next().unwrap_or("");
    let int = mantissa.split('.').next().unwrap_or("");
    // `0.4242…`: the leading zero is the encoding's, not a digit of the number.
    Digits::card(int.bytes()).or_else(|| {
        Digits::card(
            mantissa
                .bytes()
                .filter(u8::is_ascii_digit)
                .skip_while(|&c| c == b'0'),
        )
    })
}

/// The keyed fingerprint of a value: `hmac-sha256:<hex>` of its canonical JSON.
pub fn fingerprint(key: &[u8; 32], value: &Value) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(&canonical_bytes(value));
    format!("hmac-sha256:{}", hex::encode(mac.finalize().into_bytes()))
}

fn preview(value: &Value, card: Option<&Digits>) -> String {
    if let Some(d) = card {
        return format!("****{}", d.last4());
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

fn redacted(key: &[u8; 32], value: &Value, card: Option<&Digits>) -> Value {
    let mut m = Map::new();
    m.insert(REDACTED_KEY.into(), Value::Bool(true));
    m.insert("preview".into(), Value::String(preview(value, card)));
    m.insert("fingerprint".into(), Value::String(fingerprint(key, value)));
    Value::Object(m)
}

/// A redaction object. Validation refuses `$redacted` from clients, so only this module wrote it.
fn is_redacted(v: &Value) -> bool {
    v.get(REDACTED_KEY).is_some()
}

/// Redacts a value in place, under a key of class `class`. Returns how many values (or card
/// numbers inside text) were redacted.
fn walk(key: &[u8; 32], v: &mut Value, class: KeyClass) -> usize {
    if is_redacted(v) {
        return 0;
    }
    let whole = match (class, &*v) {
        // One bit, or nothing: no secret to hide.
        (_, Value::Null | Value::Bool(_)) => return 0,
        (KeyClass::Secret, _)
        | (KeyClass::SecretText, Value::String(_) | Value::Array(_) | Value::Object(_)) => true,
        _ => false,
    };
    if whole {
        // A card number under a secret key still shows only its last four digits.
        let card = match &*v {
            Value::String(s) => whole_card(s),
            Value::Number(n) => number_card(n),
            _ => None,
        };
        *v = redacted(key, v, card.as_ref());
        return 1;
    }
    match v {
        Value::String(s) => {
            if !enough_digits(s) {
                return 0;
            }
            if let Some(d) = whole_card(s) {
                *v = redacted(key, v, Some(&d));
                return 1;
            }
            let (masked, n) = mask_cards(s);
            if n > 0 {
                *s = masked;
            }
            n
        }
        Value::Number(n) => match number_card(n) {
            Some(d) => {
                *v = redacted(key, v, Some(&d));
                1
            }
            None => 0,
        },
        Value::Array(items) => items
            .iter_mut()
            .map(|i| walk(key, i, KeyClass::Plain))
            .sum(),
        Value::Object(m) => m.iter_mut().map(|(k, i)| walk(key, i, key_class(k))).sum(),
        _ => 0,
    }
}

/// The class of a `changes[].field` path (`address.password`, `items[0].token`): the strongest of
/// its segments, as a value nested under a secret key is itself secret.
/// The whole path counts as one key too, since the diff joins nested keys with dots:
/// `credit.card.number`.
fn field_class(field: &str) -> KeyClass {
    field
        .split(['.', '/', '[', ']'])
        .filter(|s| !s.is_empty())
        .map(key_class)
        .chain([key_class(field)])
        .max()
        .unwrap_or(KeyClass::Plain)
}

/// Envelope fields that identify the event or its parties: indexed, compared and required to be
/// exactly what was sent, so they are not scanned (see `docs/security/redaction.md`).
fn is_identifier(parent: &str, key: &str) -> bool {
    match parent {
        "actor" | "on_behalf_of" | "subject" => matches!(key, "type" | "id"),
        "context" => matches!(key, "ip" | "request_id" | "correlation_id"),
        _ => false,
    }
}

/// Redacts the secrets of an event body under the tenant's key: every part a client sent but
/// its identifiers (see the module documentation), plus the catalog's `secret_paths` (JSON
/// pointers). Returns how many values were replaced. Redacting a redacted body changes nothing.
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
    for (name, v) in body.iter_mut() {
        match (name.as_str(), v) {
            ("id" | "tenant" | "type" | "schema_version" | "occurred_at" | "outcome", _) => {}
            ("changes", Value::Array(changes)) => {
                for c in changes {
                    let Some(o) = c.as_object_mut() else { continue };
                    let class = field_class(o.get("field").and_then(Value::as_str).unwrap_or(""));
                    for side in ["before", "after"] {
                        if let Some(v) = o.get_mut(side) {
                            n += walk(key, v, class);
                        }
                    }
                }
            }
            (parent @ ("actor" | "on_behalf_of" | "subject" | "context"), Value::Object(o)) => {
                for (k, v) in o.iter_mut() {
                    if !is_identifier(parent, k) {
                        n += walk(key, v, key_class(k));
                    }
                }
            }
            // data, refs, reason, impersonation: envelope names, none of them a secret key.
            (_, v) => n += walk(key, v, KeyClass::Plain),
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

    /// The compound names of issue 13 in every spelling, look-alike letters, and the whole-key
    /// and pair rules: all secret keys.
    #[test]
    fn compound_and_look_alike_keys_are_secret() {
        for k in [
            "card_cvv",
            "cardCvv",
            "card-cvv",
            "CARD_CVV",
            "CardCvv",
            "cvv_code",
            "cvvCode",
            "cvv-code",
            "customer_ssn",
            "customerSsn",
            "customer-ssn",
            "customerSSN",
            "user_pin",
            "userPin",
            "user-pin",
            "USER_PIN",
            "otp_code",
            "otpCode",
            "otp-code",
            "payout_iban",
            "payoutIban",
            "payout-iban",
            "authorization_header",
            "authorizationHeader",
            "authorization-header",
            "cookies",
            "Cookies",
            "set-cookie",
            "Set-Cookie",
            "setCookie",
            "credit_card_number",
            "creditCardNumber",
            "credit-card-number",
            "creditcardnumber",
            "card_number",
            "cardNo",
            "pan",
            "x_pan",
            "security_code",
            "api_key",
            "apiKey",
            "APIKey",
            "X-Api-Key",
            "apikey",
            "x.api.key",
            "private_key",
            "privateKey",
            "signing_key",
            "access_key_id_secret",
            "session_id",
            "sessionId",
            "sessionid",
            "recovery_codes",
            "password",
            "Password",
            "db_password",
            "passwordHash",
            "pwd",
            "passphrase",
            "client_secret",
            "refreshToken",
            "x-auth-token",
            "jwt",
            "bearer",
            "credentials",
            "auth",
            "Authorization",
            "signature",
            "cvv2",
            "pin1",
            // Look-alikes and disguises: Cyrillic а and Р, Greek ο, full-width letters, a zero
            // width space, a soft hyphen, combining marks, mathematical bold.
            "p\u{430}ssword",
            "user\u{420}in",
            "t\u{3bf}ken",
            "\u{ff50}\u{ff41}\u{ff53}\u{ff53}\u{ff57}\u{ff4f}\u{ff52}\u{ff44}",
            "pass\u{200b}word",
            "pass\u{ad}word",
            "pa\u{301}ssword",
            "\u{1d429}\u{1d422}\u{1d427}",
            "\u{421}VV",
            "api\u{2014}key",
            "ａｐｉ＿ｋｅｙ",
        ] {
            assert!(is_secret_key(k), "{k:?} should be a secret key");
        }
    }

    /// Words that contain a secret word's letters but are not secrets, decided on purpose.
    #[test]
    fn near_misses_are_not_secret_keys() {
        for k in [
            "pinned",
            "isPinned",
            "spinner",
            "author",
            "authors",
            "auth_method",
            "authProvider",
            "company",
            "span",
            "expand",
            "secretary",
            "secretary_name",
            "opinion",
            "keyboard",
            "key",
            "key_id",
            "idempotency_key",
            "monkey",
            "session",
            "cookbook",
            "panel",
            "pane",
            "japan",
            "ticket",
            "note",
            "code",
            "reason",
            "user_agent",
            "ip",
            "name",
            "email",
        ] {
            assert_eq!(key_class(k), KeyClass::Plain, "{k:?} should not be secret");
        }
    }

    /// Numbers under a secret key are kept when they cannot be the secret; strings never are.
    #[test]
    fn counts_and_limits_are_kept_strings_are_not() {
        let mut body = json!({"data": {
            "token_count": 5, "max_tokens": 100, "prompt_tokens": 512, "pin_attempts": 3,
            "password_min_length": 12, "password_changed_at": 1_700_000_000, "has_password": true,
            "cookie": 7, "pin": 1234, "cvv": 123, "otp_code": 654_321, "password": 123_456,
            "token_type": "Bearer", "ssn": null,
        }});
        redact(body.as_object_mut().unwrap(), &K, &[]);
        let d = &body["data"];
        for kept in [
            "token_count",
            "max_tokens",
            "prompt_tokens",
            "pin_attempts",
            "password_min_length",
            "password_changed_at",
            "has_password",
            "cookie",
            "ssn",
        ] {
            assert!(d[kept].get(REDACTED_KEY).is_none(), "{kept} kept: {d}");
        }
        for gone in ["pin", "cvv", "otp_code", "password", "token_type"] {
            assert_eq!(d[gone][REDACTED_KEY], true, "{gone} redacted: {d}");
        }
    }

    /// Card numbers inside text are masked in place; a string that is one is replaced; numbers
    /// in fraction and exponent form count; other digit runs do not.
    #[test]
    fn card_numbers_in_text_and_in_numbers() {
        let (masked, n) = mask_cards("paid 4242 4242 4242 4242 and 5555-5555-5555-4444, ok");
        assert_eq!(
            masked,
            "paid [redacted card ****4242] and [redacted card ****4444], ok"
        );
        assert_eq!(n, 2);
        assert_eq!(
            mask_cards("card4111111111111111x").0,
            "card[redacted card ****1111]x"
        );
        assert_eq!(
            mask_cards("ref 12345 4111 1111 1111 1111").0,
            "ref 12345 [redacted card ****1111]"
        );
        for kept in [
            "2026-03-01 10:00:00",
            "+1 415-555-0100",
            "4242424242424241",
            "12345678901234567890",
            "4242  4242 4242 4242",
        ] {
            assert_eq!(mask_cards(kept).1, 0, "{kept}");
        }
        let mut body: Value = serde_json::from_str(
            r#"{"data": {"f": 4242424242424242.0, "g": 424242424242.4242, "e": 4.242424242424242e15,
                 "neg": -4242424242424242, "i": 4242424242424242, "t": "card 4242424242424242 on file",
                 "small": 12.5, "big": 1e300}}"#,
        )
        .unwrap();
        redact(body.as_object_mut().unwrap(), &K, &[]);
        let d = &body["data"];
        for k in ["f", "g", "e", "neg", "i"] {
            assert_eq!(d[k]["preview"], "****4242", "{k}: {d}");
        }
        assert_eq!(d["t"], "card [redacted card ****4242] on file");
        assert_eq!(d["small"], 12.5);
        assert_eq!(d["big"], 1e300);
    }

    /// Reason, context, names, impersonation: scanned; identifiers: kept as sent.
    #[test]
    fn the_whole_envelope_is_scanned_but_its_identifiers() {
        let card = "4242424242424242";
        let mut body = json!({
            "id": card, "type": "a.b", "occurred_at": "2026-01-01T00:00:00Z",
            "actor": {"type": "user", "id": card, "name": format!("Ada {card}"), "email": "a@example.com"},
            "subject": {"type": "card", "id": card, "name": card},
            "on_behalf_of": {"type": "customer", "id": "c-1", "name": format!("x {card}")},
            "reason": {"code": "c", "ticket": format!("T {card}"), "note": format!("paid with {card}")},
            "context": {"session_id": "s3ss10n-cookie-value", "user_agent": format!("UA {card}"),
                        "request_id": card, "correlation_id": card, "ip": "10.0.0.1"},
            "impersonation": {"session_id": "imp-session-0001", "ticket": card},
        });
        let n = redact(body.as_object_mut().unwrap(), &K, &[]);
        assert_eq!(n, 9, "{body}");
        let masked = "[redacted card ****4242]";
        assert_eq!(body["actor"]["name"], format!("Ada {masked}"));
        assert_eq!(body["subject"]["name"]["preview"], "****4242");
        assert_eq!(body["on_behalf_of"]["name"], format!("x {masked}"));
        assert_eq!(body["reason"]["ticket"], format!("T {masked}"));
        assert_eq!(body["reason"]["note"], format!("paid with {masked}"));
        assert_eq!(body["context"]["session_id"][REDACTED_KEY], true);
        assert_eq!(body["context"]["user_agent"], format!("UA {masked}"));
        assert_eq!(body["impersonation"]["session_id"][REDACTED_KEY], true);
        assert_eq!(body["impersonation"]["ticket"]["preview"], "****4242");
        for p in [
            "/id",
            "/actor/id",
            "/subject/id",
            "/context/request_id",
            "/context/correlation_id",
        ] {
            assert_eq!(body.pointer(p).unwrap(), card, "{p} is an identifier");
        }
        let again = body.clone();
        assert_eq!(redact(body.as_object_mut().unwrap(), &K, &[]), 0);
        assert_eq!(body, again, "idempotent");
    }

    /// A value nested under a secret segment of a change's field is secret too.
    #[test]
    fn change_fields_are_secret_by_any_segment() {
        let mut body = json!({"changes": [
            {"field": "credentials.user", "before": "old-user-cred", "after": "new-user-cred"},
            {"field": "items[0].api_key", "after": "sk_live_0123456789"},
            {"field": "settings.theme", "before": "dark", "after": "light"},
        ]});
        assert_eq!(redact(body.as_object_mut().unwrap(), &K, &[]), 3);
        assert_eq!(body["changes"][2]["after"], "light");
    }

    /// The lists are looked up by binary search, and fragments by their first letter.
    #[test]
    fn lists_are_sorted_lowercase_and_short() {
        assert!(SECRET_TOKENS.is_sorted_by_key(|(w, _)| *w));
        assert!(SECRET_PAIRS.is_sorted_by_key(|(a, b, _)| (*a, *b)));
        assert!(NUMBER_QUALIFIERS.is_sorted());
        let words = SECRET_TOKENS
            .iter()
            .map(|(w, _)| *w)
            .chain(SECRET_PAIRS.iter().flat_map(|(a, b, _)| [*a, *b]))
            .chain(NUMBER_QUALIFIERS.iter().copied())
            .chain(SECRET_FRAGMENTS.iter().map(|(w, _)| *w))
            .chain(SECRET_KEYS.iter().copied());
        for w in words {
            assert!(
                w.len() <= 16
                    && w.bytes()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()),
                "{w}"
            );
        }
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

    /// Secret names as words, spelled below in every style.
    const NAMES: &[&[&str]] = &[
        &["password"],
        &["passwd"],
        &["secret"],
        &["api", "key"],
        &["access", "token"],
        &["refresh", "token"],
        &["client", "secret"],
        &["private", "key"],
        &["card", "cvv"],
        &["cvv", "code"],
        &["customer", "ssn"],
        &["user", "pin"],
        &["otp", "code"],
        &["payout", "iban"],
        &["authorization", "header"],
        &["cookies"],
        &["set", "cookie"],
        &["credit", "card", "number"],
        &["card", "number"],
        &["session", "id"],
        &["security", "code"],
        &["credentials"],
        &["bearer", "token"],
        &["signing", "key"],
        &["pan"],
        &["cvc"],
        &["recovery", "codes"],
        &["passphrase"],
        &["db", "password"],
    ];

    fn cap(w: &str) -> String {
        let mut c = w.chars();
        c.next()
            .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
            .unwrap_or_default()
    }

    /// A spelling of `words`: snake, SCREAMING, kebab, Train-Case, camel, Pascal, dotted.
    fn spell(words: &[&str], style: usize) -> String {
        match style {
            0 => words.join("_"),
            1 => words.join("_").to_uppercase(),
            2 => words.join("-"),
            3 => words.iter().map(|w| cap(w)).collect::<Vec<_>>().join("-"),
            4 => words[0].to_owned() + &words[1..].iter().map(|w| cap(w)).collect::<String>(),
            5 => words.iter().map(|w| cap(w)).collect(),
            _ => words.join("."),
        }
    }

    /// `key` with one Latin letter replaced by its Cyrillic or Greek look-alike, or a zero-width
    /// space, or all full-width.
    fn disguise(key: &str, how: usize, at: usize) -> String {
        let swap = |c: char| match c {
            'a' => Some('\u{430}'),
            'e' => Some('\u{435}'),
            'o' => Some('\u{3bf}'),
            'p' => Some('\u{440}'),
            'c' => Some('\u{441}'),
            'P' => Some('\u{420}'),
            _ => None,
        };
        match how {
            0 => key.to_owned(),
            1 => {
                let spots: Vec<usize> = key
                    .char_indices()
                    .filter(|(_, c)| swap(*c).is_some())
                    .map(|(i, _)| i)
                    .collect();
                let Some(&i) = spots.get(at % spots.len().max(1)) else {
                    return key.to_owned();
                };
                let c = key[i..].chars().next().unwrap();
                format!(
                    "{}{}{}",
                    &key[..i],
                    swap(c).unwrap(),
                    &key[i + c.len_utf8()..]
                )
            }
            2 => {
                let i = key
                    .char_indices()
                    .nth(1 + at % (key.len() - 1))
                    .map_or(key.len(), |(i, _)| i);
                format!("{}\u{200b}{}", &key[..i], &key[i..])
            }
            _ => key
                .chars()
                .map(|c| {
                    if c.is_ascii_graphic() {
                        char::from_u32(c as u32 + 0xFEE0).unwrap()
                    } else {
                        c
                    }
                })
                .collect(),
        }
    }

    fn secret_key() -> impl Strategy<Value = String> {
        (0..NAMES.len(), 0usize..7, 0usize..4, any::<usize>())
            .prop_map(|(n, style, how, at)| disguise(&spell(NAMES[n], style), how, at))
    }

    #[test]
    fn every_listed_spelling_is_a_secret_key() {
        for words in NAMES {
            for style in 0..7 {
                for how in 0..4 {
                    for at in 0..3 {
                        let k = disguise(&spell(words, style), how, at);
                        assert!(is_secret_key(&k), "{k:?}");
                    }
                }
            }
        }
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

        /// A secret under any listed key spelling, and a card number in any string, anywhere in
        /// a whole event that passed validation, never survive redaction.
        #[test]
        fn no_secret_survives_anywhere_in_an_event(
            seed in prop::collection::vec(any::<u8>(), 1..20),
            len in 13usize..=19,
            sep in prop::sample::select(vec!["", " ", "-"]),
            key in secret_key(),
            secret in "[A-Za-z0-9!@#%^&*]{8,40}",
            place in 0usize..9,
            depth in 0usize..3,
        ) {
            let digits = card(&seed, len);
            let formatted: String = digits.as_bytes().chunks(4).map(|c| std::str::from_utf8(c).unwrap()).collect::<Vec<_>>().join(sep);
            let text = format!("see {formatted} here");
            let mut inner = json!({ key.clone(): secret.clone() });
            for _ in 0..depth {
                inner = json!({"nested": [inner]});
            }
            let mut ev = json!({
                "type": "order.paid", "occurred_at": "2026-01-31T10:00:00Z",
                "actor": {"type": "user", "id": "u1", "name": "Ada"},
                "subject": {"type": "order", "id": "o-1"},
            });
            match place {
                0 => ev["data"] = inner,
                1 => { ev["before"] = json!({"cfg": inner.clone(), "n": 1}); ev["after"] = json!({"cfg": {key.clone(): format!("{secret}-new")}, "n": 2}); }
                2 => ev["changes"] = json!([{"field": format!("settings.{key}"), "before": secret.clone()}]),
                3 => ev["reason"] = json!({"note": text.clone(), "ticket": formatted.clone()}),
                4 => ev["context"] = json!({"session_id": secret.clone(), "user_agent": text.clone()}),
                5 => { ev["actor"]["name"] = json!(text.clone()); ev["subject"]["name"] = json!(formatted.clone()); }
                6 => ev["impersonation"] = json!({"session_id": secret.clone(), "ticket": text.clone()}),
                7 => ev["data"] = json!({"list": [text.clone(), {"n": digits.parse::<u64>().ok().filter(|n| *n < 1 << 53)}], key.clone(): [secret.clone()]}),
                _ => ev["refs"] = json!({"order": text.clone(), spell(NAMES[len % NAMES.len()], len % 7): secret.clone()}),
            }
            let mut evs = crate::parse_batch(ev.to_string().as_bytes(), crate::BodyFormat::Json, &crate::TenantId::parse("acme").unwrap(), &crate::Limits::default()).expect("valid");
            let body = &mut evs[0].body;
            redact(body, &K, &[]);
            let out = Value::Object(body.clone()).to_string();
            prop_assert!(!out.contains(&formatted), "card survived: {out}");
            prop_assert!(!out.contains(&digits), "card digits survived: {out}");
            prop_assert!(!out.contains(&secret), "secret survived: {out}");
        }
    }
}
