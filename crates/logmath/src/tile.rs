//! C2SP tlog-tiles: tile coordinates, their URL paths, which tiles a tree of a given size has,
//! reading perfect-subtree hashes out of tiles, and integration: growing a tree by its right edge
//! ([`RightEdge`]) from the stored blobs of its open tiles ([`open_tiles`], [`tile_hashes`],
//! [`tile_blob`], [`BlobError`]).
//!
//! A tile at tile-level `L`, number `N`, holds up to 256 hashes: entry `i` is the hash of the
//! perfect subtree of `256^L` leaves starting at leaf `(N*256 + i) * 256^L`, i.e. the tree node at
//! level `8L`, index `N*256 + i`. Nodes between tile levels are hashed from a tile's entries.

use crate::{node_hash, Hash};

/// Hashes per full tile.
pub const TILE_WIDTH: u64 = 256;
/// Tree levels spanned by one tile level.
pub const TILE_HEIGHT: u32 = 8;

/// One tile: its tile-level, number and width (256 when full).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tile {
    /// Tile level, 0 for leaf hashes.
    pub level: u32,
    /// Tile number within its level.
    pub number: u64,
    /// Number of hashes in it, 1..=256.
    pub width: u32,
}

impl Tile {
    /// True when the tile holds all 256 hashes (and is therefore immutable).
    pub fn is_full(&self) -> bool {
        u64::from(self.width) == TILE_WIDTH
    }

    /// The path below the log prefix: `tile/<L>/<N>[.p/<W>]`.
    pub fn path(&self) -> String {
        format!("tile/{}/{}", self.level, self.suffix())
    }

    /// The entry-bundle path of a level-0 tile: `tile/entries/<N>[.p/<W>]`.
    pub fn entries_path(&self) -> String {
        format!("tile/entries/{}", self.suffix())
    }

    fn suffix(&self) -> String {
        let mut s = encode_number(self.number);
        if !self.is_full() {
            s.push_str(&format!(".p/{}", self.width));
        }
        s
    }
}

/// `N` in zero-padded 3-digit groups, all but the last prefixed with `x`: 1234067 → `x001/x234/067`.
pub fn encode_number(n: u64) -> String {
    let mut groups = vec![format!("{:03}", n % 1000)];
    let mut rest = n / 1000;
    while rest > 0 {
        groups.push(format!("x{:03}", rest % 1000));
        rest /= 1000;
    }
    groups.reverse();
    groups.join("/")
}

/// Why a tile path is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a tile path: {0}")]
pub struct TilePathError(pub &'static str);

/// Parses `<N>[.p/<W>]` (the part after `tile/<L>/` or `tile/entries/`) into number and width.
/// Strict: exactly the encoding [`encode_number`] produces, so one tile has one path.
pub fn parse_number_and_width(s: &str) -> Result<(u64, u32), TilePathError> {
    let (num, width) = match s.split_once(".p/") {
        Some((n, w)) => {
            let w = parse_digits(w, 3)
                .filter(|w| (1..=255).contains(w))
                .ok_or(TilePathError("width must be 1..255 without leading zeros"))?;
            (n, w)
        }
        None => (s, TILE_WIDTH as u32),
    };
    let groups: Vec<&str> = num.split('/').collect();
    let mut n: u64 = 0;
    for (i, g) in groups.iter().enumerate() {
        let last = i + 1 == groups.len();
        let digits = if last {
            *g
        } else {
            g.strip_prefix('x')
                .ok_or(TilePathError("groups before the last start with x"))?
        };
        if digits.len() != 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(TilePathError("each group has exactly three digits"));
        }
        n = n
            .checked_mul(1000)
            .and_then(|n| n.checked_add(digits.parse::<u64>().ok()?))
            .ok_or(TilePathError("number too large"))?;
    }
    if groups.len() > 1 && groups[0] == "x000" {
        return Err(TilePathError("no leading zero groups"));
    }
    Ok((n, width))
}

