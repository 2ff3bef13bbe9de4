#![no_main]
libfuzzer_sys::fuzz_target!(|pairs: Vec<(String, String)>| {
    let _ = sealbook_domain::EventFilter::from_query(&pairs, &sealbook_domain::SearchKey::new(&[1; 32]));
});
