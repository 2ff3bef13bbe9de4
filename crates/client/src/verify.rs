//! Verifying a tenant log while trusting nothing but a verifier key.
//!
//! [`verify_log`] fetches the latest signed checkpoint, checks its signature and origin against the
//! caller's verifier keys, then fetches every entry bundle and tile the checkpoint covers and
//! recomputes the whole tree from the event bytes: every leaf hash, every stored tile hash, and
//! the root. Asked to (with an `events:export` key: reading personal values is an audited export),
//! it checks each personal value served beside an event against the salted commitment in its
//! leaf. Given the checkpoint saved by a previous run, it also proves the new tree extends the
//! old one (trust on first use). The first disagreement is reported with the log index it concerns.
//!
//! The server is treated as an adversary throughout: every byte it serves is recomputed or checked
//! against a signature, never believed.

use crate::{Client, ClientError};
use base64::{engine::general_purpose::STANDARD, Engine};
use futures_util::StreamExt;
use sealbook_domain::view::ExportClaims;
use sealbook_domain::{check_commitments, PersonalValue};
use sealbook_logmath::note::{open, Checkpoint, NoteVerifier};
use sealbook_logmath::tile::{RightEdge, Tile, TILE_WIDTH};
use sealbook_logmath::{leaf_hash, verify_consistency, Hash};

/// Where and why verification failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The log index the failure concerns, when one can be named.
    pub index: Option<u64>,
    /// What disagrees.
    pub reason: String,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.index {
            Some(i) => write!(f, "index {i}: {}", self.reason),
            None => f.write_str(&self.reason),
        }
    }
}

/// Why [`verify_log`] did not succeed: the log failed verification, or the check could not run.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The log does not verify.
    #[error("verification failed: {0}")]
    Failed(Failure),
    /// The server could not be asked (network, authentication, unexpected answers).
    #[error(transparent)]
    Client(Box<ClientError>),
    /// The caller's inputs are unusable (verifier keys, saved state).
    #[error("{0}")]
    Usage(String),
}

impl From<ClientError> for VerifyError {
    fn from(e: ClientError) -> VerifyError {
        VerifyError::Client(Box::new(e))
    }
}

fn fail(index: Option<u64>, reason: impl Into<String>) -> VerifyError {
    VerifyError::Failed(Failure {
        index,
        reason: reason.into(),
    })
}

/// What a successful verification established.
#[derive(Debug, Clone)]
pub struct Report {
    /// The verified checkpoint.
    pub checkpoint: Checkpoint,
    /// The signed note, to save as the state for the next run.
    pub note: String,
    /// Events whose bytes were hashed into the recomputed tree.
    pub events: u64,
    /// Personal values checked against their commitments.
    pub personal_values: u64,
    /// The size of the saved checkpoint the new one was proven consistent with.
    pub consistent_with: Option<u64>,
}

/// Opens a signed checkpoint with `verifiers` and checks that it names the log of the key that
/// verified it (the key name is the origin).
pub fn open_checkpoint(note: &str, verifiers: &[NoteVerifier]) -> Result<Checkpoint, Failure> {
    let text = open(note, verifiers).map_err(|e| Failure {
        index: None,
        reason: format!("checkpoint signature: {e}"),
    })?;
    let cp = Checkpoint::parse(text).map_err(|e| Failure {
        index: None,
        reason: format!("checkpoint body: {e}"),
    })?;
    if !verifiers.iter().any(|v| v.name() == cp.origin) {
        return Err(Failure {
            index: None,
            reason: format!(
                "checkpoint origin {:?} is not the name of any given verifier key",
                cp.origin
            ),
        });
    }
    Ok(cp)
}

/// A server answer that itself reports damage counts as a failed verification, not an I/O error.
fn server(index: u64, e: ClientError) -> VerifyError {
    match &e {
        ClientError::Problem { problem, .. }
            if problem.kind == "urn:sealbook:problem:log-integrity" =>
        {
            fail(
                Some(index),
                format!("the server reports damaged log data: {}", problem.detail),
            )
        }
        _ => e.into(),
    }
}

struct Bundle {
    number: u64,
    width: u64,
    entries: bytes::Bytes,
    tile: Result<bytes::Bytes, VerifyError>,
    personal: Option<bytes::Bytes>,
}

fn suffix(t: &Tile) -> String {
    // `tile/entries/<N>[.p/<W>]` minus the prefix.
    t.entries_path()
        .strip_prefix("tile/entries/")
        .expect("entries paths start so")
        .to_owned()
}

