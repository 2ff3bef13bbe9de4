//! Sealbook's domain model: what an audit event is, what makes it valid, and how it becomes the
//! canonical leaf of a tenant's Merkle log.
//!
//! Nothing here does I/O. Randomness (salts, ids) and time come in from the caller, so every rule
//! can be tested with fixed inputs and reused by an offline verifier.
//!
//! A caller MUST pass as tenant only the one authentication gave ([`TenantId`] comes from the
//! key, never from the body), MUST run [`redact::redact`] before [`shape`] so that no secret is
//! hashed or stored, and in production MUST give [`shape`] an [`Entropy`] from the operating
//! system (salts that can be guessed open every commitment). Search term keys are hashes:
//! whoever uses them to find candidates MUST re-check each with [`EventFilter::matches`].
//!
//! The public interface is:
//! - [`TenantId`] ([`TenantIdError`]), [`Scope`] ([`ScopeError`]): who is asking and what they
//!   may do; [`access`] ([`Role`], [`Action`], [`Grant`], [`Denied`]): the one authorisation
//!   matrix, for keys, people, viewer tokens and operator access;
//! - [`Limits`], [`BodyFormat`], [`parse_batch`], [`ValidEvent`], [`ENVELOPE_FIELDS`],
//!   [`RESERVED_KEYS`], with
//!   [`BatchError`] and [`FieldError`]: turning a request body into validated events;
//! - [`shape`], [`shape_with`], [`ShapedEvent`], [`PersonalValue`], [`Entropy`],
//!   [`personal_paths`]: turning a validated event into its leaf with salted commitments;
//!   [`check_commitments`]: personal values checked against a leaf;
//! - [`event_hashes`], [`EventHashes`], [`spelled_terms`]: an event's postings and content hash,
//!   and [`client_event`], [`stored_event_hashes`], [`RehashError`]: the same from a stored leaf
//!   and its personal values, to rebuild a database's hashes;
//! - [`canonical_bytes`]: RFC 8785 canonical JSON, the leaf's encoding;
//! - [`settings`] ([`TenantSettings`]): a tenant's record links, embedding origins and viewer
//!   types, with the grammar each must follow;
//! - [`view`]: a stored leaf turned back into the event a reader sees ([`view::event_view`]),
//!   verifiable export lines and their leaves ([`view::export_line`], [`view::rebuild_leaf`]);
//! - [`redact`]: secrets and card numbers replaced before anything is hashed or stored;
//!   [`diff`]: `before`/`after` objects turned into field-level `changes`;
//! - [`EventFilter`], [`Cursor`], [`TypeFilter`], [`SubjectFilter`], [`RefFilter`],
//!   [`RecordedBy`] ([`SEALBOOK`]), [`FilterError`]: what a search asks for;
//! - [`SearchKey`], [`ContentKey`], [`TenantKeys`]: the per-tenant keys of the postings and the
//!   content hash, which the caller derives and passes in;
//! - [`timestamp`]: RFC 3339 handling shared by ingest and search;
//! - [`csv`]: events as RFC 4180 rows for spreadsheets, formulas neutralised.

pub mod access;
mod canonical;
pub mod csv;
pub mod diff;
mod envelope;
mod error;
mod filter;
mod keys;
pub mod redact;
mod scan;
mod scope;
pub mod settings;
mod shape;
mod tenant;
pub mod timestamp;
pub mod view;

pub use access::{allows, Action, Denied, Grant, Role, RoleError};
pub use canonical::canonical_bytes;
pub use envelope::{
    parse_batch, BodyFormat, Limits, ValidEvent, ACTOR_TYPES, ENVELOPE_FIELDS, OUTCOMES,
    RESERVED_KEYS,
};
pub use error::{BatchError, FieldError};
pub use filter::{
    Cursor, EventFilter, FilterError, RecordedBy, RefFilter, SubjectFilter, TypeFilter, SEALBOOK,
};
pub use keys::{ContentKey, SearchKey, TenantKeys};
pub use scope::{Scope, ScopeError};
pub use settings::{RoleMapping, SettingsError, SsoRole, SsoSettings, TenantSettings};
pub use shape::{
    check_commitments, client_event, event_hashes, personal_paths, shape, shape_with,
    spelled_terms, stored_event_hashes, Entropy, EventHashes, PersonalValue, RehashError,
    ShapedEvent,
};
pub use tenant::{TenantId, TenantIdError};
