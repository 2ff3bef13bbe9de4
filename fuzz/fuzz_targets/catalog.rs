#![no_main]
// Catalog input from operators (TOML and YAML files) and tenants (JSON type definitions through
// `PUT /v1/catalog/types`): never panic, and a definition that compiles compiles back to itself.
use sealbook_catalog::Catalog;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = Catalog::parse(text);
    let _ = Catalog::parse_yaml(text);
    let Ok(def) = serde_json::from_str::<serde_json::Value>(text) else { return };
    if let Ok(c) = Catalog::from_definition("fuzz.type", &def) {
        let normal = c.definition("fuzz.type").expect("compiled").clone();
        let again = Catalog::from_definition("fuzz.type", &normal).expect("a normal form compiles");
        assert_eq!(again.definition("fuzz.type"), Some(&normal));
    }
});
