#![no_main]
// Export lines from an untrusted file: rebuilding the leaf never panics.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) {
        let _ = sealbook_domain::view::rebuild_leaf(&v);
    }
});
