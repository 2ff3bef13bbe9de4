//! People: users, their credentials, sign-in sessions, one-time set-password links, saved
//! searches, operator access grants and per-tenant settings, in domain terms.
//!
//! Changes that must be audited (a person created, a role changed, a password or TOTP changed, a
//! session opened or revoked, an operator's access started or ended, a setting changed) are not
//! methods here: they are [`PeopleEffect`]s committed by [`crate::Store::append`] in the same
//! transaction as their audit event, so that the change exists if and only if its event is in the
//! tenant's log. Only what is not audited on its own is written directly (a session's last-seen
//! time, a TOTP step used, saved searches).
//!
//! Secrets are never stored: a session id, a set-password token and a viewer token are stored as
//! the SHA-256 of the random value; a password as its argon2id PHC string; a TOTP secret only
//! encrypted by the caller (the store sees opaque bytes).
//!
//! Every method that takes a tenant MUST read and write that tenant's rows only. Two look up across
//! tenants, because the value presented is what names the tenant: [`People::session_by_hash`] and
//! [`People::password_token_by_hash`]. People of the platform (operators) belong to the tenant
//! `platform` ([`sealbook_domain::TenantId::platform`]).

use crate::StoreError;
use async_trait::async_trait;
use sealbook_domain::{Role, TenantId};

/// A person, as stored. Never holds a credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Public id, `usr_…`.
    pub id: String,
    /// The tenant the person belongs to (`platform` for operators).
    pub tenant: TenantId,
    /// E-mail address, lower-cased; unique within the tenant.
    pub email: String,
    /// Display name.
    pub name: String,
    /// The person's role in the tenant.
    pub role: Role,
    /// RFC 3339 creation time.
    pub created_at: String,
    /// RFC 3339 time the person was deactivated; a deactivated person cannot sign in.
    pub disabled_at: Option<String>,
    /// True once a password is set.
    pub has_password: bool,
    /// True once TOTP is enabled.
    pub totp_enabled: bool,
    /// The OpenID Connect identity this person signs in with: (issuer, subject).
    pub oidc: Option<(String, String)>,
}

/// A person's credentials: read only to check a sign-in.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Credentials {
    /// argon2id PHC string.
    pub password_hash: Option<String>,
    /// The TOTP secret, encrypted by the caller.
    pub totp_secret: Option<Vec<u8>>,
    /// The last TOTP time step accepted: a code is accepted once (RFC 6238 §5.2).
    pub totp_last_step: Option<u64>,
}

/// A sign-in session as stored: the id itself is never stored, only its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// Public handle, `ses_…`, to list and revoke a session (not the cookie value).
    pub id: String,
    /// The person.
    pub user_id: String,
    /// The person's tenant.
    pub tenant: TenantId,
    /// How it was opened: `password`, `password+totp`, `oidc`.
    pub method: String,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339: updated as the session is used (not audited).
    pub last_seen_at: String,
    /// RFC 3339 absolute expiry; idle expiry is `last_seen_at` plus the configured idle time.
    pub expires_at: String,
    /// Client address at sign-in.
    pub ip: Option<String>,
    /// User-Agent at sign-in (truncated by the caller).
    pub user_agent: String,
    /// RFC 3339 time of sign-out or revocation.
    pub revoked_at: Option<String>,
}

/// A one-time link to set a password (printed by `sealbook user create`, or made by an admin).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordToken {
    /// The person.
    pub user_id: String,
    /// The person's tenant.
    pub tenant: TenantId,
    /// RFC 3339 expiry.
    pub expires_at: String,
    /// RFC 3339 time it was used; a used token is refused.
    pub used_at: Option<String>,
}

/// A saved search of one person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedSearch {
    /// Public id, `srch_…`.
    pub id: String,
    /// The person.
    pub user_id: String,
    /// Name given by the person.
    pub name: String,
    /// The search's query string (what the search page's URL carries).
    pub query: String,
    /// RFC 3339.
    pub created_at: String,
}

/// A platform operator's audited access to one tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessGrant {
    /// Public id, `acc_…`.
    pub id: String,
    /// The operator (a person of the platform).
    pub operator_id: String,
    /// The tenant accessed.
    pub tenant: TenantId,
    /// Why, as the operator wrote it.
    pub reason: String,
    /// The ticket reference.
    pub ticket: String,
    /// RFC 3339.
    pub started_at: String,
    /// RFC 3339: the access ends by itself then.
    pub expires_at: String,
    /// RFC 3339 time it was ended early.
    pub ended_at: Option<String>,
}

