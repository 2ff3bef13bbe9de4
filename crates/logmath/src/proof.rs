//! Merkle tree hashes and proofs of RFC 6962 / RFC 9162 section 2.1: the root of any range,
//! inclusion and consistency proofs generated from stored node hashes, and their verification.
//!
//! Generation never rebuilds a tree. It asks a [`NodeSource`] for the hashes of *perfect*
//! subtrees (2^level leaves starting at a multiple of 2^level), which is exactly what tiles store,
//! and combines them; the right edge of a tree that is not a power of two is computed from them.

use crate::{node_hash, Hash};

/// Where perfect-subtree hashes come from: `node(level, index)` is the hash of leaves
/// `[index * 2^level, (index + 1) * 2^level)`. Level 0 holds leaf hashes.
pub trait NodeSource {
    /// The error of the underlying storage.
    type Error;
    /// One stored hash.
    fn node(&self, level: u32, index: u64) -> Result<Hash, Self::Error>;
}

/// Why a proof cannot be generated or does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// Index or sizes out of range for the tree.
    #[error("out of range: {0}")]
    Range(&'static str),
    /// The proof has the wrong number of hashes.
    #[error("wrong proof length")]
    Length,
    /// The recomputed root differs from the expected one.
    #[error("root mismatch")]
    Mismatch,
}

/// SHA-256 of the empty string: the root of the empty tree.
pub const EMPTY_ROOT: Hash = Hash([
    0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
    0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
]);

/// A whole tree held in memory: every perfect-subtree hash, built once from the leaf hashes.
/// What an offline verifier uses after recomputing every leaf hash, and what tests compare with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryTree(Vec<Vec<Hash>>);

impl MemoryTree {
    /// Builds all levels above `leaves` (2n hashes in all).
    pub fn from_leaves(leaves: Vec<Hash>) -> MemoryTree {
        let mut levels = vec![leaves];
        while levels.last().is_some_and(|l| l.len() > 1) {
            let up = levels
                .last()
                .expect("non-empty")
                .chunks_exact(2)
                .map(|p| node_hash(&p[0], &p[1]))
                .collect();
            levels.push(up);
        }
        MemoryTree(levels)
    }

    /// Number of leaves.
    pub fn size(&self) -> u64 {
        self.0.first().map_or(0, |l| l.len() as u64)
    }

    /// The leaf hash at `index`.
    pub fn leaf(&self, index: u64) -> Option<Hash> {
        self.0.first().and_then(|l| l.get(index as usize)).copied()
    }
}

impl NodeSource for MemoryTree {
    type Error = ProofError;
    fn node(&self, level: u32, index: u64) -> Result<Hash, ProofError> {
        self.0
            .get(level as usize)
            .and_then(|l| l.get(index as usize))
            .copied()
            .ok_or(ProofError::Range("node beyond the tree"))
    }
}

/// The largest power of two strictly smaller than `n` (n ≥ 2).
pub(crate) fn split(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1 << (63 - (n - 1).leading_zeros())
}

/// MTH(D\[lo:hi\]) for a range that RFC 6962 recursion produces (`lo` aligned to the range's split).
pub fn range_hash<S: NodeSource>(src: &S, lo: u64, hi: u64) -> Result<Hash, S::Error> {
    let n = hi - lo;
    if n.is_power_of_two() && lo.is_multiple_of(n) {
        let level = n.trailing_zeros();
        return src.node(level, lo >> level);
    }
    let k = split(n);
    let left = range_hash(src, lo, lo + k)?;
    let right = range_hash(src, lo + k, hi)?;
    Ok(node_hash(&left, &right))
}

/// The root of a tree of `size` leaves.
pub fn root<S: NodeSource>(src: &S, size: u64) -> Result<Hash, S::Error> {
    if size == 0 {
        Ok(EMPTY_ROOT)
    } else {
        range_hash(src, 0, size)
    }
}

/// The inclusion proof of leaf `index` in the tree of `size` leaves (RFC 9162 2.1.3.1).
pub fn inclusion_proof<S: NodeSource>(
    src: &S,
    index: u64,
    size: u64,
) -> Result<Result<Vec<Hash>, ProofError>, S::Error> {
    if index >= size {
        return Ok(Err(ProofError::Range("index must be below size")));
    }
    let mut out = Vec::new();
    path(src, index, 0, size, &mut out)?;
    Ok(Ok(out))
}

fn path<S: NodeSource>(
    src: &S,
    m: u64,
    lo: u64,
    hi: u64,
    out: &mut Vec<Hash>,
) -> Result<(), S::Error> {
    let n = hi - lo;
    if n <= 1 {
        return Ok(());
    }
    let k = split(n);
    if m < k {
        path(src, m, lo, lo + k, out)?;
        out.push(range_hash(src, lo + k, hi)?);
    } else {
        path(src, m - k, lo + k, hi, out)?;
        out.push(range_hash(src, lo, lo + k)?);
    }
    Ok(())
}