fn parse_digits(s: &str, max_len: usize) -> Option<u32> {
    if s.is_empty()
        || s.len() > max_len
        || !s.bytes().all(|b| b.is_ascii_digit())
        || (s.len() > 1 && s.starts_with('0'))
    {
        return None;
    }
    s.parse().ok()
}

/// Number of nodes at tile-level `level` (tree level `8*level`) in a tree of `size` leaves.
fn nodes_at(level: u32, size: u64) -> u64 {
    let shift = u64::from(TILE_HEIGHT * level);
    if shift >= 64 {
        0
    } else {
        size >> shift
    }
}

/// Every tile a tree of `size` leaves has, full ones and the partial one per level (if any).
pub fn tiles_for_size(size: u64) -> Vec<Tile> {
    let mut out = Vec::new();
    let mut level = 0;
    loop {
        let nodes = nodes_at(level, size);
        if nodes == 0 {
            break;
        }
        for number in 0..nodes / TILE_WIDTH {
            out.push(Tile {
                level,
                number,
                width: TILE_WIDTH as u32,
            });
        }
        let partial = (nodes % TILE_WIDTH) as u32;
        if partial > 0 {
            out.push(Tile {
                level,
                number: nodes / TILE_WIDTH,
                width: partial,
            });
        }
        level += 1;
    }
    out
}

/// The open (partial) tile of each tile level of a tree of `size` leaves, lowest level first: the
/// tiles whose content [`RightEdge::from_blobs`] needs. A level whose nodes fill whole tiles has
/// none. At most one per tile level, so at most 8.
pub fn open_tiles(size: u64) -> Vec<Tile> {
    let mut out = Vec::new();
    let mut level = 0;
    loop {
        let nodes = nodes_at(level, size);
        if nodes == 0 {
            return out;
        }
        let width = (nodes % TILE_WIDTH) as u32;
        if width > 0 {
            out.push(Tile {
                level,
                number: nodes / TILE_WIDTH,
                width,
            });
        }
        level += 1;
    }
}

/// The tile (of a tree with `size` leaves) that holds what is needed for node (`level`, `index`),
/// and the node's position in it: the first entry it covers and how many levels above the tile's
/// entries it sits.
pub fn locate(level: u32, index: u64, size: u64) -> (Tile, u64, u32) {
    let tile_level = level / TILE_HEIGHT;
    let above = level % TILE_HEIGHT;
    let first_entry = index << above;
    let number = first_entry / TILE_WIDTH;
    let nodes = nodes_at(tile_level, size);
    let width = (nodes - number * TILE_WIDTH).min(TILE_WIDTH) as u32;
    (
        Tile {
            level: tile_level,
            number,
            width,
        },
        first_entry % TILE_WIDTH,
        above,
    )
}

