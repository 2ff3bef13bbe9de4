//! The one path from a handler into the sequencer: ingest, key changes, catalog changes and
//! Sealbook's own audit records (exports, redaction questions) all append through [`append`], so
//! every write is counted and every outcome mapped the same way.
//!
//! [`append`] is for Sealbook's own records (key changes, catalog changes, audit records): they
//! are administrative in the sequencer's queue, which keeps room for them. Events a client sent
//! MUST go through [`append_client`], which counts against the tenant's share of the queue.
//!
//! Depends on the state and the error mapping only, never on a handler.

use crate::error::ApiError;
use crate::state::AppState;
use sealbook_domain::{FieldError, ShapedEvent, TenantId};
use sealbook_pipeline::Class;
use sealbook_store::{AppendOutcome, AppendRequest, KeyEffect, Receipt};

/// Sequences Sealbook's own records (and an administrative effect) for `tenant`; answers once they
/// are durable. A conflicting event id is a 409 naming the event, an unknown tenant or key a 404.
pub(crate) async fn append(
    state: &AppState,
    tenant: TenantId,
    events: Vec<ShapedEvent>,
    effect: Option<KeyEffect>,
) -> Result<Vec<Receipt>, ApiError> {
    sequence(state, tenant, events, effect, Class::Administrative).await
}

/// Sequences events a client sent, within the tenant's share of the queue.
pub(crate) async fn append_client(
    state: &AppState,
    tenant: TenantId,
    events: Vec<ShapedEvent>,
) -> Result<Vec<Receipt>, ApiError> {
    sequence(state, tenant, events, None, Class::Client).await
}

async fn sequence(
    state: &AppState,
    tenant: TenantId,
    events: Vec<ShapedEvent>,
    effect: Option<KeyEffect>,
    class: Class,
) -> Result<Vec<Receipt>, ApiError> {
    let n = events.len();
    let label = tenant.to_string();
    let outcome = state
        .inner
        .sequencer
        .submit_as(
            AppendRequest {
                tenant,
                events,
                effect,
            },
            class,
        )
        .await?;
    match outcome {
        AppendOutcome::Committed(receipts) => {
            let fresh = receipts.iter().filter(|r| !r.replayed).count();
            metrics::counter!("sealbook_events_accepted_total", "tenant" => label.clone())
                .increment(fresh as u64);
            metrics::counter!("sealbook_events_replayed_total", "tenant" => label)
                .increment((n - fresh) as u64);
            Ok(receipts)
        }
        AppendOutcome::Conflict { position, id } => {
            metrics::counter!("sealbook_events_rejected_total", "tenant" => label, "reason" => "conflict").increment(1);
            Err(ApiError::IdConflict(vec![FieldError {
                event: Some(position),
                path: "/id".into(),
                problem: format!(
                    "an event with id {id:?} is already stored with different content"
                ),
            }]))
        }
        AppendOutcome::UnknownTenant | AppendOutcome::UnknownKey => Err(ApiError::NotFound),
        AppendOutcome::Refused(r) => Err(ApiError::PeopleRefused(r)),
    }
}
