//! The catalog browser: every event type this tenant's log may hold (the platform's and the
//! tenant's own), with its label, owner, severity, retention class, compliance controls, personal
//! fields and each version's fields, so an admin or an auditor can read what an event means
//! without the API. Read only; allowed by [`Action::ReadCatalog`].

use super::session::UiSession;
use super::{page_error, render, Chrome};
use crate::state::AppState;
use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use sealbook_domain::Action;
use serde_json::Value;

/// One field of a version's `data` schema.
struct Field {
    name: String,
    kind: String,
    required: bool,
}

/// One version of a type.
struct Version {
    number: String,
    requires: String,
    fields: Vec<Field>,
}

/// One type, as the page shows it.
struct Entry {
    name: String,
    description: String,
    label: String,
    owner: String,
    severity: String,
    retention: String,
    controls: String,
    personal: String,
    own: bool,
    reserved: bool,
    versions: Vec<Version>,
}

#[derive(Template)]
#[template(path = "catalog.html")]
struct CatalogPage {
    chrome: Chrome,
    q: String,
    entries: Vec<Entry>,
    total: usize,
}

/// The fields of a version's JSON Schema: its top-level properties, their types, and which are
/// required.
fn fields(schema: &Value) -> Vec<Field> {
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let Some(Value::Object(props)) = schema.get("properties") else {
        return Vec::new();
    };
    props
        .iter()
        .map(|(name, p)| {
            let kind = match (p.get("type"), p.get("enum")) {
                (_, Some(Value::Array(values))) => format!(
                    "one of {}",
                    values
                        .iter()
                        .map(sealbook_domain::view::display_text)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                (Some(Value::String(t)), _) => t.clone(),
                (Some(Value::Array(ts)), _) => ts
                    .iter()
                    .map(sealbook_domain::view::display_text)
                    .collect::<Vec<_>>()
                    .join(" or "),
                _ => "any".into(),
            };
            Field {
                required: required.contains(&name.as_str()),
                name: name.clone(),
                kind,
            }
        })
        .collect()
}

#[derive(serde::Deserialize)]
pub(crate) struct CatalogQuery {
    q: Option<String>,
}

/// `GET /ui/catalog?q=`: the types, optionally those whose name or description holds `q`.
pub(crate) async fn catalog(
    State(state): State<AppState>,
    session: UiSession,
    Query(query): Query<CatalogQuery>,
) -> Response {
    if let Err(e) = session.require(Action::ReadCatalog) {
        return page_error(e);
    }
    let catalogs = match state.catalogs(session.tenant()).await {
        Ok(c) => c,
        Err(e) => return page_error(e),
    };
    let q = query.q.unwrap_or_default().trim().to_lowercase();
    let all = catalogs.all_types();
    let total = all.len();
    let entries = all
        .into_iter()
        .filter(|(t, _)| {
            q.is_empty() || t.name.contains(&q) || t.description.to_lowercase().contains(&q)
        })
        .map(|(t, own)| Entry {
            name: t.name.clone(),
            description: t.description.clone(),
            label: t.label.clone(),
            owner: t.owner.clone(),
            severity: t.severity.clone(),
            retention: t.retention.clone(),
            controls: t.controls.join(", "),
            personal: t.personal.join(", "),
            own,
            reserved: t.reserved,
            versions: t
                .versions
                .iter()
                .rev()
                .map(|v| Version {
                    number: v
                        .get("version")
                        .map(sealbook_domain::view::display_text)
                        .unwrap_or_default(),
                    requires: v
                        .get("requires")
                        .and_then(Value::as_array)
                        .map(|r| {
                            r.iter()
                                .map(sealbook_domain::view::display_text)
                                .collect::<Vec<_>>()
                                .join(", ")
                        })
                        .unwrap_or_default(),
                    fields: v.get("schema").map(fields).unwrap_or_default(),
                })
                .collect(),
        })
        .collect();
    render(
        StatusCode::OK,
        &CatalogPage {
            chrome: Chrome::new(&state, &session, "/ui/catalog"),
            q,
            entries,
            total,
        },
    )
}
