//! The embedded store's row layout, public for tools that write the same rows without the store:
//! the raw-SQLite baseline of `sealbook bench baseline` (in `sealbook-testkit`).

/// Version 1 of the schema, the base layout, as plain DDL; the migrations add to it.
pub const SCHEMA: &str = include_str!("schema.sql");
/// Bits of the rowid that hold the log index; the tenant number sits above them.
pub const INDEX_BITS: u32 = 40;
/// The largest log index a rowid can hold.
pub const MAX_INDEX: u64 = (1 << INDEX_BITS) - 1;

/// The rowid of the event at `index` in the log of tenant number `tenant_no`; its personal values
/// have the same rowid.
pub fn rowid(tenant_no: i64, index: u64) -> i64 {
    (tenant_no << INDEX_BITS) | index as i64
}

/// The search-postings bucket of `index`, with buckets of `2^bits` indexes.
pub fn bucket(index: u64, bits: u32) -> i64 {
    (index >> bits) as i64
}
