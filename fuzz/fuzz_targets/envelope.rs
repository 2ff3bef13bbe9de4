#![no_main]
libfuzzer_sys::fuzz_target!(|body: &[u8]| {
    let tenant = sealbook_domain::TenantId::parse("fuzz").unwrap();
    let _ = sealbook_domain::parse_batch(body, sealbook_domain::BodyFormat::Json, &tenant, &Default::default());
});