/// A change to people committed with its audit event (see the module documentation). Every
/// variant acts on the [`crate::AppendRequest`]'s tenant only.
#[derive(Debug, Clone)]
pub enum PeopleEffect {
    /// Create this person (its `tenant` MUST be the request's), optionally with a set-password
    /// token (the SHA-256 of the token, and its expiry).
    CreateUser {
        /// The person.
        user: User,
        /// A set-password link to create with it.
        password_token: Option<([u8; 32], String)>,
    },
    /// Make a new set-password token for an existing person.
    CreatePasswordToken {
        /// The person.
        user_id: String,
        /// SHA-256 of the token.
        token_hash: [u8; 32],
        /// RFC 3339 expiry.
        expires_at: String,
    },
    /// Give a person a role.
    SetRole {
        /// The person.
        user_id: String,
        /// The new role.
        role: Role,
    },
    /// Deactivate a person and revoke every session of theirs.
    DisableUser {
        /// The person.
        user_id: String,
        /// RFC 3339.
        at: String,
    },
    /// Set a password; with a token, the token is consumed in the same transaction (a token used
    /// or expired makes the request [`crate::AppendOutcome::UnknownKey`]).
    SetPassword {
        /// The person.
        user_id: String,
        /// argon2id PHC string.
        password_hash: String,
        /// The token consumed, if the change came through a link.
        token_hash: Option<[u8; 32]>,
        /// RFC 3339 (the token's use time).
        at: String,
    },
    /// Enable TOTP with this (encrypted) secret, or disable it with `None`.
    SetTotp {
        /// The person.
        user_id: String,
        /// The encrypted secret.
        secret: Option<Vec<u8>>,
    },
    /// Open a session (the SHA-256 of its random id, and the record).
    OpenSession {
        /// SHA-256 of the cookie value.
        id_hash: [u8; 32],
        /// The record.
        session: Session,
    },
    /// Revoke a session by its public handle (it MUST belong to `user_id`, unless `user_id` is
    /// `None`: an admin revoking any session of the tenant).
    RevokeSession {
        /// The session's public handle.
        session_id: String,
        /// Whose it must be.
        user_id: Option<String>,
        /// RFC 3339.
        at: String,
    },
    /// Start an operator's access to the request's tenant.
    StartAccess(AccessGrant),
    /// End an operator's access early.
    EndAccess {
        /// The grant.
        grant_id: String,
        /// RFC 3339.
        at: String,
    },
    /// Set (or with `None` remove) one of the tenant's settings, a JSON document by name.
    SetSetting {
        /// The setting's name, e.g. `ui.record_links`.
        name: String,
        /// JSON text.
        value: Option<String>,
    },
}

/// The people half of the storage contract (see the module documentation).
#[async_trait]
pub trait People: Send + Sync {
    /// One person of a tenant by id.
    async fn user(&self, tenant: &TenantId, user_id: &str) -> Result<Option<User>, StoreError>;
    /// One person of a tenant by e-mail address (lower-cased by the caller).
    async fn user_by_email(
        &self,
        tenant: &TenantId,
        email: &str,
    ) -> Result<Option<User>, StoreError>;
    /// One person of a tenant by OpenID Connect identity.
    async fn user_by_oidc(
        &self,
        tenant: &TenantId,
        issuer: &str,
        subject: &str,
    ) -> Result<Option<User>, StoreError>;
    /// Every person of a tenant, by e-mail address.
    async fn list_users(&self, tenant: &TenantId) -> Result<Vec<User>, StoreError>;
    /// A person's credentials.
    async fn credentials(
        &self,
        tenant: &TenantId,
        user_id: &str,
    ) -> Result<Option<Credentials>, StoreError>;
    /// Records that a TOTP step was accepted, only if it is later than the last one: returns
    /// false when it is not (a replayed code), atomically.
    async fn use_totp_step(
        &self,
        tenant: &TenantId,
        user_id: &str,
        step: u64,
    ) -> Result<bool, StoreError>;

    /// A session by the SHA-256 of its cookie value, revoked or expired ones included (the caller
    /// decides). Reads across tenants: the cookie is what names the tenant.
    async fn session_by_hash(&self, id_hash: &[u8; 32]) -> Result<Option<Session>, StoreError>;
    /// Updates a session's last-seen time.
    async fn touch_session(
        &self,
        tenant: &TenantId,
        session_id: &str,
        at: &str,
    ) -> Result<(), StoreError>;
    /// A person's sessions, newest first, revoked ones included.
    async fn list_sessions(
        &self,
        tenant: &TenantId,
        user_id: &str,
    ) -> Result<Vec<Session>, StoreError>;

    /// A set-password token by its SHA-256. Reads across tenants: the link names the tenant.
    async fn password_token_by_hash(
        &self,
        token_hash: &[u8; 32],
    ) -> Result<Option<PasswordToken>, StoreError>;

    /// A person's saved searches, newest first.
    async fn saved_searches(
        &self,
        tenant: &TenantId,
        user_id: &str,
    ) -> Result<Vec<SavedSearch>, StoreError>;
    /// Saves a search.
    async fn save_search(&self, tenant: &TenantId, search: SavedSearch) -> Result<(), StoreError>;
    /// Deletes a saved search of that person; false when there was none.
    async fn delete_saved_search(
        &self,
        tenant: &TenantId,
        user_id: &str,
        search_id: &str,
    ) -> Result<bool, StoreError>;

    /// One access grant to a tenant by id.
    async fn access_grant(
        &self,
        tenant: &TenantId,
        grant_id: &str,
    ) -> Result<Option<AccessGrant>, StoreError>;
    /// Access grants to a tenant, newest first.
    async fn access_grants(&self, tenant: &TenantId) -> Result<Vec<AccessGrant>, StoreError>;

    /// One setting of a tenant (JSON text).
    async fn setting(&self, tenant: &TenantId, name: &str) -> Result<Option<String>, StoreError>;
}
