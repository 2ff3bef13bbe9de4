//! A typed builder for audit events that matches Sealbook's envelope, so a service cannot forget a
//! required field or misspell one.
//!
//! ```
//! use sealbook_client::event::{Event, Party};
//! let e = Event::new("order.status_changed", Party::user("u-42").name("Ada Lovelace"), Party::new("order", "o-1001"))
//!     .change("status", "open", "shipped")
//!     .reference("order_number", "PO-1001")
//!     .correlation_id("req-7");
//! assert_eq!(e.to_json()["changes"][0]["after"], "shipped");
//! assert!(e.id().len() >= 32, "an id is assigned at once, so retries are idempotent");
//! ```

use serde::Serialize;
use serde_json::{Map, Value};

/// An actor, subject or `on_behalf_of` party: `{type, id, name?, email?}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Party {
    #[serde(rename = "type")]
    kind: String,
    id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<String>,
}

impl Party {
    /// A party of any type (`order`, `invoice`, …).
    pub fn new(kind: &str, id: &str) -> Party {
        Party {
            kind: kind.to_owned(),
            id: id.to_owned(),
            name: None,
            email: None,
        }
    }
    /// A human user.
    pub fn user(id: &str) -> Party {
        Party::new("user", id)
    }
    /// A service account.
    pub fn service(id: &str) -> Party {
        Party::new("service_account", id)
    }
    /// The system itself (a background job, a scheduler).
    pub fn system(id: &str) -> Party {
        Party::new("system", id)
    }
    /// A support engineer acting on a customer's behalf.
    pub fn support(id: &str) -> Party {
        Party::new("support", id)
    }
    /// Display name.
    pub fn name(mut self, name: &str) -> Party {
        self.name = Some(name.to_owned());
        self
    }
    /// E-mail (actors only).
    pub fn email(mut self, email: &str) -> Party {
        self.email = Some(email.to_owned());
        self
    }
}

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// It worked (the default).
    Success,
    /// It was attempted and failed.
    Failure,
    /// It was refused.
    Denied,
}

/// One audit event. Build it with [`Event::new`] and the chained setters; its id is assigned at
/// construction (a UUIDv7) unless [`Event::with_id`] sets one, so sending it again is idempotent.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    body: Map<String, Value>,
}

fn set(body: &mut Map<String, Value>, path: &[&str], v: Value) {
    let (last, parents) = path.split_last().expect("a non-empty path");
    let mut m = body;
    for p in parents {
        m = m
            .entry(p.to_string())
            .or_insert_with(|| Value::Object(Map::new()))
            .as_object_mut()
            .expect("envelope parents are objects");
    }
    m.insert(last.to_string(), v);
}

