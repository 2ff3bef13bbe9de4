//! Batch proofs: one proof that a *set* of leaves is in a tree, for verifiable exports.
//!
//! Per-leaf RFC 9162 inclusion proofs repeat the same upper hashes for every leaf; an export of
//! 100,000 events would carry gigabytes of them. A batch proof walks the RFC 6962 recursion once:
//! every maximal subtree that holds none of the set's leaves contributes its MTH, left to right;
//! subtrees that hold set leaves are recomputed by the verifier. For a contiguous run of leaves
//! that is O(log n) hashes in all; in the worst case it is the union of the inclusion proofs.
//!
//! The hashes are ordinary RFC 6962 subtree hashes, so anyone holding the leaves, the indexes and
//! the tree size can check the proof with the recursion described here and nothing else.

use crate::proof::{range_hash, split, NodeSource, ProofError};
use crate::{node_hash, Hash};

/// The batch proof for the leaves at `indexes` (strictly increasing, each below `size`) in the tree
/// of `size` leaves.
pub fn batch_proof<S: NodeSource>(
    src: &S,
    indexes: &[u64],
    size: u64,
) -> Result<Result<Vec<Hash>, ProofError>, S::Error> {
    if size == 0 {
        return Ok(Err(ProofError::Range("the empty tree has no leaves")));
    }
    if indexes.windows(2).any(|w| w[0] >= w[1]) || indexes.last().is_some_and(|i| *i >= size) {
        return Ok(Err(ProofError::Range(
            "indexes must increase strictly and stay below size",
        )));
    }
    let mut out = Vec::new();
    walk(src, indexes, 0, size, &mut out)?;
    Ok(Ok(out))
}

fn walk<S: NodeSource>(
    src: &S,
    indexes: &[u64],
    lo: u64,
    hi: u64,
    out: &mut Vec<Hash>,
) -> Result<(), S::Error> {
    if indexes.is_empty() {
        out.push(range_hash(src, lo, hi)?);
        return Ok(());
    }
    if hi - lo == 1 {
        return Ok(());
    }
    let mid = lo + split(hi - lo);
    let cut = indexes.partition_point(|i| *i < mid);
    walk(src, &indexes[..cut], lo, mid, out)?;
    walk(src, &indexes[cut..], mid, hi, out)
}

/// Verifies a batch proof: `leaves` are (index, leaf hash) pairs with strictly increasing indexes.
pub fn verify_batch(
    leaves: &[(u64, Hash)],
    size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    if size == 0 {
        return Err(ProofError::Range("the empty tree has no leaves"));
    }
    if leaves.windows(2).any(|w| w[0].0 >= w[1].0) || leaves.last().is_some_and(|l| l.0 >= size) {
        return Err(ProofError::Range(
            "indexes must increase strictly and stay below size",
        ));
    }
    let mut rest = proof.iter();
    let computed = rebuild(leaves, 0, size, &mut rest)?;
    if rest.next().is_some() {
        return Err(ProofError::Length);
    }
    if computed != *root {
        return Err(ProofError::Mismatch);
    }
    Ok(())
}