/// The hash of the perfect subtree of `2^above` entries starting at entry `first` of a tile.
pub fn hash_in_tile(entries: &[Hash], first: usize, above: u32) -> Option<Hash> {
    let n = 1usize << above;
    let mut level: Vec<Hash> = entries.get(first..first + n)?.to_vec();
    while level.len() > 1 {
        level = level
            .chunks_exact(2)
            .map(|p| node_hash(&p[0], &p[1]))
            .collect();
    }
    level.first().copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn number_encoding_known_answers() {
        assert_eq!(encode_number(1234067), "x001/x234/067");
        assert_eq!(encode_number(5), "005");
        assert_eq!(encode_number(1000), "x001/000");
        assert_eq!(
            Tile {
                level: 0,
                number: 5,
                width: 12
            }
            .path(),
            "tile/0/005.p/12"
        );
        assert_eq!(
            Tile {
                level: 2,
                number: 1234067,
                width: 256
            }
            .path(),
            "tile/2/x001/x234/067"
        );
        assert_eq!(
            Tile {
                level: 0,
                number: 7,
                width: 256
            }
            .entries_path(),
            "tile/entries/007"
        );
    }

    #[test]
    fn parsing_is_strict_and_round_trips() {
        for n in [0u64, 5, 999, 1000, 1234067, u64::MAX / 1000] {
            for w in [1u32, 17, 255, 256] {
                let t = Tile {
                    level: 0,
                    number: n,
                    width: w,
                };
                let suffix = t.path().trim_start_matches("tile/0/").to_owned();
                assert_eq!(parse_number_and_width(&suffix), Ok((n, w)), "{suffix}");
            }
        }
        for bad in [
            "5",
            "05",
            "0005",
            "x001",
            "001/005",
            "x000/005",
            "005.p/0",
            "005.p/256",
            "005.p/012",
            "005.p/",
            "abc",
            "",
            "005.p/1/2",
            "-01",
        ] {
            assert!(parse_number_and_width(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn tiles_of_70000_leaves() {
        // The spec's example: 273 full level-0 tiles and a partial of 112; one full level-1 tile
        // and a partial of 17; a level-2 partial of 1.
        let t = tiles_for_size(70_000);
        let at = |l: u32| t.iter().filter(move |x| x.level == l).collect::<Vec<_>>();
        assert_eq!(at(0).iter().filter(|x| x.is_full()).count(), 273);
        assert_eq!(at(0).last().unwrap().width, 112);
        assert_eq!(at(1).iter().filter(|x| x.is_full()).count(), 1);
        assert_eq!(at(1).last().unwrap().width, 17);
        assert_eq!(
            at(2),
            vec![&Tile {
                level: 2,
                number: 0,
                width: 1
            }]
        );
        assert!(at(3).is_empty());
    }

    /// Proofs computed from tiles alone equal proofs computed from every node of the tree.
    #[test]
    fn proofs_from_tiles_match_proofs_from_all_nodes() {
        use crate::{consistency_proof, inclusion_proof, leaf_hash, root, NodeSource};
        let size = 70_000u64;
        let all = crate::MemoryTree::from_leaves(
            (0..size).map(|i| leaf_hash(&i.to_be_bytes())).collect(),
        );
        let tiles: std::collections::HashMap<Tile, Vec<Hash>> = tiles_for_size(size)
            .into_iter()
            .map(|t| {
                let content = (0..u64::from(t.width))
                    .map(|i| {
                        all.node(t.level * TILE_HEIGHT, t.number * TILE_WIDTH + i)
                            .unwrap()
                    })
                    .collect();
                (t, content)
            })
            .collect();
        struct Tiles<'a>(&'a std::collections::HashMap<Tile, Vec<Hash>>, u64);
        impl NodeSource for Tiles<'_> {
            type Error = ();
            fn node(&self, level: u32, index: u64) -> Result<Hash, ()> {
                let (tile, first, above) = locate(level, index, self.1);
                hash_in_tile(self.0.get(&tile).ok_or(())?, first as usize, above).ok_or(())
            }
        }
        let from_tiles = Tiles(&tiles, size);
        assert_eq!(root(&from_tiles, size).unwrap(), root(&all, size).unwrap());
        for (m, n) in [(0, size), (69_999, size), (12_345, 65_537), (300, 301)] {
            let ts = Tiles(&tiles, size);
            assert_eq!(
                inclusion_proof(&ts, m, n).unwrap(),
                inclusion_proof(&all, m, n).unwrap(),
                "{m} {n}"
            );
        }
        for (m, n) in [(1, size), (65_536, size), (256, 70_000), (4_095, 66_000)] {
            assert_eq!(
                consistency_proof(&from_tiles, m, n).unwrap(),
                consistency_proof(&all, m, n).unwrap(),
                "{m} {n}"
            );
        }
    }

    #[test]
    fn locate_nodes() {
        assert_eq!(
            locate(0, 300, 70_000),
            (
                Tile {
                    level: 0,
                    number: 1,
                    width: 256
                },
                44,
                0
            )
        );
        assert_eq!(
            locate(3, 40, 70_000),
            (
                Tile {
                    level: 0,
                    number: 1,
                    width: 256
                },
                64,
                3
            )
        );
        assert_eq!(
            locate(8, 1, 70_000),
            (
                Tile {
                    level: 1,
                    number: 0,
                    width: 256
                },
                1,
                0
            )
        );
        assert_eq!(
            locate(0, 69_999, 70_000),
            (
                Tile {
                    level: 0,
                    number: 273,
                    width: 112
                },
                111,
                0
            )
        );
    }
}

/// A tile with every perfect subtree inside it hashed once: `levels[k][j]` is the hash of entries
/// `[j * 2^k, (j + 1) * 2^k)`. A full tile costs 255 node hashes to build, after which any node it
/// covers is a lookup; proof servers keep these instead of rehashing tile entries per request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TileTree {
    levels: Vec<Vec<Hash>>,
}

impl TileTree {
    /// Builds the subtree levels of a tile's entries (at most 256).
    pub fn new(entries: Vec<Hash>) -> TileTree {
        let mut levels = vec![entries];
        while levels.last().is_some_and(|l| l.len() > 1) {
            let next: Vec<Hash> = levels
                .last()
                .expect("non-empty")
                .chunks_exact(2)
                .map(|p| node_hash(&p[0], &p[1]))
                .collect();
            levels.push(next);
        }
        TileTree { levels }
    }

    /// The tile's entries.
    pub fn entries(&self) -> &[Hash] {
        &self.levels[0]
    }

    /// The hash of the perfect subtree of `2^above` entries starting at entry `first` (which must
    /// be a multiple of `2^above`), if the tile holds all of them.
    pub fn node(&self, first: usize, above: u32) -> Option<Hash> {
        if !first.is_multiple_of(1usize << above) {
            return None;
        }
        self.levels
            .get(above as usize)?
            .get(first >> above)
            .copied()
    }
}

/// The right edge of a tree, as tiles: the open (not yet full) tile at each tile level. That is
/// all integration and the root of the current size need; full tiles never change again.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RightEdge {
    size: u64,
    /// `open[L]` holds the entries of the last, partial tile at tile level `L` (possibly empty).
    open: Vec<Vec<Hash>>,
}