async fn fetch(
    client: &Client,
    number: u64,
    size: u64,
    personal: bool,
) -> Result<Bundle, VerifyError> {
    let width = (size - number * TILE_WIDTH).min(TILE_WIDTH);
    let t = Tile {
        level: 0,
        number,
        width: width as u32,
    };
    let first = number * TILE_WIDTH;
    let (entries, tile, personal) = futures_util::try_join!(
        async {
            client
                .log_tile(&t.entries_path())
                .await
                .map_err(|e| server(first, e))
        },
        // A server that cannot serve the tile may still serve the events: keep going so the
        // failure can name the first missing event rather than the bundle.
        async {
            Ok::<_, VerifyError>(
                client
                    .log_tile(&t.path())
                    .await
                    .map_err(|e| server(first, e)),
            )
        },
        async {
            if !personal {
                return Ok(None);
            }
            client
                .log_personal(&suffix(&t))
                .await
                .map(Some)
                .map_err(|e| server(first, e))
        },
    )?;
    Ok(Bundle {
        number,
        width,
        entries,
        tile,
        personal,
    })
}

fn hashes(bytes: &[u8], what: &str, first: u64) -> Result<Vec<Hash>, VerifyError> {
    if !bytes.len().is_multiple_of(32) {
        return Err(fail(
            Some(first),
            format!("{what} is not a whole number of hashes"),
        ));
    }
    Ok(bytes
        .chunks_exact(32)
        .map(|c| Hash(c.try_into().expect("32 bytes")))
        .collect())
}

/// Splits an entry bundle into entries (each prefixed by its big-endian u16 length).
fn entries(bundle: &[u8], first: u64) -> Result<Vec<&[u8]>, VerifyError> {
    let mut out = Vec::with_capacity(TILE_WIDTH as usize);
    let mut rest = bundle;
    while !rest.is_empty() {
        let index = first + out.len() as u64;
        if rest.len() < 2 {
            return Err(fail(Some(index), "entry bundle is truncated"));
        }
        let len = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
        let entry = rest
            .get(2..2 + len)
            .ok_or_else(|| fail(Some(index), "entry bundle is truncated"))?;
        out.push(entry);
        rest = &rest[2 + len..];
    }
    Ok(out)
}

/// Checks one bundle on its own: every entry hashes to the level-0 tile's hash at its index, and
/// every personal value matches its commitment. Returns the leaf hashes and how many personal
/// values were checked.
fn check_bundle(b: Bundle) -> Result<(Vec<Hash>, u64), VerifyError> {
    let first = b.number * TILE_WIDTH;
    let leaves = entries(&b.entries, first)?;
    let tile = match b.tile {
        Ok(t) => hashes(&t, "tile", first)?,
        Err(e) if (leaves.len() as u64) < b.width => {
            return Err(match e {
                VerifyError::Failed(_) => fail(
                    Some(first + leaves.len() as u64),
                    "the event is missing from the stored log",
                ),
                other => other,
            })
        }
        Err(e) => return Err(e),
    };
    if tile.len() as u64 != b.width {
        return Err(fail(
            Some(first),
            format!(
                "tile 0/{} has {} hashes, expected {}",
                b.number,
                tile.len(),
                b.width
            ),
        ));
    }
    let mut computed = Vec::with_capacity(leaves.len());
    for (i, want) in tile.iter().enumerate() {
        let index = first + i as u64;
        let Some(entry) = leaves.get(i) else {
            return Err(fail(
                Some(index),
                "the event is missing from the stored log",
            ));
        };
        let h = leaf_hash(entry);
        if h != *want {
            return Err(fail(
                Some(index),
                "the stored event does not match the tree (its leaf hash differs from the tile's)",
            ));
        }
        computed.push(h);
    }
    if leaves.len() as u64 > b.width {
        return Err(fail(
            Some(first + b.width),
            "the stored log holds more events than the tree",
        ));
    }
    let personal = match &b.personal {
        Some(p) => check_personal(p, &leaves, first)?,
        None => 0,
    };
    Ok((computed, personal))
}

