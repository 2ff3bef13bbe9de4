#![no_main]
// Tile paths from requests: never panic, and one tile has exactly one path.
use sealbook_logmath::tile::{encode_number, parse_number_and_width};

libfuzzer_sys::fuzz_target!(|s: &str| {
    if let Ok((n, w)) = parse_number_and_width(s) {
        let mut again = encode_number(n);
        if w < 256 {
            again.push_str(&format!(".p/{w}"));
        }
        assert_eq!(again, s);
    }
});