/// What appending leaves changed: every tile whose content is new (full tiles completed by this
/// append, and the open tile of each level that moved), plus the new size and root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Integration {
    /// Tiles to store, each with its full content.
    pub tiles: Vec<(Tile, Vec<Hash>)>,
    /// The new tree size.
    pub size: u64,
    /// The root of the new tree.
    pub root: Hash,
}

/// A tile's content was inconsistent with the tree size it was said to belong to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("right-edge tiles do not match a tree of size {0}")]
pub struct EdgeError(pub u64);

/// Why stored tile blobs (a tile's hashes, concatenated) cannot be what they must be.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlobError {
    /// The blob is not a whole number of 32-byte hashes, or holds more than a full tile.
    #[error("tile {level}/{number} is {len} bytes, not at most 256 whole 32-byte hashes")]
    Length {
        /// Tile level.
        level: u32,
        /// Tile number.
        number: u64,
        /// The blob's length in bytes.
        len: usize,
    },
    /// An open tile of the tree is not stored.
    #[error("tile {}/{} is missing; a tree of {size} leaves has {} hashes there", .tile.level, .tile.number, .tile.width)]
    Missing {
        /// The tile, as wide as the tree size implies.
        tile: Tile,
        /// The tree size.
        size: u64,
    },
    /// An open tile holds a different number of hashes than the tree size implies.
    #[error("tile {}/{} holds {found} hashes; a tree of {size} leaves has {} there", .tile.level, .tile.number, .tile.width)]
    Width {
        /// The tile, as wide as the tree size implies.
        tile: Tile,
        /// The tree size.
        size: u64,
        /// How many hashes the blob holds.
        found: usize,
    },
    /// Not one blob per open tile of the tree.
    #[error("{found} blobs for the {expected} open tiles of a tree of {size} leaves")]
    Count {
        /// The tree size.
        size: u64,
        /// The number of open tiles ([`open_tiles`]).
        expected: usize,
        /// The number of blobs given.
        found: usize,
    },
}

