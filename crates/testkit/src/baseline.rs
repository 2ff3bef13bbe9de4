//! The raw baselines of `sealbook bench baseline`: the rows Sealbook writes, written straight into
//! each engine with Sealbook's layout and durability and nothing of Sealbook around them, so that
//! Sealbook's ingest rate can be read as a fraction of the engine's.

pub mod postgres;
pub mod sqlite;
