//! RFC 8785 (JCS) canonical encoding, the one byte form of every leaf and content hash.

/// Encodes a JSON value in RFC 8785 canonical form.
///
/// Values reaching this point were parsed by `serde_json` and checked to be I-JSON (integers within
/// ±2^53), so encoding cannot fail; the `expect` documents that invariant.
pub fn canonical_bytes(value: &serde_json::Value) -> Vec<u8> {
    serde_json_canonicalizer::to_vec(value).expect("a serde_json::Value always canonicalizes")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    // Known answers from RFC 8785 section 3.2.2 (sorting and escaping) and 3.2.2.3 (numbers).
    #[test]
    fn sorts_keys_by_utf16_and_escapes_minimally() {
        let v = json!({"b": 1, "a": "\u{20ac}$\u{000f}\nA'B\"\\\\\"/", "\u{00e9}": true});
        assert_eq!(
            String::from_utf8(canonical_bytes(&v)).unwrap(),
            "{\"a\":\"\u{20ac}$\\u000f\\nA'B\\\"\\\\\\\\\\\"/\",\"b\":1,\"\u{00e9}\":true}"
        );
    }

    #[test]
    fn numbers_use_ecmascript_form() {
        let v: serde_json::Value = serde_json::from_str(
            "[333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001]",
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(canonical_bytes(&v)).unwrap(),
            "[333333333.3333333,1e+30,4.5,0.002,1e-27]"
        );
    }
}