/// A time-ordered UUID (version 7): sortable, unique without coordination.
pub fn new_event_id() -> String {
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    let mut rnd = [0u8; 10];
    getrandom::fill(&mut rnd).expect("the operating system's random generator failed");
    let mut b = [0u8; 16];
    b[..6].copy_from_slice(&millis.to_be_bytes()[2..]);
    b[6..].copy_from_slice(&rnd);
    b[6] = 0x70 | (b[6] & 0x0f);
    b[8] = 0x80 | (b[8] & 0x3f);
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

impl Event {
    /// An event of `event_type` (e.g. `order.status_changed`) by `actor` on `subject`, occurring
    /// now.
    pub fn new(event_type: &str, actor: Party, subject: Party) -> Event {
        let mut body = Map::new();
        body.insert("id".into(), Value::String(new_event_id()));
        body.insert("type".into(), Value::String(event_type.to_owned()));
        body.insert(
            "occurred_at".into(),
            Value::String(
                time::OffsetDateTime::now_utc()
                    .format(&time::format_description::well_known::Rfc3339)
                    .expect("now formats"),
            ),
        );
        body.insert(
            "actor".into(),
            serde_json::to_value(actor).expect("serializes"),
        );
        body.insert(
            "subject".into(),
            serde_json::to_value(subject).expect("serializes"),
        );
        Event { body }
    }

    /// Sets the event id (for ids derived from the business change, e.g. `order-1001-v7`).
    pub fn with_id(mut self, id: &str) -> Event {
        self.body.insert("id".into(), Value::String(id.to_owned()));
        self
    }

    /// The event id.
    pub fn id(&self) -> &str {
        self.body["id"].as_str().unwrap_or_default()
    }

    /// When it happened (RFC 3339), if not now.
    pub fn occurred_at(mut self, rfc3339: &str) -> Event {
        self.body
            .insert("occurred_at".into(), Value::String(rfc3339.to_owned()));
        self
    }
    /// The outcome (default success).
    pub fn outcome(mut self, o: Outcome) -> Event {
        self.body.insert(
            "outcome".into(),
            serde_json::to_value(o).expect("serializes"),
        );
        self
    }
    /// Acting on behalf of someone.
    pub fn on_behalf_of(mut self, p: Party) -> Event {
        self.body.insert(
            "on_behalf_of".into(),
            serde_json::to_value(p).expect("serializes"),
        );
        self
    }
    /// Part of an impersonation session.
    pub fn impersonation(mut self, session_id: &str, ticket: Option<&str>) -> Event {
        set(
            &mut self.body,
            &["impersonation", "session_id"],
            session_id.into(),
        );
        if let Some(t) = ticket {
            set(&mut self.body, &["impersonation", "ticket"], t.into());
        }
        self
    }
    /// Why: a reason code (e.g. `customer_request`).
    pub fn reason_code(mut self, code: &str) -> Event {
        set(&mut self.body, &["reason", "code"], code.into());
        self
    }
    /// Why: a ticket reference.
    pub fn reason_ticket(mut self, ticket: &str) -> Event {
        set(&mut self.body, &["reason", "ticket"], ticket.into());
        self
    }
    /// Why: free text.
    pub fn reason_note(mut self, note: &str) -> Event {
        set(&mut self.body, &["reason", "note"], note.into());
        self
    }
    /// A field that changed, with its value before and after.
    pub fn change(
        mut self,
        field: &str,
        before: impl Into<Value>,
        after: impl Into<Value>,
    ) -> Event {
        let c = serde_json::json!({"field": field, "before": before.into(), "after": after.into()});
        self.body
            .entry("changes")
            .or_insert_with(|| Value::Array(Vec::new()))
            .as_array_mut()
            .expect("changes is an array")
            .push(c);
        self
    }
    /// The request's correlation id, to tie events of one operation together.
    pub fn correlation_id(mut self, id: &str) -> Event {
        set(&mut self.body, &["context", "correlation_id"], id.into());
        self
    }
    /// The request id.
    pub fn request_id(mut self, id: &str) -> Event {
        set(&mut self.body, &["context", "request_id"], id.into());
        self
    }
    /// The client's IP address.
    pub fn ip(mut self, ip: &str) -> Event {
        set(&mut self.body, &["context", "ip"], ip.into());
        self
    }
    /// The client's user agent.
    pub fn user_agent(mut self, ua: &str) -> Event {
        set(&mut self.body, &["context", "user_agent"], ua.into());
        self
    }
    /// The session id.
    pub fn session_id(mut self, id: &str) -> Event {
        set(&mut self.body, &["context", "session_id"], id.into());
        self
    }
    /// A business reference, e.g. `("order_number", "PO-1001")`.
    pub fn reference(mut self, key: &str, value: &str) -> Event {
        set(&mut self.body, &["refs", key], value.into());
        self
    }
    /// Event-type specific data.
    pub fn data(mut self, data: Value) -> Event {
        self.body.insert("data".into(), data);
        self
    }
    /// The envelope as JSON.
    pub fn to_json(&self) -> Value {
        Value::Object(self.body.clone())
    }
}

impl From<Event> for Value {
    fn from(e: Event) -> Value {
        Value::Object(e.body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_uuid_v7_and_distinct() {
        let (a, b) = (new_event_id(), new_event_id());
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "7");
        assert!(matches!(&a[19..20], "8" | "9" | "a" | "b"));
    }
}