fn rebuild<'a>(
    leaves: &[(u64, Hash)],
    lo: u64,
    hi: u64,
    proof: &mut impl Iterator<Item = &'a Hash>,
) -> Result<Hash, ProofError> {
    if leaves.is_empty() {
        return proof.next().copied().ok_or(ProofError::Length);
    }
    if hi - lo == 1 {
        return Ok(leaves[0].1);
    }
    let mid = lo + split(hi - lo);
    let cut = leaves.partition_point(|l| l.0 < mid);
    let left = rebuild(&leaves[..cut], lo, mid, proof)?;
    let right = rebuild(&leaves[cut..], mid, hi, proof)?;
    Ok(node_hash(&left, &right))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::leaf_hash;
    use crate::proof::{inclusion_proof, root, MemoryTree};
    use proptest::prelude::*;

    fn tree(n: u64) -> MemoryTree {
        MemoryTree::from_leaves((0..n).map(|i| leaf_hash(&i.to_be_bytes())).collect())
    }

    fn pick(n: u64, mask: &[bool]) -> Vec<u64> {
        (0..n).filter(|i| mask[*i as usize % mask.len()]).collect()
    }

    #[test]
    fn every_subset_shape_up_to_40_leaves() {
        for n in 1..=40u64 {
            let t = tree(n);
            let r = root(&t, n).unwrap();
            for mask in [
                vec![true],
                vec![false],
                vec![true, false],
                vec![false, false, true],
                vec![true, true, false, false, false],
            ] {
                let idx = pick(n, &mask);
                let proof = batch_proof(&t, &idx, n).unwrap().unwrap();
                let leaves: Vec<(u64, Hash)> =
                    idx.iter().map(|i| (*i, t.leaf(*i).unwrap())).collect();
                verify_batch(&leaves, n, &proof, &r).unwrap();
                // One leaf: the batch proof is the inclusion proof's hashes (in another order).
                if idx.len() == 1 {
                    let mut a = proof.clone();
                    let mut b = inclusion_proof(&t, idx[0], n).unwrap().unwrap();
                    a.sort();
                    b.sort();
                    assert_eq!(a, b);
                }
            }
        }
    }

    #[test]
    fn a_contiguous_run_costs_logarithmic_hashes() {
        let n = 1_000_000u64;
        let t = tree(n);
        let idx: Vec<u64> = (400_000..500_000).collect();
        let proof = batch_proof(&t, &idx, n).unwrap().unwrap();
        assert!(proof.len() <= 2 * 20, "{} hashes", proof.len());
    }

    proptest! {
        #[test]
        fn random_sets_verify_and_any_flip_is_rejected(
            n in 1u64..3000,
            picks in proptest::collection::vec(any::<u64>(), 0..30),
            flip in any::<u64>(),
        ) {
            let t = tree(n);
            let r = root(&t, n).unwrap();
            let mut idx: Vec<u64> = picks.iter().map(|p| p % n).collect();
            idx.sort_unstable();
            idx.dedup();
            let proof = batch_proof(&t, &idx, n).unwrap().unwrap();
            let leaves: Vec<(u64, Hash)> = idx.iter().map(|i| (*i, t.leaf(*i).unwrap())).collect();
            prop_assert!(verify_batch(&leaves, n, &proof, &r).is_ok());
            // Flip one bit of the proof, of a leaf, or of the root: rejected.
            let bit = (flip % 256) as usize;
            if !proof.is_empty() {
                let mut p = proof.clone();
                let k = (flip / 256) as usize % p.len();
                p[k].0[bit / 8] ^= 1 << (bit % 8);
                prop_assert!(verify_batch(&leaves, n, &p, &r).is_err());
            }
            if !leaves.is_empty() {
                let mut l = leaves.clone();
                let k = (flip / 256) as usize % l.len();
                l[k].1 .0[bit / 8] ^= 1 << (bit % 8);
                prop_assert!(verify_batch(&l, n, &proof, &r).is_err());
                // A leaf claimed at another index: rejected unless the tree could not tell.
                let mut moved = leaves.clone();
                let k = (flip / 256) as usize % moved.len();
                let target = (moved[k].0 + 1) % n;
                if !idx.contains(&target) && t.leaf(target) != Some(moved[k].1) {
                    moved[k].0 = target;
                    moved.sort_by_key(|l| l.0);
                    prop_assert!(verify_batch(&moved, n, &proof, &r).is_err());
                }
            }
            let mut bad_root = r;
            bad_root.0[bit / 8] ^= 1 << (bit % 8);
            prop_assert!(verify_batch(&leaves, n, &proof, &bad_root).is_err());
            // Dropping or adding a hash changes the length: rejected.
            let mut longer = proof.clone();
            longer.push(r);
            prop_assert!(verify_batch(&leaves, n, &longer, &r).is_err());
        }
    }
}