/// Verifies the key's tenant log served at `client` (see the module docs). `saved` is the signed
/// checkpoint a previous run returned in [`Report::note`], if any. With `personal_values`, the
/// personal values are fetched and checked too: that needs `events:export`, and the server records
/// every bundle of them it serves.
pub async fn verify_log(
    client: &Client,
    verifiers: &[NoteVerifier],
    saved: Option<&str>,
    personal_values: bool,
) -> Result<Report, VerifyError> {
    if verifiers.is_empty() {
        return Err(VerifyError::Usage(
            "at least one verifier key is needed".into(),
        ));
    }
    let note = client.checkpoint().await?;
    let cp = open_checkpoint(&note, verifiers).map_err(VerifyError::Failed)?;
    let old = match saved {
        Some(s) => {
            let old = open_checkpoint(s, verifiers).map_err(|f| {
                VerifyError::Usage(format!("the saved checkpoint does not verify: {f}"))
            })?;
            if old.origin != cp.origin {
                return Err(VerifyError::Usage(format!(
                    "the saved checkpoint is of log {:?}, the server's of {:?}",
                    old.origin, cp.origin
                )));
            }
            if old.size > cp.size {
                return Err(fail(
                    Some(cp.size),
                    format!(
                        "the log shrank: the saved checkpoint has {} events, the server's latest {}",
                        old.size, cp.size
                    ),
                ));
            }
            Some(old)
        }
        None => None,
    };

    let size = cp.size;
    let bundles = size.div_ceil(TILE_WIDTH);
    // Fetching, hashing and checking personal values run for several bundles at once (hashing on
    // the blocking pool, so it uses every core); growing our own tree stays in order.
    let mut stream = futures_util::stream::iter(0..bundles)
        .map(|n| async move {
            let b = fetch(client, n, size, personal_values).await?;
            tokio::task::spawn_blocking(move || check_bundle(b))
                .await
                .map_err(|e| VerifyError::Usage(format!("verifier task failed: {e}")))?
        })
        .buffered(4);
    let mut edge = RightEdge::default();
    let mut personal_values = 0u64;
    while let Some(checked) = stream.next().await {
        let (computed, personal) = checked?;
        personal_values += personal;
        // Grow our own tree, stopping at the saved size to prove the old root is a prefix.
        let mut rest: &[Hash] = &computed;
        if let Some(o) = old.as_ref().filter(|o| o.size > edge.size()) {
            let cut = ((o.size - edge.size()) as usize).min(rest.len());
            compare_tiles(client, edge.append(&rest[..cut]).tiles).await?;
            rest = &rest[cut..];
            if edge.size() == o.size && edge.root() != o.root {
                return Err(fail(
                    None,
                    format!(
                        "the log is inconsistent with the saved checkpoint: its first {} events hash to a different root",
                        o.size
                    ),
                ));
            }
        }
        compare_tiles(client, edge.append(rest).tiles).await?;
    }
    if edge.size() != size {
        return Err(fail(
            Some(edge.size()),
            "the log ends before the checkpoint's size",
        ));
    }
    if edge.root() != cp.root {
        return Err(fail(
            None,
            format!(
                "the {size} events hash to a different root than the signed checkpoint (the tree and the events were changed together)"
            ),
        ));
    }
    let consistent_with = match &old {
        Some(o) if o.size < size => {
            let p = client.consistency_proof(o.size, size).await?;
            let proof = decode_all(&p.hashes)?;
            verify_consistency(o.size, size, &proof, &o.root, &cp.root).map_err(|e| {
                fail(
                    None,
                    format!("the server's consistency proof does not verify: {e}"),
                )
            })?;
            Some(o.size)
        }
        Some(o) => Some(o.size),
        None => None,
    };
    Ok(Report {
        checkpoint: cp,
        note,
        events: size,
        personal_values,
        consistent_with,
    })
}

fn decode_all(hashes: &[String]) -> Result<Vec<Hash>, VerifyError> {
    hashes
        .iter()
        .map(|h| {
            STANDARD
                .decode(h)
                .ok()
                .and_then(|b| <[u8; 32]>::try_from(b.as_slice()).ok())
                .map(Hash)
                .ok_or_else(|| {
                    fail(
                        None,
                        "the server sent a hash that is not 32 bytes of base64",
                    )
                })
        })
        .collect()
}

/// Compares the tiles above level 0 that our recomputation produced with the server's: proofs are
/// served from those, so a replaced hash there must be found too. Level 0 is compared per bundle.
async fn compare_tiles(client: &Client, tiles: Vec<(Tile, Vec<Hash>)>) -> Result<(), VerifyError> {
    for (t, ours) in tiles.into_iter().filter(|(t, _)| t.level > 0) {
        let first_leaf = (t.number * TILE_WIDTH) << (8 * t.level);
        let served = client
            .log_tile(&t.path())
            .await
            .map_err(|e| server(first_leaf, e))?;
        let served = hashes(&served, "tile", first_leaf)?;
        if let Some(i) = (0..ours.len()).find(|i| served.get(*i) != Some(&ours[*i])) {
            let index = (t.number * TILE_WIDTH + i as u64) << (8 * t.level);
            return Err(fail(
                Some(index),
                format!(
                    "tile {}/{} entry {i} differs from the hash recomputed from the events",
                    t.level, t.number
                ),
            ));
        }
    }
    Ok(())
}