impl BlobError {
    /// The tile at fault as (level, number), if one is.
    pub fn tile(&self) -> Option<(u32, u64)> {
        match self {
            BlobError::Length { level, number, .. } => Some((*level, *number)),
            BlobError::Missing { tile, .. } | BlobError::Width { tile, .. } => {
                Some((tile.level, tile.number))
            }
            BlobError::Count { .. } => None,
        }
    }
}

/// The hashes of the stored blob of tile `level`/`number`: at most 256 whole 32-byte hashes.
pub fn tile_hashes(level: u32, number: u64, blob: &[u8]) -> Result<Vec<Hash>, BlobError> {
    if !blob.len().is_multiple_of(32) || blob.len() > 32 * TILE_WIDTH as usize {
        return Err(BlobError::Length {
            level,
            number,
            len: blob.len(),
        });
    }
    Ok(blob
        .chunks_exact(32)
        .map(|c| Hash(c.try_into().expect("chunks of 32 bytes")))
        .collect())
}

/// A tile's hashes as stored: concatenated, the inverse of [`tile_hashes`].
pub fn tile_blob(hashes: &[Hash]) -> Vec<u8> {
    hashes.iter().flat_map(|h| h.0).collect()
}

impl RightEdge {
    /// The right edge of a tree of `size` leaves from its open tiles (`open[L]` = content of the
    /// last tile at level `L` if it is partial, empty if the level ends on a full tile).
    pub fn new(size: u64, open: Vec<Vec<Hash>>) -> Result<RightEdge, EdgeError> {
        let mut level = 0u32;
        let mut open = open;
        loop {
            let nodes = nodes_at(level, size);
            let want = (nodes % TILE_WIDTH) as usize;
            let have = open.get(level as usize).map_or(0, Vec::len);
            if have != want {
                return Err(EdgeError(size));
            }
            if nodes == 0 {
                break;
            }
            level += 1;
        }
        open.truncate(level as usize);
        Ok(RightEdge { size, open })
    }

    /// The right edge of a tree of `size` leaves from the stored blobs of its open tiles:
    /// `blobs[i]` is the blob of `open_tiles(size)[i]`, `None` where none is stored. Each must
    /// hold exactly as many hashes as the tree size implies; anything else is a [`BlobError`]
    /// naming the tile. This is all a store reads to integrate (see [`RightEdge::append`]).
    pub fn from_blobs<B: AsRef<[u8]>>(
        size: u64,
        blobs: impl IntoIterator<Item = Option<B>>,
    ) -> Result<RightEdge, BlobError> {
        let tiles = open_tiles(size);
        let blobs: Vec<Option<B>> = blobs.into_iter().collect();
        if blobs.len() != tiles.len() {
            return Err(BlobError::Count {
                size,
                expected: tiles.len(),
                found: blobs.len(),
            });
        }
        // One entry per tile level the tree reaches; empty where the level ends on a full tile.
        let levels = (0u32..).take_while(|l| nodes_at(*l, size) > 0).count();
        let mut open = vec![Vec::new(); levels];
        for (tile, blob) in tiles.into_iter().zip(blobs) {
            let blob = blob.ok_or(BlobError::Missing { tile, size })?;
            let hashes = tile_hashes(tile.level, tile.number, blob.as_ref())?;
            if hashes.len() != tile.width as usize {
                return Err(BlobError::Width {
                    tile,
                    size,
                    found: hashes.len(),
                });
            }
            open[tile.level as usize] = hashes;
        }
        Ok(RightEdge { size, open })
    }

