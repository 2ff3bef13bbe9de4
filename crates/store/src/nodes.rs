//! Perfect-subtree hashes read from stored tiles, for generating proofs over any backend.
//!
//! A backend serves tiles asynchronously while the log math is synchronous. [`TileNodes`] bridges
//! the two: it answers from the tiles it holds and names the first tile it lacks, so a caller
//! fetches that tile and tries again. A proof touches a handful of tiles, so this converges in a
//! few rounds, and callers can keep full tiles (which never change) across requests.

use sealbook_logmath::tile::{TileTree, TILE_HEIGHT, TILE_WIDTH};
use sealbook_logmath::{Hash, NodeSource};
use std::collections::HashMap;
use std::sync::Arc;

/// The tile a computation needs and does not have, or has with too few entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("tile {level}/{number} with at least {entries} entries is needed")]
pub struct MissingTile {
    /// Tile level.
    pub level: u32,
    /// Tile number.
    pub number: u64,
    /// How many entries of it the computation needs.
    pub entries: usize,
}

/// A set of tiles of one tree, as a [`NodeSource`]. Entries of a tile never change once written,
/// so a tile fetched at any time answers for every tree size it covers.
#[derive(Debug, Default, Clone)]
pub struct TileNodes {
    tiles: HashMap<(u32, u64), Arc<TileTree>>,
}

impl TileNodes {
    /// Adds (or replaces with a wider version) one tile, with its inner subtrees hashed.
    pub fn insert(&mut self, level: u32, number: u64, tile: Arc<TileTree>) {
        self.tiles.insert((level, number), tile);
    }
}

impl NodeSource for TileNodes {
    type Error = MissingTile;
    fn node(&self, level: u32, index: u64) -> Result<Hash, MissingTile> {
        let tile_level = level / TILE_HEIGHT;
        let above = level % TILE_HEIGHT;
        let first = index << above;
        let number = first / TILE_WIDTH;
        let offset = (first % TILE_WIDTH) as usize;
        let need = offset + (1usize << above);
        let missing = MissingTile {
            level: tile_level,
            number,
            entries: need,
        };
        let tile = self.tiles.get(&(tile_level, number)).ok_or(missing)?;
        tile.node(offset, above).ok_or(missing)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sealbook_logmath::tile::RightEdge;
    use sealbook_logmath::{inclusion_proof, leaf_hash, root, MemoryTree};

    /// Proofs from tiles, fetched on demand, equal proofs from the full tree, at every size.
    #[test]
    fn proofs_from_tiles_match_the_tree() {
        let leaves: Vec<Hash> = (0u32..70_000)
            .map(|i| leaf_hash(&i.to_be_bytes()))
            .collect();
        let mut edge = RightEdge::default();
        let mut stored: HashMap<(u32, u64), Arc<TileTree>> = HashMap::new();
        for chunk in leaves.chunks(977) {
            for (t, c) in edge.append(chunk).tiles {
                stored.insert((t.level, t.number), Arc::new(TileTree::new(c)));
            }
        }
        let tree = MemoryTree::from_leaves(leaves.clone());
        let mut nodes = TileNodes::default();
        for (size, index) in [
            (1u64, 0u64),
            (256, 255),
            (257, 256),
            (65_537, 3),
            (70_000, 69_999),
        ] {
            let proof = loop {
                match inclusion_proof(&nodes, index, size) {
                    Ok(p) => break p.unwrap(),
                    Err(m) => nodes.insert(m.level, m.number, stored[&(m.level, m.number)].clone()),
                }
            };
            assert_eq!(proof, inclusion_proof(&tree, index, size).unwrap().unwrap());
            let r = loop {
                match root(&nodes, size) {
                    Ok(r) => break r,
                    Err(m) => nodes.insert(m.level, m.number, stored[&(m.level, m.number)].clone()),
                }
            };
            assert_eq!(r, root(&tree, size).unwrap());
        }
        // A tile narrower than needed is reported, not misread.
        let mut short = TileNodes::default();
        short.insert(0, 0, Arc::new(TileTree::new(leaves[..10].to_vec())));
        assert_eq!(
            short.node(0, 10),
            Err(MissingTile {
                level: 0,
                number: 0,
                entries: 11
            })
        );
    }
}
