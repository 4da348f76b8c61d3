//! RFC 9162 §2.1 Merkle tree over leaf hashes, with inclusion and consistency proofs.
//!
//! Entries are stored elsewhere; this tree keeps only hashes. Which nodes make up a
//! proof is decided by ct-merkle's index functions, so we do not maintain a second copy
//! of that subtle logic; we only supply the node hashes, computed from perfect subtrees.

use base64::Engine as _;
use ct_merkle::{
    ConsistencyProof, ConsistencyVerifError, RootHash, indices_for_consistency_proof,
    indices_for_inclusion_proof,
};
use sha2::{Digest, Sha256};

/// A SHA-256 digest: a leaf hash, node hash or tree root.
pub type Hash = [u8; 32];

/// Domain separation between leaves and interior nodes (RFC 9162 §2.1.1).
const LEAF_PREFIX: u8 = 0x00;
const NODE_PREFIX: u8 = 0x01;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MerkleError {
    #[error("tree size {size} exceeds the {available} leaves held")]
    SizeTooLarge { size: u64, available: u64 },
    #[error("leaf index {index} is not below tree size {size}")]
    IndexOutOfRange { index: u64, size: u64 },
    #[error("consistency needs 0 < from <= to, got {from} -> {to}")]
    InvalidRange { from: u64, to: u64 },
    #[error(
        "need start <= end <= {size} (the log size) and at most {most} entries, got {start}..{end}"
    )]
    PageOutOfRange {
        start: u64,
        end: u64,
        size: u64,
        most: u64,
    },
    #[error("proof has the wrong number of hashes")]
    ProofLength,
    #[error("proof does not lead to the expected root")]
    RootMismatch,
}

/// Leaf hash of an entry: SHA-256(0x00 ‖ entry).
pub fn leaf_hash(entry: &[u8]) -> Hash {
    Sha256::new()
        .chain_update([LEAF_PREFIX])
        .chain_update(entry)
        .finalize()
        .into()
}

/// Interior node hash: SHA-256(0x01 ‖ left ‖ right).
fn node_hash(left: &Hash, right: &Hash) -> Hash {
    Sha256::new()
        .chain_update([NODE_PREFIX])
        .chain_update(left)
        .chain_update(right)
        .finalize()
        .into()
}

/// MTH of the empty tree: SHA-256 of the empty string.
fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// Append-only Merkle tree holding leaf hashes and every complete perfect subtree.
#[derive(Debug, Clone, Default)]
pub struct MerkleTree {
    /// `levels[l][i]` is the hash of the perfect subtree of 2^l leaves starting at
    /// leaf i·2^l; `levels[0]` are the leaf hashes. Any MTH is a chain of these.
    levels: Vec<Vec<Hash>>,
}

impl MerkleTree {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn from_leaf_hashes(hashes: impl IntoIterator<Item = Hash>) -> Self {
        let mut tree = Self::new();
        for hash in hashes {
            tree.push(hash);
        }
        tree
    }

    /// Appends a leaf hash, completing the perfect subtrees it fills: O(log n).
    pub fn push(&mut self, leaf: Hash) {
        let mut carry = leaf;
        let mut level = 0;
        loop {
            if level == self.levels.len() {
                self.levels.push(Vec::new());
            }
            let Some(row) = self.levels.get_mut(level) else {
                return;
            };
            row.push(carry);
            // An odd count means the new subtree has no sibling yet.
            if row.len() % 2 == 1 {
                return;
            }
            let [.., left, right] = row.as_slice() else {
                return;
            };
            carry = node_hash(left, right);
            level += 1;
        }
    }

    pub fn size(&self) -> u64 {
        self.levels.first().map_or(0, |leaves| leaves.len() as u64)
    }

    pub fn leaf(&self, index: u64) -> Option<Hash> {
        let index = usize::try_from(index).ok()?;
        self.levels.first()?.get(index).copied()
    }