    /// The tree size.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends leaf hashes: O(1) amortised per leaf (a full tile costs 255 node hashes once).
    pub fn append(&mut self, leaves: &[Hash]) -> Integration {
        let mut changed: Vec<(Tile, Vec<Hash>)> = Vec::new();
        let mut touched = vec![false; self.open.len()];
        for leaf in leaves {
            let mut level = 0usize;
            let mut entry = *leaf;
            loop {
                if self.open.len() <= level {
                    self.open.push(Vec::new());
                    touched.push(false);
                }
                self.open[level].push(entry);
                touched[level] = true;
                if self.open[level].len() < TILE_WIDTH as usize {
                    break;
                }
                // A tile filled up: store it, and its root becomes an entry one tile level up.
                let full = std::mem::take(&mut self.open[level]);
                let number = (nodes_at(level as u32, self.size + 1) - 1) / TILE_WIDTH;
                entry = hash_in_tile(&full, 0, TILE_HEIGHT).expect("a full tile has 256 entries");
                changed.push((
                    Tile {
                        level: level as u32,
                        number,
                        width: TILE_WIDTH as u32,
                    },
                    full,
                ));
                touched[level] = false;
                level += 1;
            }
            self.size += 1;
        }
        for (level, t) in touched.iter().enumerate() {
            if *t && !self.open[level].is_empty() {
                let width = self.open[level].len() as u32;
                let number = nodes_at(level as u32, self.size) / TILE_WIDTH;
                changed.push((
                    Tile {
                        level: level as u32,
                        number,
                        width,
                    },
                    self.open[level].clone(),
                ));
            }
        }
        let root = self.root();
        Integration {
            tiles: changed,
            size: self.size,
            root,
        }
    }

    /// The root of the current tree.
    pub fn root(&self) -> Hash {
        crate::root(self, self.size).expect("the right edge holds every node the root needs")
    }
}

impl crate::NodeSource for RightEdge {
    type Error = EdgeError;
    fn node(&self, level: u32, index: u64) -> Result<Hash, EdgeError> {
        let (tile, first, above) = locate(level, index, self.size);
        let open = self
            .open
            .get(tile.level as usize)
            .ok_or(EdgeError(self.size))?;
        if tile.is_full() || open.len() != tile.width as usize {
            return Err(EdgeError(self.size));
        }
        hash_in_tile(open, first as usize, above).ok_or(EdgeError(self.size))
    }
}

#[cfg(test)]
mod edge_tests {
    use super::*;
    use crate::{leaf_hash, root, NodeSource};
    use std::collections::HashMap;

    struct Stored(HashMap<Tile, Vec<Hash>>, u64);
    impl NodeSource for Stored {
        type Error = ();
        fn node(&self, level: u32, index: u64) -> Result<Hash, ()> {
            let (tile, first, above) = locate(level, index, self.1);
            hash_in_tile(self.0.get(&tile).ok_or(())?, first as usize, above).ok_or(())
        }
    }

