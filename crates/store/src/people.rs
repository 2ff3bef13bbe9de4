//! People: users, their credentials, sign-in sessions and one-time set-password links, in domain
//! terms.
//!
//! Changes that must be audited (a person created, a role changed, a password set, a session
//! opened or revoked, a person deactivated) are not methods here: they are [`PeopleEffect`]s
//! committed by [`crate::Store::append`] in the same transaction as their audit event, so that the
//! change exists if and only if its event is in the tenant's log. A backend MUST check that an
//! effect applies before it writes anything of it, and refuse the whole request with
//! [`crate::AppendOutcome::Refused`] when it does not: nothing of the request is written. Only
//! what is not audited on its own is written directly (a session's last-seen time).
//!
//! Secrets are never stored: a session id and a set-password token are stored as the SHA-256 of
//! the random value; a password as its argon2id PHC string.
//!
//! Every method that takes a tenant MUST read and write that tenant's rows only. Two look up across
//! tenants, because the value presented is what names the tenant: [`People::session_by_hash`] and
//! [`People::password_token_by_hash`].
//!
//! Times are RFC 3339 UTC strings written by the caller, all with the same precision
//! (`YYYY-MM-DDTHH:MM:SS.ffffffZ`), so a backend MAY compare them as strings.

use crate::StoreError;
use async_trait::async_trait;
use sealbook_domain::{Role, TenantId, TenantSettings};

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
    /// True when a second factor (TOTP) is enabled.
    pub has_totp: bool,
}

/// A person's credentials: read only to check a sign-in.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Credentials {
    /// argon2id PHC string.
    pub password_hash: Option<String>,
    /// The TOTP key, sealed by the caller (the store never sees it in the clear).
    pub totp_sealed: Option<Vec<u8>>,
}

/// A platform operator's audited, time-bounded access to one tenant, stored in that tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessGrant {
    /// Public id, `acc_…`.
    pub id: String,
    /// The tenant accessed.
    pub tenant: TenantId,
    /// The operator (a person of the platform tenant).
    pub operator_id: String,
    /// The operator's e-mail address, as it was.
    pub operator_email: String,
    /// Why, as the operator wrote it.
    pub reason: String,
    /// The ticket it answers.
    pub ticket: String,
    /// RFC 3339.
    pub started_at: String,
    /// RFC 3339: the access ends then at the latest.
    pub expires_at: String,
    /// RFC 3339 time it was ended (by the operator, or recorded once lapsed).
    pub ended_at: Option<String>,
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
    /// How it was opened: `password`.
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

/// A search a person saved: a name and the search page's query string (filters only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedSearch {
    /// Public id, `srch_…`.
    pub id: String,
    /// The person.
    pub user_id: String,
    /// Its name, as the person gave it.
    pub name: String,
    /// The query string, e.g. `actor=u-42&type=order.*`.
    pub query: String,
    /// RFC 3339.
    pub created_at: String,
}

/// At most this many saved searches per person.
pub const MAX_SAVED_SEARCHES: usize = 50;

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
    /// Set a password; with a token, the token is consumed in the same transaction (a token
    /// unknown, of another person, used or expired at `at` refuses the request:
    /// [`EffectRefusal::TokenInvalid`]).
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
    /// Enable (with the sealed key) or remove (`None`) a live person's TOTP second factor.
    SetTotp {
        /// The person.
        user_id: String,
        /// The key, sealed by the caller; `None` removes the factor.
        sealed: Option<Vec<u8>>,
        /// RFC 3339.
        at: String,
    },
    /// Replace the tenant's settings (checked by the caller: [`TenantSettings::check`]).
    SetSettings {
        /// The new settings.
        settings: TenantSettings,
        /// RFC 3339.
        at: String,
    },
    /// Record an operator's access to the request's tenant (its `tenant` MUST be the request's).
    StartAccess(AccessGrant),
    /// End an access to the request's tenant that has not ended
    /// ([`EffectRefusal::UnknownAccess`] otherwise).
    EndAccess {
        /// The access grant's id.
        grant_id: String,
        /// RFC 3339.
        at: String,
    },
}

/// Why a [`PeopleEffect`] does not apply: the request is refused and nothing of it is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EffectRefusal {
    /// No such person in the tenant.
    #[error("no such person in this tenant")]
    UnknownUser,
    /// The person is deactivated.
    #[error("this person is deactivated")]
    UserDisabled,
    /// A person with this id exists.
    #[error("a person with this id exists")]
    UserExists,
    /// A person of the tenant has this e-mail address.
    #[error("a person of this tenant has this e-mail address")]
    EmailTaken,
    /// The set-password link is unknown, another person's, used or expired.
    #[error("this set-password link is not valid (used, expired or unknown)")]
    TokenInvalid,
    /// No such live session (of that person).
    #[error("no such session")]
    UnknownSession,
    /// No such access grant that has not ended.
    #[error("no such access, or it has ended")]
    UnknownAccess,
    /// The record's tenant is not the request's.
    #[error("the record belongs to another tenant than the request")]
    TenantMismatch,
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
    /// Every person of a tenant, by e-mail address.
    async fn list_users(&self, tenant: &TenantId) -> Result<Vec<User>, StoreError>;
    /// A person's credentials.
    async fn credentials(
        &self,
        tenant: &TenantId,
        user_id: &str,
    ) -> Result<Option<Credentials>, StoreError>;
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

    /// Records that a person's TOTP code of time step `step` was used: true if `step` is later
    /// than the last one used (and is now the last), false otherwise (a replayed or older code,
    /// no factor, or no such person). Not audited on its own: the sign-in it serves is.
    async fn use_totp_step(
        &self,
        tenant: &TenantId,
        user_id: &str,
        step: i64,
    ) -> Result<bool, StoreError>;

    /// The tenant's settings; `None` if never set (the defaults apply).
    async fn settings(&self, tenant: &TenantId) -> Result<Option<TenantSettings>, StoreError>;

    /// One access grant to a tenant by id.
    async fn access_grant(
        &self,
        tenant: &TenantId,
        grant_id: &str,
    ) -> Result<Option<AccessGrant>, StoreError>;

    /// A tenant's access grants, newest first, at most `limit`.
    async fn list_access_grants(
        &self,
        tenant: &TenantId,
        limit: usize,
    ) -> Result<Vec<AccessGrant>, StoreError>;

    /// Saves a search of a person of `tenant` (not audited: a person's own bookmark, which grants
    /// nothing); false, and nothing saved, when the person has [`MAX_SAVED_SEARCHES`] already.
    async fn save_search(
        &self,
        tenant: &TenantId,
        search: &SavedSearch,
    ) -> Result<bool, StoreError>;

    /// A person's saved searches, by name.
    async fn saved_searches(
        &self,
        tenant: &TenantId,
        user_id: &str,
    ) -> Result<Vec<SavedSearch>, StoreError>;

    /// Deletes one of a person's saved searches; false if they have none with this id.
    async fn delete_saved_search(
        &self,
        tenant: &TenantId,
        user_id: &str,
        id: &str,
    ) -> Result<bool, StoreError>;

    /// Access grants of every tenant that expired before `now` and were never ended, oldest
    /// first, at most `limit`: the ones whose end must still be recorded. Reads across tenants
    /// (it is the platform's own sweep).
    async fn lapsed_access_grants(
        &self,
        now: &str,
        limit: usize,
    ) -> Result<Vec<AccessGrant>, StoreError>;
}