/// The consistency proof between trees of `old` and `new` leaves, 0 < old ≤ new (RFC 9162 2.1.4.1).
pub fn consistency_proof<S: NodeSource>(
    src: &S,
    old: u64,
    new: u64,
) -> Result<Result<Vec<Hash>, ProofError>, S::Error> {
    if old == 0 || old > new {
        return Ok(Err(ProofError::Range("need 0 < from <= to")));
    }
    let mut out = Vec::new();
    subproof(src, old, 0, new, true, &mut out)?;
    Ok(Ok(out))
}

fn subproof<S: NodeSource>(
    src: &S,
    m: u64,
    lo: u64,
    hi: u64,
    complete: bool,
    out: &mut Vec<Hash>,
) -> Result<(), S::Error> {
    let n = hi - lo;
    if m == n {
        if !complete {
            out.push(range_hash(src, lo, hi)?);
        }
        return Ok(());
    }
    let k = split(n);
    if m <= k {
        subproof(src, m, lo, lo + k, complete, out)?;
        out.push(range_hash(src, lo + k, hi)?);
    } else {
        subproof(src, m - k, lo + k, hi, false, out)?;
        out.push(range_hash(src, lo, lo + k)?);
    }
    Ok(())
}

/// Verifies an inclusion proof (RFC 9162 2.1.3.2).
pub fn verify_inclusion(
    leaf: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    if index >= size {
        return Err(ProofError::Range("index must be below size"));
    }
    let (mut fn_, mut sn) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if sn == 0 {
            return Err(ProofError::Length);
        }
        if fn_ & 1 == 1 || fn_ == sn {
            r = node_hash(p, &r);
            if fn_ & 1 == 0 {
                while fn_ & 1 == 0 && fn_ != 0 {
                    fn_ >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    if sn != 0 {
        return Err(ProofError::Length);
    }
    if r != *root {
        return Err(ProofError::Mismatch);
    }
    Ok(())
}

/// Verifies a consistency proof between `old_root` of `old` leaves and `new_root` of `new` leaves
/// (RFC 9162 2.1.4.2). Equal sizes need an empty proof and equal roots.
pub fn verify_consistency(
    old: u64,
    new: u64,
    proof: &[Hash],
    old_root: &Hash,
    new_root: &Hash,
) -> Result<(), ProofError> {
    if old == 0 || old > new {
        return Err(ProofError::Range("need 0 < from <= to"));
    }
    if old == new {
        return if !proof.is_empty() {
            Err(ProofError::Length)
        } else if old_root == new_root {
            Ok(())
        } else {
            Err(ProofError::Mismatch)
        };
    }
    if proof.is_empty() {
        return Err(ProofError::Length);
    }
    let mut hashes: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if old.is_power_of_two() {
        hashes.push(*old_root);
    }
    hashes.extend_from_slice(proof);
    let (mut fn_, mut sn) = (old - 1, new - 1);
    while fn_ & 1 == 1 {
        fn_ >>= 1;
        sn >>= 1;
    }
    let (mut fr, mut sr) = (hashes[0], hashes[0]);
    for c in &hashes[1..] {
        if sn == 0 {
            return Err(ProofError::Length);
        }
        if fn_ & 1 == 1 || fn_ == sn {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if fn_ & 1 == 0 {
                while fn_ & 1 == 0 && fn_ != 0 {
                    fn_ >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    if sn != 0 {
        return Err(ProofError::Length);
    }
    if fr != *old_root || sr != *new_root {
        return Err(ProofError::Mismatch);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::leaf_hash;
    use proptest::prelude::*;

    fn memory(n: u64) -> MemoryTree {
        MemoryTree::from_leaves(
            (0..n)
                .map(|i| leaf_hash(format!("leaf {i}").as_bytes()))
                .collect(),
        )
    }

    fn leaves(t: &MemoryTree, n: u64) -> Vec<Hash> {
        (0..n).map(|i| t.leaf(i).unwrap()).collect()
    }

    /// The textbook recursive definitions of RFC 6962 2.1, on leaf hashes, for comparison.
    fn naive_mth(d: &[Hash]) -> Hash {
        match d.len() {
            0 => EMPTY_ROOT,
            1 => d[0],
            n => {
                let k = split(n as u64) as usize;
                node_hash(&naive_mth(&d[..k]), &naive_mth(&d[k..]))
            }
        }
    }
    fn naive_path(m: usize, d: &[Hash]) -> Vec<Hash> {
        if d.len() <= 1 {
            return vec![];
        }
        let k = split(d.len() as u64) as usize;
        if m < k {
            let mut p = naive_path(m, &d[..k]);
            p.push(naive_mth(&d[k..]));
            p
        } else {
            let mut p = naive_path(m - k, &d[k..]);
            p.push(naive_mth(&d[..k]));
            p
        }
    }
    fn naive_subproof(m: usize, d: &[Hash], b: bool) -> Vec<Hash> {
        let n = d.len();
        if m == n {
            return if b { vec![] } else { vec![naive_mth(d)] };
        }
        let k = split(n as u64) as usize;
        if m <= k {
            let mut p = naive_subproof(m, &d[..k], b);
            p.push(naive_mth(&d[k..]));
            p
        } else {
            let mut p = naive_subproof(m - k, &d[k..], false);
            p.push(naive_mth(&d[..k]));
            p
        }
    }

    fn flips(h: &Hash) -> impl Iterator<Item = Hash> + '_ {
        (0..256).map(move |bit| {
            let mut f = *h;
            f.0[bit / 8] ^= 1 << (bit % 8);
            f
        })
    }

    #[test]
    fn rfc9162_seven_leaf_known_answers() {
        let t = memory(7);
        assert_eq!(inclusion_proof(&t, 0, 7).unwrap().unwrap().len(), 3);
        assert_eq!(inclusion_proof(&t, 6, 7).unwrap().unwrap().len(), 2);
        assert_eq!(consistency_proof(&t, 3, 7).unwrap().unwrap().len(), 4);
        assert_eq!(consistency_proof(&t, 4, 7).unwrap().unwrap().len(), 1);
        assert_eq!(
            root(&t, 0).unwrap().to_hex(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn every_size_up_to_70_agrees_with_the_naive_definitions_and_verifies() {
        let t = memory(70);
        for n in 1..=70u64 {
            let all = leaves(&t, n);
            let leaves = &all[..];
            let r = root(&t, n).unwrap();
            assert_eq!(r, naive_mth(leaves), "root {n}");
            for m in 0..n {
                let p = inclusion_proof(&t, m, n).unwrap().unwrap();
                assert_eq!(p, naive_path(m as usize, leaves), "path {m} {n}");
                verify_inclusion(&t.leaf(m).unwrap(), m, n, &p, &r).unwrap();
            }
            for m in 1..=n {
                let p = consistency_proof(&t, m, n).unwrap().unwrap();
                assert_eq!(
                    p,
                    naive_subproof(m as usize, leaves, true),
                    "consistency {m} {n}"
                );
                verify_consistency(m, n, &p, &root(&t, m).unwrap(), &r).unwrap();
            }
        }
    }

    #[test]
    fn every_single_bit_flip_is_rejected() {
        let t = memory(23);
        let (n, m) = (23, 13);
        let r = root(&t, n).unwrap();
        let p = inclusion_proof(&t, m, n).unwrap().unwrap();
        for bad in flips(&t.leaf(m).unwrap()) {
            assert!(verify_inclusion(&bad, m, n, &p, &r).is_err());
        }
        for bad in flips(&r) {
            assert!(verify_inclusion(&t.leaf(m).unwrap(), m, n, &p, &bad).is_err());
        }
        for i in 0..p.len() {
            for bad in flips(&p[i]) {
                let mut q = p.clone();
                q[i] = bad;
                assert!(verify_inclusion(&t.leaf(m).unwrap(), m, n, &q, &r).is_err());
            }
        }
        let old = 9;
        let (or, c) = (
            root(&t, old).unwrap(),
            consistency_proof(&t, old, n).unwrap().unwrap(),
        );
        for i in 0..c.len() {
            for bad in flips(&c[i]) {
                let mut q = c.clone();
                q[i] = bad;
                assert!(verify_consistency(old, n, &q, &or, &r).is_err());
            }
        }
        for bad in flips(&or) {
            assert!(verify_consistency(old, n, &c, &bad, &r).is_err());
        }
        // Wrong index, size or length.
        assert!(verify_inclusion(&t.leaf(m).unwrap(), m + 1, n, &p, &r).is_err());
        // A size that changes the path's shape is caught; the size itself is bound to the root by
        // the signed checkpoint, not by the proof (n + 1 gives this index the same shape).
        assert!(verify_inclusion(&t.leaf(m).unwrap(), m, n - 9, &p, &r).is_err());
        assert!(verify_inclusion(&t.leaf(m).unwrap(), m, n, &p[1..], &r).is_err());
        assert!(verify_consistency(old, n, &c[1..], &or, &r).is_err());
    }

    /// One precomputed tree of 2^20 leaves, shared by the random-size cases.
    fn big() -> &'static MemoryTree {
        static BIG: std::sync::OnceLock<MemoryTree> = std::sync::OnceLock::new();
        BIG.get_or_init(|| memory(1 << 20))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// Random sizes up to 10^6: proofs generated from perfect subtrees verify against the root.
        #[test]
        fn random_large_sizes(n in 2u64..1_000_000, a in any::<u64>(), b in any::<u64>()) {
            let t = big();
            let m = a % n;
            let r = root(t, n).unwrap();
            let p = inclusion_proof(t, m, n).unwrap().unwrap();
            prop_assert!(verify_inclusion(&t.leaf(m).unwrap(), m, n, &p, &r).is_ok());
            let old = 1 + b % n;
            let c = consistency_proof(t, old, n).unwrap().unwrap();
            prop_assert!(verify_consistency(old, n, &c, &root(t, old).unwrap(), &r).is_ok());
        }
    }
}