/// Checks every personal value served for a bundle against the commitment in its leaf.
fn check_personal(served: &[u8], leaves: &[&[u8]], first: u64) -> Result<u64, VerifyError> {
    #[derive(serde::Deserialize)]
    struct Entry {
        index: u64,
        personal: Vec<PersonalValue>,
    }
    #[derive(serde::Deserialize)]
    struct Body {
        entries: Vec<Entry>,
    }
    let body: Body = serde_json::from_slice(served)
        .map_err(|e| fail(Some(first), format!("personal values are malformed: {e}")))?;
    let mut n = 0;
    for e in body.entries {
        let leaf = e
            .index
            .checked_sub(first)
            .and_then(|i| leaves.get(i as usize))
            .ok_or_else(|| {
                fail(
                    Some(e.index),
                    "personal values served for an event outside the bundle",
                )
            })?;
        check_commitments(leaf, &e.personal).map_err(|(i, why)| {
            fail(
                Some(e.index),
                format!(
                    "personal value at {}: {why}",
                    e.personal.get(i).map_or("?", |p| p.path.as_str())
                ),
            )
        })?;
        n += e.personal.len() as u64;
    }
    Ok(n)
}

/// What a successful export verification established. Every field comes from what the log's key
/// signed (the checkpoint and the export's claims), never from an unsigned line of the file.
#[derive(Debug, Clone)]
pub struct ExportReport {
    /// The checkpoint the export is proven against.
    pub checkpoint: Checkpoint,
    /// The signed claims: tenant, filters, size, count, first and last index, audit event.
    pub claims: ExportClaims,
    /// Events verified.
    pub events: u64,
}

