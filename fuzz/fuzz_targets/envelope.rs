#![no_main]
libfuzzer_sys::fuzz_target!(|body: &[u8]| {
    let tenant = sealbook_domain::TenantId::parse("fuzz").unwrap();
    let Ok(events) = sealbook_domain::parse_batch(body, sealbook_domain::BodyFormat::Json, &tenant, &Default::default()) else {
        return;
    };
    // Whatever validation accepts, redaction handles, and redacting twice changes nothing.
    for mut e in events {
        sealbook_domain::redact::redact(&mut e.body, &[7; 32], &[]);
        let once = e.body.clone();
        assert_eq!(sealbook_domain::redact::redact(&mut e.body, &[7; 32], &[]), 0);
        assert_eq!(e.body, once);
    }
});
