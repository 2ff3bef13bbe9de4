//! Sealbook's domain model: what an audit event is, what makes it valid, and how it becomes the
//! canonical leaf of a tenant's Merkle log.
//!
//! Nothing here does I/O. Randomness (salts, ids) and time come in from the caller, so every rule
//! can be tested with fixed inputs and reused by an offline verifier.
//!
//! The public interface is:
//! - [`TenantId`], [`Scope`]: who is asking and what they may do;
//! - [`Limits`], [`parse_batch`], [`ValidEvent`]: turning a request body into validated events;
//! - [`shape`], [`ShapedEvent`], [`Entropy`]: turning a validated event into its leaf;
//! - [`view::event_view`]: turning a stored leaf back into the event a reader sees;
//!   [`view::export_line`], [`view::rebuild_leaf`]: verifiable export lines and their leaves;
//! - [`redact`]: secrets and card numbers replaced before anything is hashed or stored;
//!   [`diff`]: `before`/`after` objects turned into field-level `changes`;
//! - [`EventFilter`], [`Cursor`]: what a search asks for;
//! - [`timestamp`]: RFC 3339 handling shared by ingest and search.

mod canonical;
pub mod diff;
mod envelope;
mod error;
mod filter;
pub mod redact;
mod scan;
mod scope;
mod shape;
mod tenant;
pub mod timestamp;
pub mod view;

pub use canonical::canonical_bytes;
pub use envelope::{parse_batch, BodyFormat, Limits, ValidEvent, ENVELOPE_FIELDS};
pub use error::{BatchError, FieldError};
pub use filter::{Cursor, EventFilter, FilterError, RefFilter, SubjectFilter, TypeFilter};
pub use scope::{Scope, ScopeError};
pub use shape::{
    check_commitments, personal_paths, shape, shape_with, Entropy, PersonalValue, ShapedEvent,
};
pub use tenant::{TenantId, TenantIdError};
