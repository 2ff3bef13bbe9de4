//! Idempotency, decided once for every backend: what an event being appended becomes when its id
//! is stored already (a faithful retry gets the first receipt; other content is a conflict that
//! refuses the request), and the check every stored hash passes on its way out.

use crate::{AppendOutcome, Corruption, Place, Receipt};
use sealbook_domain::{ShapedEvent, TenantId};
use sealbook_logmath::Hash;

/// An event as stored under the id of one being appended: its index, content hash and leaf hash,
/// as the backend read them.
#[derive(Debug, Clone, Copy)]
pub struct StoredId<'a> {
    /// Index in the tenant's log.
    pub index: u64,
    /// Content hash of the normalised client event.
    pub content_hash: &'a [u8],
    /// Leaf hash, as stored.
    pub leaf_hash: &'a [u8],
}

/// What `event` (at `position` of a request of `tenant`) becomes given the event `stored` under
/// its id: `Ok(None)` a new event, `Ok(Some(receipt))` a faithful retry, `Err(conflict)` an id
/// stored with other content. A backend MUST look `stored` up only for client-chosen ids
/// (`ShapedEvent::client_id`) and MUST write nothing of a request that gets a conflict.
pub fn replay(
    tenant: &TenantId,
    position: usize,
    event: &ShapedEvent,
    stored: Option<StoredId<'_>>,
) -> Result<Result<Option<Receipt>, AppendOutcome>, Corruption> {
    match stored {
        None => Ok(Ok(None)),
        Some(s) if s.content_hash == event.content_hash => Ok(Ok(Some(Receipt {
            id: event.id.clone(),
            index: s.index,
            leaf_hash: stored_hash(s.leaf_hash, "the leaf hash")
                .map_err(|c| c.tenant(tenant).at(Place::Index(s.index)))?,
            replayed: true,
        }))),
        Some(_) => Ok(Err(AppendOutcome::Conflict {
            position,
            id: event.id.clone(),
        })),
    }
}

/// A stored hash, which must be 32 bytes; `what` names it in the description of the corruption.
pub fn stored_hash(bytes: &[u8], what: &str) -> Result<Hash, Corruption> {
    bytes
        .try_into()
        .map(Hash)
        .map_err(|_| Corruption::new(format!("{what} is {} bytes, not 32", bytes.len())))
}