    pub fn root(&self) -> Hash {
        // Cannot fail: the tree's own size is always in range.
        self.root_at(self.size()).unwrap_or_else(|_| empty_root())
    }

    /// Root of the tree as it was at `size` leaves, in O(log n).
    pub fn root_at(&self, size: u64) -> Result<Hash, MerkleError> {
        self.check_size(size)?;
        if size == 0 {
            return Ok(empty_root());
        }
        self.range_hash(0, size).ok_or_else(|| self.too_large(size))
    }

    /// Audit path for leaf `index` in the tree of `size` leaves (RFC 9162 §2.1.3).
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>, MerkleError> {
        self.check_size(size)?;
        if index >= size {
            return Err(MerkleError::IndexOutOfRange { index, size });
        }
        // Validated above, so ct-merkle's preconditions (0 <= index < size) hold.
        self.nodes(indices_for_inclusion_proof(size, index), size)
    }

    /// Proof that the tree of `from` leaves is a prefix of the tree of `to` leaves
    /// (RFC 9162 §2.1.4); empty when `from == to`.
    pub fn consistency_proof(&self, from: u64, to: u64) -> Result<Vec<Hash>, MerkleError> {
        self.check_size(to)?;
        if from == 0 || from > to {
            return Err(MerkleError::InvalidRange { from, to });
        }
        // Validated above, so ct-merkle's preconditions (0 < from <= to) hold.
        self.nodes(indices_for_consistency_proof(from, to - from), to)
    }

    fn check_size(&self, size: u64) -> Result<(), MerkleError> {
        if size > self.size() {
            return Err(self.too_large(size));
        }
        Ok(())
    }

    fn too_large(&self, size: u64) -> MerkleError {
        MerkleError::SizeTooLarge {
            size,
            available: self.size(),
        }
    }

    /// The root this tree would have with `extra` leaves appended, leaving it
    /// unchanged: a writer signs the checkpoint in the same transaction as its
    /// entries, and the tree grows only once that transaction has committed.
    pub fn root_with(&self, extra: &[Hash]) -> Hash {
        // The frontier: the perfect subtrees making up the current size, largest first.
        let size = self.size();
        let mut frontier: Vec<(u32, Hash)> = Vec::new();
        let mut start = 0u64;
        while start < size {
            let width = 1u64 << (size - start).ilog2();
            let level = width.trailing_zeros();
            let stored = usize::try_from(start >> level)
                .ok()
                .and_then(|i| self.levels.get(level as usize)?.get(i));
            if let Some(hash) = stored {
                frontier.push((level, *hash));
            }
            start += width;
        }
        // Appending works like a binary counter: equal-sized neighbours merge.
        for leaf in extra {
            let mut node = (0u32, *leaf);
            while let Some(&(level, left)) = frontier.last() {
                if level != node.0 {
                    break;
                }
                frontier.pop();
                node = (level + 1, node_hash(&left, &node.1));
            }
            frontier.push(node);
        }
        let mut nodes = frontier.into_iter().rev();
        match nodes.next() {
            None => empty_root(),
            Some((_, last)) => nodes.fold(last, |right, (_, left)| node_hash(&left, &right)),
        }
    }

    /// Hashes of ct-merkle nodes in a tree of `size` leaves. In its array layout node
    /// k sits at level l = trailing ones of k and covers leaves
    /// [start, start + 2^l) clipped to `size`, where k = 2·start + 2^l − 1.
    fn nodes(&self, indices: Vec<u64>, size: u64) -> Result<Vec<Hash>, MerkleError> {
        indices
            .into_iter()
            .map(|k| {
                let width = 1u64.checked_shl(k.trailing_ones())?;
                let start = (k - (width - 1)) / 2;
                self.range_hash(start, start.saturating_add(width).min(size))
            })
            .collect::<Option<_>>()
            .ok_or_else(|| self.too_large(size))
    }