    /// Appending in batches of every awkward size leaves exactly the tiles a tree of that size
    /// has, and roots equal to roots computed from those tiles.
    #[test]
    fn integration_matches_the_tiles_of_the_final_tree() {
        let mut edge = RightEdge::default();
        let mut stored: HashMap<Tile, Vec<Hash>> = HashMap::new();
        let mut i = 0u64;
        for batch in [1usize, 2, 253, 1, 256, 300, 65_536, 1000, 255, 1, 5000] {
            let leaves: Vec<Hash> = (i..i + batch as u64)
                .map(|j| leaf_hash(&j.to_be_bytes()))
                .collect();
            i += batch as u64;
            let out = edge.append(&leaves);
            assert_eq!(out.size, i);
            for (t, content) in out.tiles {
                assert_eq!(content.len(), t.width as usize);
                // Partial tiles are replaced by wider ones; the narrower version goes away.
                stored.retain(|old, _| !(old.level == t.level && old.number == t.number));
                stored.insert(t, content);
            }
            let expected: std::collections::HashSet<Tile> = tiles_for_size(i).into_iter().collect();
            let have: std::collections::HashSet<Tile> = stored.keys().copied().collect();
            assert_eq!(have, expected, "tiles after {i} leaves");
            assert_eq!(out.root, root(&Stored(stored.clone(), i), i).unwrap());
        }
        // Reopening from the open tiles gives the same edge.
        let open: Vec<Vec<Hash>> = (0..4)
            .map(|l| {
                tiles_for_size(i)
                    .into_iter()
                    .filter(|t| t.level == l && !t.is_full())
                    .map(|t| stored[&t].clone())
                    .next()
                    .unwrap_or_default()
            })
            .collect();
        let reopened = RightEdge::new(i, open).unwrap();
        assert_eq!(reopened, edge);
        assert!(RightEdge::new(i + 1, vec![]).is_err());
    }
}

/// Integration from stored blobs: what a store reads ([`open_tiles`]), how it is checked
/// ([`RightEdge::from_blobs`]) and what it writes back ([`RightEdge::append`]).
#[cfg(test)]
mod blob_tests {
    use super::*;
    use crate::leaf_hash;
    use proptest::prelude::*;
    use std::collections::HashMap;

    fn leaves(from: u64, n: u64) -> Vec<Hash> {
        (from..from + n)
            .map(|j| leaf_hash(&j.to_be_bytes()))
            .collect()
    }

    /// The tiles a store keeps after appending `batches` from empty, and the edge it ends with.
    fn stored_after(batches: &[u64]) -> (HashMap<(u32, u64), Vec<u8>>, RightEdge) {
        let mut edge = RightEdge::default();
        let mut stored = HashMap::new();
        for n in batches {
            for (t, content) in edge.append(&leaves(edge.size(), *n)).tiles {
                stored.insert((t.level, t.number), tile_blob(&content));
            }
        }
        (stored, edge)
    }

    fn blobs_of(stored: &HashMap<(u32, u64), Vec<u8>>, size: u64) -> Vec<Option<Vec<u8>>> {
        open_tiles(size)
            .iter()
            .map(|t| stored.get(&(t.level, t.number)).cloned())
            .collect()
    }

    #[test]
    fn open_tiles_known_answers() {
        assert_eq!(open_tiles(0), vec![]);
        assert_eq!(
            open_tiles(256),
            vec![Tile {
                level: 1,
                number: 0,
                width: 1
            }]
        );
        // The spec's 70,000 leaves: a partial tile at each of levels 0, 1 and 2.
        let widths: Vec<(u32, u64, u32)> = open_tiles(70_000)
            .iter()
            .map(|t| (t.level, t.number, t.width))
            .collect();
        assert_eq!(widths, vec![(0, 273, 112), (1, 1, 17), (2, 0, 1)]);
        assert_eq!(
            open_tiles(65_536),
            vec![Tile {
                level: 2,
                number: 0,
                width: 1
            }]
        );
        assert_eq!(open_tiles(u64::MAX).len(), 8);
    }

