#![no_main]
// Signed notes and checkpoints from an untrusted server or file: never panic, and anything that
// parses re-encodes to the signed text (extension lines, which C2SP allows, follow it).
use sealbook_logmath::note::{open, Checkpoint, NoteVerifier};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let v = NoteVerifier::parse("example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k")
        .expect("the C2SP example key");
    let _ = NoteVerifier::parse(text);
    if let Ok(body) = open(text, &[v]) {
        if let Ok(cp) = Checkpoint::parse(body) {
            assert!(body.starts_with(&cp.to_text()));
        }
    }
    if let Ok(cp) = Checkpoint::parse(text) {
        assert_eq!(Checkpoint::parse(&cp.to_text()).unwrap(), cp);
    }
});