    /// MTH(D[start..end]) for a non-empty range. RFC 9162 splits off the largest power
    /// of two below the size, so the result is a right-leaning chain of stored perfect
    /// subtrees. Needs `start` aligned to the first of them, as roots and tree nodes are.
    fn range_hash(&self, mut start: u64, end: u64) -> Option<Hash> {
        let mut chain = Vec::new();
        while start < end {
            let width = 1u64 << (end - start).ilog2();
            if !start.is_multiple_of(width) {
                return None;
            }
            let level = width.trailing_zeros() as usize;
            let index = usize::try_from(start >> level).ok()?;
            chain.push(*self.levels.get(level)?.get(index)?);
            start += width;
        }
        let mut chain = chain.into_iter().rev();
        let last = chain.next()?;
        Some(chain.fold(last, |right, left| node_hash(&left, &right)))
    }
}

/// Checks an audit path with the RFC 9162 §2.1.3.2 algorithm. Written out because
/// ct-merkle only verifies from leaf values, and we hold leaf hashes.
pub fn verify_inclusion(
    leaf: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), MerkleError> {
    if index >= size {
        return Err(MerkleError::IndexOutOfRange { index, size });
    }
    let (mut node, mut last) = (index, size - 1);
    let mut hash = *leaf;
    for sibling in proof {
        if last == 0 {
            return Err(MerkleError::ProofLength);
        }
        if node & 1 == 1 || node == last {
            hash = node_hash(sibling, &hash);
            // A right-edge node without a sibling moves up unchanged.
            while node & 1 == 0 && node != 0 {
                node >>= 1;
                last >>= 1;
            }
        } else {
            hash = node_hash(&hash, sibling);
        }
        node >>= 1;
        last >>= 1;
    }
    if last != 0 {
        return Err(MerkleError::ProofLength);
    }
    if hash != *root {
        return Err(MerkleError::RootMismatch);
    }
    Ok(())
}

/// Checks a consistency proof between two roots (RFC 9162 §2.1.4.2) with ct-merkle,
/// which works from root hashes alone.
pub fn verify_consistency(
    from: u64,
    to: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), MerkleError> {
    if from == 0 || from > to {
        return Err(MerkleError::InvalidRange { from, to });
    }
    let old = RootHash::<Sha256>::new((*old_root).into(), from);
    let new = RootHash::<Sha256>::new((*new_root).into(), to);
    let proof = ConsistencyProof::<Sha256>::from_digests(proof.iter().map(Into::into));
    new.verify_consistency(&old, &proof)
        .map_err(|err| match err {
            ConsistencyVerifError::MalformedProof => MerkleError::ProofLength,
            ConsistencyVerifError::VerificationFailure => MerkleError::RootMismatch,
            _ => MerkleError::InvalidRange { from, to },
        })
}

/// Base64 (standard, padded) as in checkpoints, for hashes in proofs and receipts.
pub fn b64(hash: &Hash) -> String {
    base64::engine::general_purpose::STANDARD.encode(hash)
}