    #[test]
    fn damaged_blobs_are_named() {
        let (stored, _) = stored_after(&[300]);
        let good = blobs_of(&stored, 300);
        assert_eq!(
            open_tiles(300).len(),
            2,
            "level 0 (44 hashes) and level 1 (1 hash)"
        );
        let mut short = good.clone();
        short[0].as_mut().unwrap().truncate(31);
        assert_eq!(
            RightEdge::from_blobs(300, short),
            Err(BlobError::Length {
                level: 0,
                number: 1,
                len: 31
            })
        );
        let mut narrow = good.clone();
        narrow[0].as_mut().unwrap().truncate(32 * 43);
        let e = RightEdge::from_blobs(300, narrow).unwrap_err();
        assert_eq!(e.tile(), Some((0, 1)));
        assert!(
            matches!(
                e,
                BlobError::Width {
                    found: 43,
                    size: 300,
                    ..
                }
            ),
            "{e}"
        );
        let mut gone = good.clone();
        gone[1] = None;
        let e = RightEdge::from_blobs(300, gone).unwrap_err();
        assert!(
            matches!(
                e,
                BlobError::Missing {
                    tile: Tile {
                        level: 1,
                        number: 0,
                        width: 1
                    },
                    ..
                }
            ),
            "{e}"
        );
        assert_eq!(
            RightEdge::from_blobs(300, good[..1].to_vec()),
            Err(BlobError::Count {
                size: 300,
                expected: 2,
                found: 1
            })
        );
        assert_eq!(
            RightEdge::from_blobs(301, good),
            Err(BlobError::Width {
                tile: Tile {
                    level: 0,
                    number: 1,
                    width: 45
                },
                size: 301,
                found: 44
            }),
            "blobs of another size"
        );
        assert!(
            tile_hashes(0, 0, &[0; 32 * 257]).is_err(),
            "more than a full tile"
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// The open tiles are exactly the partial tiles among all the tiles of the tree.
        #[test]
        fn open_tiles_are_the_partial_tiles(size in 0u64..300_000) {
            let partial: Vec<Tile> = tiles_for_size(size).into_iter().filter(|t| !t.is_full()).collect();
            prop_assert_eq!(open_tiles(size), partial);
        }

        /// Reading the right edge back from what appends stored gives the edge the appends
        /// built, and appending to either gives the same tiles, size and root.
        #[test]
        fn from_blobs_reopens_what_append_stored(
            batches in proptest::collection::vec(prop_oneof![1u64..4, 250u64..260, 1u64..2000], 0..6),
            next in 1u64..600,
        ) {
            let (stored, mut edge) = stored_after(&batches);
            let size = edge.size();
            let mut reopened = RightEdge::from_blobs(size, blobs_of(&stored, size)).unwrap();
            prop_assert_eq!(&reopened, &edge);
            let more = leaves(size, next);
            prop_assert_eq!(reopened.append(&more), edge.append(&more));
        }

        /// A blob is its hashes concatenated, and only whole hashes parse.
        #[test]
        fn blobs_round_trip(n in 0usize..=256, cut in 1usize..32) {
            let hashes = leaves(0, n as u64);
            let blob = tile_blob(&hashes);
            prop_assert_eq!(tile_hashes(3, 9, &blob).unwrap(), hashes);
            if !blob.is_empty() {
                let e = tile_hashes(3, 9, &blob[..blob.len() - cut]).unwrap_err();
                prop_assert_eq!(e.tile(), Some((3, 9)));
            }
        }
    }
}

#[cfg(test)]
mod tile_tree_tests {
    use super::*;
    use crate::leaf_hash;

    /// Every node a tile tree answers equals hashing the entries directly, for every width.
    #[test]
    fn nodes_match_hash_in_tile() {
        for width in [1usize, 2, 3, 128, 129, 255, 256] {
            let entries: Vec<Hash> = (0..width as u32)
                .map(|i| leaf_hash(&i.to_be_bytes()))
                .collect();
            let t = TileTree::new(entries.clone());
            assert_eq!(t.entries(), &entries[..]);
            for above in 0..=8u32 {
                for first in (0..256usize).step_by(1 << above) {
                    assert_eq!(
                        t.node(first, above),
                        hash_in_tile(&entries, first, above),
                        "w{width} a{above} f{first}"
                    );
                }
            }
            assert_eq!(t.node(1, 1), None, "unaligned");
        }
    }
}
