//! Errors of turning a request body into events, precise enough to tell a client which event,
//! which field and why.

/// One problem with one field of one event.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FieldError {
    /// Position of the event in the batch (0 for a single event); absent for batch-level problems.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event: Option<usize>,
    /// JSON pointer (RFC 6901) into the event; empty for the whole event.
    pub path: String,
    /// What is wrong, for a human.
    pub problem: String,
}

impl FieldError {
    pub(crate) fn new(event: usize, path: impl Into<String>, problem: impl Into<String>) -> Self {
        FieldError {
            event: Some(event),
            path: path.into(),
            problem: problem.into(),
        }
    }
}

/// Why a request body yields no events. Nothing of a rejected body is ever stored.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BatchError {
    /// The body is not well-formed JSON / NDJSON, or not UTF-8.
    #[error("malformed body: {detail}")]
    Malformed {
        /// What the parser said, with position.
        detail: String,
    },
    /// The body or one event exceeds a configured limit.
    #[error("too large: {detail}")]
    TooLarge {
        /// Which limit.
        detail: String,
        /// The offending event, when one event is at fault.
        errors: Vec<FieldError>,
    },
    /// One or more events break the envelope rules.
    #[error("{} invalid field(s)", .0.len())]
    Invalid(Vec<FieldError>),
}