/// Reads a hash written by [`b64`]; `None` unless it is exactly 32 bytes.
pub fn hash_from_b64(text: &str) -> Option<Hash> {
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .ok()
        .and_then(|b| b.try_into().ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ct_merkle::InclusionProof;
    use ct_merkle::mem_backed_tree::MemoryBackedTree;

    type CtTree = MemoryBackedTree<Sha256, Vec<u8>>;
    const N: u64 = 40;

    fn entry(i: u64) -> Vec<u8> {
        vec![i as u8; 3]
    }

    fn flat(proof: &[Hash]) -> Vec<u8> {
        proof.concat()
    }

    fn ct_root(tree: &CtTree) -> Hash {
        (*tree.root().as_bytes()).into()
    }

    /// ct-merkle reference trees of every size 0..=N.
    fn ct_trees() -> Vec<CtTree> {
        let mut tree = CtTree::new();
        let mut all = vec![tree.clone()];
        for i in 0..N {
            tree.push(entry(i));
            all.push(tree.clone());
        }
        all
    }

    /// Checks `tree`'s answers for size `n` against ct-merkle's tree of `n` leaves.
    fn check_against_ct(tree: &MerkleTree, n: u64, ct: &CtTree) {
        let root = tree.root_at(n).unwrap();
        assert_eq!(root, ct_root(ct), "root at {n}");
        for idx in 0..n {
            let proof = tree.inclusion_proof(idx, n).unwrap();
            let ct_proof = ct.prove_inclusion(idx as usize);
            assert_eq!(flat(&proof), ct_proof.as_bytes(), "inclusion {idx} at {n}");
            verify_inclusion(&leaf_hash(&entry(idx)), idx, n, &proof, &root).unwrap();
            ct.root()
                .verify_inclusion(&entry(idx), idx, &InclusionProof::from_bytes(flat(&proof)))
                .unwrap();
        }
        for m in 1..=n {
            let proof = tree.consistency_proof(m, n).unwrap();
            let ct_proof = ct.prove_consistency((n - m) as usize);
            assert_eq!(flat(&proof), ct_proof.as_bytes(), "consistency {m} -> {n}");
            let old_root = tree.root_at(m).unwrap();
            verify_consistency(m, n, &old_root, &root, &proof).unwrap();
            let ct_old = RootHash::<Sha256>::new(old_root.into(), m);
            let ct_proof = ConsistencyProof::try_from_bytes(flat(&proof)).unwrap();
            ct.root().verify_consistency(&ct_old, &ct_proof).unwrap();
        }
    }

    #[test]
    fn matches_ct_merkle_for_every_size() {
        let cts = ct_trees();
        let big = MerkleTree::from_leaf_hashes((0..N).map(|i| leaf_hash(&entry(i))));
        assert_eq!(big.size(), N);
        for (n, ct) in (0..=N).zip(&cts) {
            // A fresh tree of exactly n leaves, and the big tree answering for its past.
            let fresh = MerkleTree::from_leaf_hashes((0..n).map(|i| leaf_hash(&entry(i))));
            assert_eq!(fresh.size(), n);
            assert_eq!(fresh.root(), ct_root(ct));
            assert_eq!(big.root_at(n).unwrap(), fresh.root());
            check_against_ct(&fresh, n, ct);
            check_against_ct(&big, n, ct);
        }
        assert_eq!(big.leaf(3), Some(leaf_hash(&entry(3))));
        assert_eq!(big.leaf(N), None);
    }

    #[test]
    fn empty_tree_root_is_sha256_of_nothing() {
        let empty = hex::decode("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
            .unwrap();
        assert_eq!(MerkleTree::new().root().as_slice(), empty);
        assert_eq!(MerkleTree::new().root_at(0).unwrap().as_slice(), empty);
    }

    #[test]
    fn rfc6962_reference_roots() {
        // Leaves and roots from certificate-transparency-go's merkle tests.
        let leaves: [&[u8]; 8] = [
            b"",
            b"\x00",
            b"\x10",
            b"\x20\x21",
            b"\x30\x31",
            b"\x40\x41\x42\x43",
            b"\x50\x51\x52\x53\x54\x55\x56\x57",
            b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
        ];
        let roots = [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
            "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
            "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
            "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
            "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
        ];
        let tree = MerkleTree::from_leaf_hashes(leaves.iter().map(|l| leaf_hash(l)));
        for (size, root) in (1..).zip(roots) {
            assert_eq!(
                hex::encode(tree.root_at(size).unwrap()),
                root,
                "size {size}"
            );
        }
    }

    #[test]
    fn refuses_out_of_range_requests() {
        let tree = MerkleTree::from_leaf_hashes((0..5).map(|i| leaf_hash(&entry(i))));
        assert!(MerkleTree::new().inclusion_proof(0, 0).is_err());
        assert!(tree.inclusion_proof(5, 5).is_err());
        assert!(tree.inclusion_proof(0, 6).is_err());
        assert!(tree.consistency_proof(0, 5).is_err());
        assert!(tree.consistency_proof(4, 3).is_err());
        assert!(tree.consistency_proof(1, 6).is_err());
        assert!(tree.root_at(6).is_err());
        assert_eq!(tree.consistency_proof(5, 5).unwrap(), Vec::<Hash>::new());
    }

    fn flip(hash: &Hash) -> Hash {
        let mut hash = *hash;
        hash[0] ^= 1;
        hash
    }

    #[test]
    fn rejects_tampered_inclusion() {
        let tree = MerkleTree::from_leaf_hashes((0..13).map(|i| leaf_hash(&entry(i))));
        let (idx, size) = (6, 11);
        let root = tree.root_at(size).unwrap();
        let leaf = leaf_hash(&entry(idx));
        let proof = tree.inclusion_proof(idx, size).unwrap();
        verify_inclusion(&leaf, idx, size, &proof, &root).unwrap();

        for i in 0..proof.len() {
            let mut bad = proof.clone();
            bad[i] = flip(&bad[i]);
            assert!(verify_inclusion(&leaf, idx, size, &bad, &root).is_err());
        }
        assert!(verify_inclusion(&flip(&leaf), idx, size, &proof, &root).is_err());
        assert!(verify_inclusion(&leaf, idx, size, &proof, &flip(&root)).is_err());
        assert!(verify_inclusion(&leaf, idx + 1, size, &proof, &root).is_err());
        // Sizes 11 and 12 share this path's shape, so change the shape.
        assert!(verify_inclusion(&leaf, idx, size * 2, &proof, &root).is_err());
        assert!(verify_inclusion(&leaf, idx, size, &proof[1..], &root).is_err());
        let mut longer = proof.clone();
        longer.push(root);
        assert!(verify_inclusion(&leaf, idx, size, &longer, &root).is_err());
        assert!(verify_inclusion(&leaf, size, size, &proof, &root).is_err());
    }

    #[test]
    fn rejects_tampered_consistency() {
        let tree = MerkleTree::from_leaf_hashes((0..13).map(|i| leaf_hash(&entry(i))));
        let (from, to) = (5, 11);
        let (old, new) = (tree.root_at(from).unwrap(), tree.root_at(to).unwrap());
        let proof = tree.consistency_proof(from, to).unwrap();
        verify_consistency(from, to, &old, &new, &proof).unwrap();

        for i in 0..proof.len() {
            let mut bad = proof.clone();
            bad[i] = flip(&bad[i]);
            assert!(verify_consistency(from, to, &old, &new, &bad).is_err());
        }
        assert!(verify_consistency(from, to, &flip(&old), &new, &proof).is_err());
        assert!(verify_consistency(from, to, &old, &flip(&new), &proof).is_err());
        assert!(verify_consistency(from, to, &new, &old, &proof).is_err());
        assert!(verify_consistency(from + 1, to, &old, &new, &proof).is_err());
        assert!(verify_consistency(from, to * 2, &old, &new, &proof).is_err());
        assert!(verify_consistency(from, to, &old, &new, &proof[1..]).is_err());
        assert!(verify_consistency(0, to, &old, &new, &proof).is_err());
        assert!(verify_consistency(to, from, &new, &old, &proof).is_err());
        // Equal sizes need equal roots and an empty proof.
        verify_consistency(to, to, &new, &new, &[]).unwrap();
        assert!(verify_consistency(to, to, &old, &new, &[]).is_err());
        assert!(verify_consistency(to, to, &new, &new, &proof).is_err());
    }

    #[test]
    fn root_with_extra_leaves_equals_the_grown_tree() {
        let leaves: Vec<Hash> = (0u8..40).map(|i| leaf_hash(&[i; 3])).collect();
        for n in 0..30 {
            let tree = MerkleTree::from_leaf_hashes(leaves[..n].iter().copied());
            for k in 0..10 {
                let grown = MerkleTree::from_leaf_hashes(leaves[..n + k].iter().copied());
                assert_eq!(
                    tree.root_with(&leaves[n..n + k]),
                    grown.root(),
                    "n={n} k={k}"
                );
            }
        }
    }
}
