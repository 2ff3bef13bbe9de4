//! The pipeline between the API and the store: sequencing (events into tenant logs) and the logs
//! as a verifiable service.
//!
//! A caller MUST NOT acknowledge an event before [`Sequencer::submit`] returned its receipt: that
//! is when it is durable. Tiles, entry bundles and proofs MUST reach clients through [`Log`] only,
//! which bounds them by the latest signed checkpoint; the store serves the current, unsigned tree.
//! A [`LogError::Store`] holding `StoreError::Corrupt` is an integrity failure like
//! [`LogError::Damaged`] and [`LogError::Inconsistent`], never an unavailable store.
//!
//! The public interface is: [`Sequencer`] (group commit with pushback and a fair queue), [`SequencerConfig`],
//! [`Class`], [`PipelineError`], [`OsEntropy`] (the operating system's randomness for shaping), and the
//! verifiable log service [`Log`] (checkpoint signer, proofs, tiles, bundles) with [`LogError`],
//! [`Proof`] and [`SigningKeys`].

#[cfg(test)]
mod gate;
mod log;
mod sequencer;

pub use log::{Log, LogError, Proof, SigningKeys};
pub use sequencer::{Class, PipelineError, Sequencer, SequencerConfig};

/// Randomness from the operating system, for salts and server-assigned ids.
pub struct OsEntropy;

impl sealbook_domain::Entropy for OsEntropy {
    fn fill(&mut self, buf: &mut [u8]) {
        // The OS generator failing is not something a service can recover from safely: using
        // predictable salts would weaken every commitment, so stop instead.
        getrandom::fill(buf).expect("the operating system's random generator failed");
    }
}