/// Verifies an export file offline (see `GET /v1/exports/events`). Every line is parsed strictly
/// (a key twice in one object is refused); every event line's leaf is rebuilt from the values and
/// salts shown and must hash to the line's leaf hash; the trailer's checkpoint and the export's
/// claims must verify under `verifiers` and name the export's tenant; the claims must match the
/// file (header filters, count, first and last index, size, the audit event); an export without filters must hold every index below the size; and the
/// trailer's batch proof must put every exported leaf, at its index, under the checkpoint's root.
pub fn verify_export(
    reader: impl std::io::BufRead,
    verifiers: &[NoteVerifier],
) -> Result<ExportReport, VerifyError> {
    use sealbook_domain::view::{parse_strict, rebuild_leaf};
    if verifiers.is_empty() {
        return Err(VerifyError::Usage(
            "at least one verifier key is needed".into(),
        ));
    }
    let at = |n: usize, index: Option<u64>, why: &str| fail(index, format!("line {n}: {why}"));
    let strict = |n: usize, l: &str| {
        parse_strict(l).map_err(|e| at(n, None, &format!("not strict JSON ({e})")))
    };
    let mut lines = reader.lines().enumerate().map(|(i, l)| (i + 1, l));
    let header = match lines.next() {
        Some((_, Ok(l))) => strict(1, &l)?,
        Some((_, Err(e))) => return Err(VerifyError::Usage(format!("reading the export: {e}"))),
        None => return Err(at(1, None, "the file is empty")),
    };
    if header["sealbook_export"] != 1 {
        return Err(at(1, None, "not a Sealbook export (version 1) header"));
    }
    let tenant = header["tenant"]
        .as_str()
        .ok_or_else(|| at(1, None, "the header names no tenant"))?
        .to_owned();
    let mut leaves: Vec<(u64, Hash)> = Vec::new();
    let mut trailer: Option<(usize, serde_json::Value)> = None;
    for (n, l) in lines {
        let l = l.map_err(|e| VerifyError::Usage(format!("reading the export: {e}")))?;
        if let Some((t, _)) = &trailer {
            return Err(at(
                n,
                None,
                &format!("content after the trailer (line {t})"),
            ));
        }
        let v = strict(n, &l)?;
        if let Some(t) = v.get("trailer") {
            trailer = Some((n, t.clone()));
            continue;
        }
        if v.get("error").is_some() {
            return Err(at(n, None, "the server reported the export incomplete"));
        }
        let rebuilt = rebuild_leaf(&v).map_err(|e| at(n, None, &e))?;
        let index = Some(rebuilt.index);
        let h = leaf_hash(&rebuilt.leaf);
        if h.to_hex() != rebuilt.leaf_hash {
            return Err(at(
                n,
                index,
                "the event does not match its leaf hash (a value, a salt or a field was changed)",
            ));
        }
        if v["tenant"] != tenant.as_str() {
            return Err(at(n, index, "the event belongs to another tenant"));
        }
        leaves.push((rebuilt.index, h));
    }
    let Some((tn, t)) = trailer else {
        return Err(fail(None, "the export is truncated: it has no trailer"));
    };
    let note = t["checkpoint"]
        .as_str()
        .ok_or_else(|| at(tn, None, "the trailer holds no checkpoint"))?;
    let cp = open_checkpoint(note, verifiers).map_err(|f| at(tn, None, &f.reason))?;
    if !cp.origin.ends_with(&format!("/{tenant}")) {
        return Err(at(tn, None, "the checkpoint is of another tenant's log"));
    }
    let claims = open_claims(&t, verifiers, &cp).map_err(|why| at(tn, None, &why))?;
    if claims.tenant != tenant {
        return Err(at(
            1,
            None,
            "the header names another tenant than the signed claims",
        ));
    }
    let header_filters: Option<Vec<(String, String)>> =
        header["filters"].as_array().and_then(|a| {
            a.iter()
                .map(|f| {
                    Some((
                        f["name"].as_str()?.to_owned(),
                        f["value"].as_str()?.to_owned(),
                    ))
                })
                .collect()
        });
    if header_filters.as_ref() != Some(&claims.filters) {
        return Err(at(
            1,
            None,
            "the header's filters are not the ones the export's claims sign",
        ));
    }
    if claims.size != cp.size || header["checkpoint_size"] != cp.size || t["size"] != cp.size {
        return Err(at(
            tn,
            None,
            "the header, trailer, claims and checkpoint disagree on the tree size",
        ));
    }
    if claims.count != leaves.len() as u64 {
        return Err(at(
            tn,
            None,
            &format!(
                "the signed claims count {} events, the file holds {}",
                claims.count,
                leaves.len()
            ),
        ));
    }
    let proof = t["proof"]
        .as_array()
        .ok_or_else(|| at(tn, None, "the trailer holds no proof"))?
        .iter()
        .map(|h| h.as_str().map(str::to_owned).unwrap_or_default())
        .collect::<Vec<_>>();
    let proof = decode_all(&proof)?;
    leaves.sort_unstable_by_key(|l| l.0);
    if let Some(w) = leaves.windows(2).find(|w| w[0].0 == w[1].0) {
        return Err(fail(Some(w[0].0), "the index appears twice in the export"));
    }
    if let Some(l) = leaves.last().filter(|l| l.0 >= cp.size) {
        return Err(fail(Some(l.0), "the event is beyond the checkpoint's tree"));
    }
    if (leaves.first().map(|l| l.0), leaves.last().map(|l| l.0)) != (claims.first, claims.last) {
        return Err(at(
            tn,
            None,
            "the file's first and last index are not the ones the claims sign",
        ));
    }
    // Without filters the export is the whole log at its size: no index may be missing (no
    // duplicates and all below the size, so the count alone says it).
    if claims.filters.is_empty() && leaves.len() as u64 != cp.size {
        let missing = (0..cp.size)
            .zip(
                leaves
                    .iter()
                    .map(|l| l.0)
                    .chain(std::iter::repeat(u64::MAX)),
            )
            .find(|(want, got)| want != got)
            .map(|(want, _)| want);
        return Err(fail(
            missing,
            "the export has no filters but does not hold every event of the log: the event is missing",
        ));
    }
    if !leaves.is_empty() {
        sealbook_logmath::verify_batch(&leaves, cp.size, &proof, &cp.root).map_err(|e| {
            fail(
                None,
                format!(
                    "the exported events are not all in the signed log at the indexes shown ({e})"
                ),
            )
        })?;
    }
    Ok(ExportReport {
        checkpoint: cp,
        claims,
        events: leaves.len() as u64,
    })
}

/// Opens the trailer's signed claims with `verifiers` and checks them against the trailer's own
/// statements of the audit event (which the claims must sign).
fn open_claims(
    trailer: &serde_json::Value,
    verifiers: &[NoteVerifier],
    cp: &Checkpoint,
) -> Result<ExportClaims, String> {
    let note = trailer["claims"]
        .as_str()
        .ok_or("the trailer holds no signed claims")?;
    let text = open(note, verifiers).map_err(|e| format!("the claims' signature: {e}"))?;
    let (origin, claims) = ExportClaims::from_note_text(text)?;
    if origin != cp.origin {
        return Err("the claims are signed for another log than the checkpoint".into());
    }
    let event = &trailer["export_event"];
    if event["id"] != claims.audit_event.as_str() || event["index"] != claims.audit_index {
        return Err("the trailer's export event is not the one the claims sign".into());
    }
    Ok(claims)
}
