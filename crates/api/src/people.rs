//! People: the changes to users and sessions that are audited, each committed with its event in
//! one transaction ([`commit`]), and the invitation shared by the operator's API
//! (`POST /v1/tenants/{tenant}/users`, what `sealbook user create` calls) and the people page.
//!
//! A change exists if and only if its event is in the tenant's log: the store applies the
//! [`PeopleEffect`] in the transaction that appends the event, and refuses both when the effect
//! cannot apply ([`sealbook_store::EffectRefusal`], answered by [`ApiError::PeopleRefused`]).
//! Events never carry a secret: no password, no session id, no set-password token.

use crate::append::append;
use crate::error::ApiError;
use crate::state::AppState;
use sealbook_domain::{Role, TenantId};
use sealbook_store::{KeyEffect, PeopleEffect, Receipt, User};
use serde_json::{json, Value};

/// How long a set-password link is valid.
pub(crate) const SET_PASSWORD_TTL: time::Duration = time::Duration::hours(72);

/// Now, as every stored time is written: RFC 3339 UTC with microseconds.
pub(crate) fn now() -> (time::OffsetDateTime, String) {
    let t = time::OffsetDateTime::now_utc();
    (t, sealbook_domain::timestamp::format_utc(t, 6))
}

/// A stored RFC 3339 time, or `None` when it is not one (treated by callers as expired).
pub(crate) fn parse_time(s: &str) -> Option<time::OffsetDateTime> {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()
}

/// A random token of 32 bytes, base64url, and its SHA-256: the token leaves once, the hash is kept.
pub(crate) fn new_token() -> (String, [u8; 32]) {
    use base64::Engine;
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).expect("the operating system's random generator failed");
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    let hash = crate::secret::hash(&token);
    (token, hash)
}

/// A public id: `prefix_` and 12 random bytes, base64url.
pub(crate) fn new_id(prefix: &str) -> String {
    use base64::Engine;
    let mut b = [0u8; 12];
    getrandom::fill(&mut b).expect("the operating system's random generator failed");
    format!(
        "{prefix}_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
    )
}

/// A person as the actor of an event.
pub(crate) fn actor(user: &User) -> Value {
    json!({"type": "user", "id": user.id, "name": user.name})
}

/// The platform operator (the token, or `sealbook user create`) as the actor of an event.
pub(crate) fn operator_actor() -> Value {
    json!({"type": "system", "id": "platform-operator", "name": "Sealbook platform operator"})
}

/// A person as the subject of an event.
pub(crate) fn subject(user: &User) -> Value {
    json!({"type": "user", "id": user.id, "name": user.name})
}

/// The audit event of a change to people: its type, who, to whom, what, and from where.
pub(crate) struct Record<'a> {
    pub(crate) event_type: &'a str,
    pub(crate) actor: Value,
    pub(crate) subject: Value,
    pub(crate) data: Value,
    pub(crate) ip: Option<std::net::IpAddr>,
}

/// Commits `effect` with its event `record` in `tenant`'s log; answers once both are durable.
pub(crate) async fn commit(
    state: &AppState,
    tenant: &TenantId,
    record: Record<'_>,
    effect: Option<PeopleEffect>,
) -> Result<Receipt, ApiError> {
    commit_with(state, tenant, record, None, effect).await
}

/// [`commit`], with the event's `reason` (`{code, ticket, note}`).
pub(crate) async fn commit_with(
    state: &AppState,
    tenant: &TenantId,
    record: Record<'_>,
    reason: Option<Value>,
    effect: Option<PeopleEffect>,
) -> Result<Receipt, ApiError> {
    let (at, when) = now();
    let mut event = json!({
        "type": record.event_type,
        "occurred_at": when,
        "actor": record.actor,
        "subject": record.subject,
        "data": record.data,
    });
    if let Some(ip) = record.ip {
        event["context"] = json!({"ip": ip.to_string()});
    }
    if let Some(reason) = reason {
        event["reason"] = reason;
    }
    let shaped = crate::audit::event(&state.keys(tenant), tenant, &event, at)?;
    append(
        state,
        tenant.clone(),
        vec![shaped],
        effect.map(KeyEffect::People),
    )
    .await?
    .into_iter()
    .next()
    .ok_or_else(|| ApiError::Unavailable("recording a change of people: no receipt".into()))
}

/// Why an invitation's fields are refused: (field, problem).
pub(crate) fn check_invite(email: &str, name: &str) -> Result<(), (&'static str, &'static str)> {
    let at = email.find('@');
    if email.len() > 254
        || email.chars().any(|c| c.is_control() || c.is_whitespace())
        || !at.is_some_and(|i| i > 0 && i + 1 < email.len())
    {
        return Err((
            "email",
            "must be an e-mail address (at most 254 characters)",
        ));
    }
    if name.chars().count() > 200 || name.chars().any(char::is_control) {
        return Err(("name", "must be at most 200 printable characters"));
    }
    Ok(())
}

/// An invited person and their one-time set-password token (shown once, never stored).
pub(crate) struct Invited {
    pub(crate) user: User,
    pub(crate) token: String,
}

/// Creates a person of `tenant` with `role` and a set-password link, recorded as `user.invited`
/// by `actor`. The e-mail address is lower-cased; the fields MUST have passed [`check_invite`].
pub(crate) async fn invite(
    state: &AppState,
    tenant: &TenantId,
    actor: Value,
    email: &str,
    name: &str,
    role: Role,
    ip: Option<std::net::IpAddr>,
) -> Result<Invited, ApiError> {
    let (at, created_at) = now();
    let email = email.to_lowercase();
    let user = User {
        id: new_id("usr"),
        tenant: tenant.clone(),
        name: if name.is_empty() {
            email.clone()
        } else {
            name.to_owned()
        },
        email: email.clone(),
        role,
        created_at,
        disabled_at: None,
        has_password: false,
        has_totp: false,
    };
    let (token, hash) = new_token();
    let expires = sealbook_domain::timestamp::format_utc(at + SET_PASSWORD_TTL, 6);
    commit(
        state,
        tenant,
        Record {
            event_type: "user.invited",
            actor,
            subject: subject(&user),
            data: json!({"role": role.as_str(), "email": email}),
            ip,
        },
        Some(PeopleEffect::CreateUser {
            user: user.clone(),
            password_token: Some((hash, expires)),
        }),
    )
    .await?;
    Ok(Invited { user, token })
}

/// The path of a set-password link (the caller adds the server's origin).
pub(crate) fn set_password_path(token: &str) -> String {
    format!("/ui/set-password?token={token}")
}
