//! The delivery rule shared by the outbox relay and the spool: what to do with a batch of events
//! when Sealbook accepts it, refuses part of it for good, or cannot be reached.

use crate::{Client, ClientError, ProblemKind};

/// What [`deliver`] did with a batch: receipts for the delivered positions, reasons for the
/// parked ones. Every position is in exactly one of the two.
#[derive(Debug, Default)]
pub struct Delivery {
    /// (position in the batch, receipt).
    pub delivered: Vec<(usize, crate::Receipt)>,
    /// (position in the batch, why Sealbook refused it for good).
    pub parked: Vec<(usize, String)>,
}

/// The delivery rule shared by the outbox relay and the spool: send the batch; if Sealbook refuses
/// it for good, set aside the events it names (or, if it names none, the ones that fail on their
/// own) and send the rest. A retryable failure (network, 429, 503) returns `Err` and nothing is
/// decided: the caller keeps everything and tries again later. Sealbook is idempotent by event id,
/// so sending an event twice is harmless.
pub async fn deliver(
    sealbook: &Client,
    events: Vec<serde_json::Value>,
) -> Result<Delivery, ClientError> {
    let mut out = Delivery::default();
    let mut left: Vec<(usize, serde_json::Value)> = events.into_iter().enumerate().collect();
    while !left.is_empty() {
        let batch: Vec<serde_json::Value> = left.iter().map(|(_, v)| v.clone()).collect();
        let e = match sealbook.send_once(&batch).await {
            Ok(receipts) => {
                out.delivered
                    .extend(left.iter().map(|(p, _)| *p).zip(receipts));
                break;
            }
            Err(e) if e.is_retryable() => return Err(e),
            Err(e)
                if e.problem_kind() == Some(ProblemKind::Unauthorized)
                    || e.problem_kind() == Some(ProblemKind::Forbidden) =>
            {
                // The key, not the events: nothing to park.
                return Err(e);
            }
            Err(e) => e,
        };
        let named = match &e {
            ClientError::Problem { problem, .. } => problem.event_positions(),
            _ => Vec::new(),
        };
        let why = |e: &ClientError| match e {
            ClientError::Problem { problem, .. } => {
                serde_json::to_string(problem).unwrap_or_else(|_| e.to_string())
            }
            other => other.to_string(),
        };
        if !named.is_empty() && named.iter().all(|p| *p < left.len()) {
            for i in named.iter().rev() {
                let (pos, _) = left.remove(*i);
                out.parked.push((pos, why(&e)));
            }
            continue;
        }
        // The refusal names no event: try each on its own (re-sending is idempotent).
        for (pos, v) in &left {
            match sealbook.send_once(std::slice::from_ref(v)).await {
                Ok(mut r) if r.len() == 1 => out.delivered.push((*pos, r.remove(0))),
                Ok(_) => out.parked.push((*pos, "unexpected answer".into())),
                Err(e1) if e1.is_retryable() => return Err(e1),
                Err(e1) => out.parked.push((*pos, why(&e1))),
            }
        }
        break;
    }
    out.parked.sort_by_key(|p| p.0);
    Ok(out)
}
