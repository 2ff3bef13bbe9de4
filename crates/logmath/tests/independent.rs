//! Cross-checks against an independent implementation: `tlog_tiles` (a port of Go's
//! `golang.org/x/mod/sumdb/tlog`, which Certificate Transparency and the Go checksum database
//! rely on) for roots and proofs, and `signed_note` for C2SP signed notes and checkpoints.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use sealbook_logmath::note::{open, Checkpoint, NoteSigner, NoteVerifier};
use sealbook_logmath::{
    consistency_proof, inclusion_proof, leaf_hash, root, verify_consistency, verify_inclusion,
    Hash, MemoryTree, NodeSource,
};

/// Our in-memory tree, wrapped so their reader trait can be implemented for it here.
struct Tree(MemoryTree);

impl Tree {
    fn new(n: u64) -> Tree {
        Tree(MemoryTree::from_leaves(
            (0..n)
                .map(|i| leaf_hash(format!("entry {i}").as_bytes()))
                .collect(),
        ))
    }
    fn leaf(&self, i: u64) -> Hash {
        self.0.leaf(i).unwrap()
    }
}

/// Their reader, serving the same stored hashes in their stored-hash-index order.
impl tlog_tiles::HashReader for Tree {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<tlog_tiles::Hash>, tlog_tiles::Error> {
        indexes
            .iter()
            .map(|&i| {
                let (level, n) = tlog_tiles::split_stored_hash_index(i);
                self.0
                    .node(u32::from(level), n)
                    .map(|h| tlog_tiles::Hash(h.0))
                    .map_err(|_| tlog_tiles::Error::InvalidProof)
            })
            .collect()
    }
}

fn theirs(h: &[Hash]) -> Vec<tlog_tiles::Hash> {
    h.iter().map(|h| tlog_tiles::Hash(h.0)).collect()
}

#[test]
fn roots_and_proofs_match_go_tlog() {
    let t = Tree::new(300);
    assert_eq!(
        tlog_tiles::record_hash(b"entry 7").0,
        leaf_hash(b"entry 7").0
    );
    for n in 1..=300u64 {
        let r = root(&t.0, n).unwrap();
        assert_eq!(tlog_tiles::tree_hash(n, &t).unwrap().0, r.0, "root {n}");
        for m in (0..n).step_by(7).chain([n - 1]) {
            let ours = inclusion_proof(&t.0, m, n).unwrap().unwrap();
            let go = tlog_tiles::prove_record(n, m, &t).unwrap();
            assert_eq!(go, theirs(&ours), "inclusion {m} of {n}");
            tlog_tiles::check_record(
                &theirs(&ours),
                n,
                tlog_tiles::Hash(r.0),
                m,
                tlog_tiles::Hash(t.leaf(m).0),
            )
            .unwrap();
            let go_as_ours: Vec<Hash> = go.iter().map(|h| Hash(h.0)).collect();
            verify_inclusion(&t.leaf(m), m, n, &go_as_ours, &r).unwrap();
        }
        for m in (1..=n).step_by(5).chain([n]) {
            let ours = consistency_proof(&t.0, m, n).unwrap().unwrap();
            let go = tlog_tiles::prove_tree(n, m, &t).unwrap();
            assert_eq!(go, theirs(&ours), "consistency {m} -> {n}");
            let old = root(&t.0, m).unwrap();
            tlog_tiles::check_tree(
                &theirs(&ours),
                n,
                tlog_tiles::Hash(r.0),
                m,
                tlog_tiles::Hash(old.0),
            )
            .unwrap();
            verify_consistency(m, n, &ours, &old, &r).unwrap();
        }
    }
}

#[test]
fn signed_checkpoints_interoperate_with_signed_note() {
    let name = "sealbook.test/acme";
    let seed = [42u8; 32];
    let ours = NoteSigner::new(name, &seed).unwrap();
    let cp = Checkpoint {
        origin: name.into(),
        size: 1234,
        root: leaf_hash(b"root"),
    };
    let note = ours.sign(&cp.to_text()).unwrap();

    // Their verifier accepts our vkey and our signature.
    let their_verifier = signed_note::StandardVerifier::new(&ours.verifier_key()).unwrap();
    let list = signed_note::VerifierList::new(vec![Box::new(their_verifier)]);
    let parsed = signed_note::Note::from_bytes(note.as_bytes()).unwrap();
    let (verified, _) = parsed.verify(&list).unwrap();
    assert_eq!(verified.len(), 1);
    assert_eq!(parsed.text(), cp.to_text().as_bytes());

    // We accept a note their signer made with the same key.
    let vkey = NoteVerifier::parse(&ours.verifier_key()).unwrap();
    let mut raw = vec![1u8];
    raw.extend_from_slice(&seed);
    let id = ours.verifier_key().split('+').nth(1).unwrap().to_owned();
    let skey = format!("PRIVATE+KEY+{name}+{id}+{}", STANDARD.encode(raw));
    let their_signer = signed_note::StandardSigner::new(&skey).unwrap();
    let mut theirs = signed_note::Note::new(cp.to_text().as_bytes(), &[]).unwrap();
    theirs.add_sigs(&[&their_signer]).unwrap();
    let theirs = String::from_utf8(theirs.to_bytes()).unwrap();
    assert_eq!(
        theirs, note,
        "Ed25519 is deterministic: both sign byte-identical notes"
    );
    assert_eq!(
        Checkpoint::parse(open(&theirs, &[vkey]).unwrap()).unwrap(),
        cp
    );
}
