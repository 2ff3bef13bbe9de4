//! Log math for Sealbook: the hashing rules of RFC 6962 / RFC 9162 that every tenant log is built on.
//!
//! This crate is pure computation. It never touches a file, a socket or a clock, so that an offline
//! verifier can use exactly the same code as the server.
//!
//! Integration is here too, shared by both stores as tessera shares `storage/internal/integrate.go`:
//! a store reads the blobs of the tiles [`tile::open_tiles`] names, checks them with
//! [`tile::RightEdge::from_blobs`], and writes what [`tile::RightEdge::append`] returns. A store
//! MUST write those tiles and the new head in the transaction that stores the leaves' events.
//! A verifier MUST check a proof against a root it trusts (a signed checkpoint's), never against
//! a root that came with the proof.
//!
//! The public interface is: [`Hash`](struct@Hash), [`leaf_hash`], [`node_hash`], [`EMPTY_ROOT`]; tree roots and
//! proofs over any [`NodeSource`] of perfect-subtree hashes ([`root`], [`range_hash`],
//! [`inclusion_proof`], [`consistency_proof`], [`verify_inclusion`], [`verify_consistency`],
//! [`ProofError`], and [`MemoryTree`], every node in memory); batch proofs for a set of leaves
//! ([`batch_proof`], [`verify_batch`]); [`tile`] (C2SP tlog-tiles coordinates and paths, tiles
//! as subtrees, and integration: [`tile::RightEdge`], [`tile::open_tiles`], tile blobs); [`note`]
//! (C2SP signed notes with Ed25519, checkpoints).

mod batch;
pub mod note;
mod proof;
pub mod tile;

pub use batch::{batch_proof, verify_batch};
pub use proof::{
    consistency_proof, inclusion_proof, range_hash, root, verify_consistency, verify_inclusion,
    MemoryTree, NodeSource, ProofError, EMPTY_ROOT,
};
use sha2::{Digest, Sha256};

/// A SHA-256 digest as used for leaves and interior nodes of the tree.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Hash(pub [u8; 32]);

impl Hash {
    /// Lowercase hex, the form used in receipts.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parses 64 lowercase or uppercase hex digits.
    pub fn from_hex(s: &str) -> Option<Hash> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out).ok()?;
        Some(Hash(out))
    }
}

impl std::fmt::Debug for Hash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Hash({})", self.to_hex())
    }
}

/// `SHA-256(0x00 || entry)`: the RFC 6962 hash of a leaf (domain-separated from interior nodes).
pub fn leaf_hash(entry: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(entry);
    Hash(h.finalize().into())
}

/// `SHA-256(0x01 || left || right)`: the RFC 6962 hash of an interior node.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left.0);
    h.update(right.0);
    Hash(h.finalize().into())
}

#[cfg(test)]
mod tests {
    use super::*;

    // Known answers: the RFC 6962 hash of the empty leaf is the well-known
    // 6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d.
    #[test]
    fn empty_leaf_known_answer() {
        assert_eq!(
            leaf_hash(b"").to_hex(),
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
        );
    }

    #[test]
    fn leaf_and_node_are_domain_separated() {
        let a = leaf_hash(b"a");
        let b = leaf_hash(b"b");
        let mut concat = Vec::new();
        concat.extend_from_slice(&a.0);
        concat.extend_from_slice(&b.0);
        // A node must never collide with a leaf whose bytes are the two children.
        assert_ne!(node_hash(&a, &b), leaf_hash(&concat));
    }

    #[test]
    fn hex_round_trip() {
        let h = leaf_hash(b"sealbook");
        assert_eq!(Hash::from_hex(&h.to_hex()), Some(h));
        assert_eq!(Hash::from_hex("zz"), None);
    }
}
