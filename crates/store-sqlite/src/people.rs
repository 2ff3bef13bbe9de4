//! People in the embedded store: the [`PeopleEffect`]s applied inside an append's transaction
//! ([`apply`]), and the `People` reads. Every effect checks that it applies before it writes,
//! so a refusal leaves the group's transaction as it found it.

use super::{parse_tenant, Checked, Fault, SqliteStore};
use async_trait::async_trait;
use rusqlite::{params, OptionalExtension, Transaction};
use sealbook_domain::{Role, TenantId, TenantSettings};
use sealbook_store::{
    AccessGrant, Corruption, Credentials, EffectRefusal, PasswordToken, People, PeopleEffect,
    SavedSearch, Session, StoreError, User, MAX_SAVED_SEARCHES,
};

/// Applies `effect` for tenant number `no` (`tenant`); `Some` refusal when it does not apply, in
/// which case nothing was written.
pub(crate) fn apply(
    tx: &Transaction<'_>,
    no: i64,
    tenant: &TenantId,
    effect: &PeopleEffect,
) -> Result<Option<EffectRefusal>, Fault> {
    use EffectRefusal as R;
    // The person's disabled time, if the person exists in this tenant.
    let person = |user_id: &str| -> Result<Option<Option<String>>, Fault> {
        Ok(tx
            .prepare_cached("SELECT disabled_at FROM users WHERE tenant_no = ?1 AND id = ?2")?
            .query_row(params![no, user_id], |r| r.get::<_, Option<String>>(0))
            .optional()?)
    };
    let live = |user_id: &str| -> Result<Option<EffectRefusal>, Fault> {
        Ok(match person(user_id)? {
            None => Some(R::UnknownUser),
            Some(Some(_)) => Some(R::UserDisabled),
            Some(None) => None,
        })
    };
    match effect {
        PeopleEffect::CreateUser {
            user,
            password_token,
        } => {
            if &user.tenant != tenant {
                return Ok(Some(R::TenantMismatch));
            }
            let id_taken: bool = tx.query_row(
                "SELECT EXISTS(SELECT 1 FROM users WHERE id = ?1)",
                [&user.id],
                |r| r.get(0),
            )?;
            if id_taken {
                return Ok(Some(R::UserExists));
            }
            let email_taken: bool = tx.query_row(
                "SELECT EXISTS(SELECT 1 FROM users WHERE tenant_no = ?1 AND email = ?2)",
                params![no, user.email],
                |r| r.get(0),
            )?;
            if email_taken {
                return Ok(Some(R::EmailTaken));
            }
            tx.execute(
                "INSERT INTO users(tenant_no, id, email, name, role, created_at, disabled_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![no, user.id, user.email, user.name, user.role.as_str(), user.created_at, user.disabled_at],
            )?;
            if let Some((hash, expires)) = password_token {
                tx.execute(
                    "INSERT INTO password_tokens(token_hash, tenant_no, user_id, expires_at) VALUES (?1, ?2, ?3, ?4)",
                    params![hash.as_slice(), no, user.id, expires],
                )?;
            }
        }
        PeopleEffect::CreatePasswordToken {
            user_id,
            token_hash,
            expires_at,
        } => {
            if let Some(r) = live(user_id)? {
                return Ok(Some(r));
            }
            tx.execute(
                "INSERT INTO password_tokens(token_hash, tenant_no, user_id, expires_at) VALUES (?1, ?2, ?3, ?4)",
                params![token_hash.as_slice(), no, user_id, expires_at],
            )?;
        }
        PeopleEffect::SetRole { user_id, role } => {
            if let Some(r) = live(user_id)? {
                return Ok(Some(r));
            }
            tx.execute(
                "UPDATE users SET role = ?3 WHERE tenant_no = ?1 AND id = ?2",
                params![no, user_id, role.as_str()],
            )?;
        }
        PeopleEffect::DisableUser { user_id, at } => {
            if let Some(r) = live(user_id)? {
                return Ok(Some(r));
            }
            tx.execute(
                "UPDATE users SET disabled_at = ?3 WHERE tenant_no = ?1 AND id = ?2",
                params![no, user_id, at],
            )?;
            tx.execute(
                "UPDATE sessions SET revoked_at = ?3 WHERE tenant_no = ?1 AND user_id = ?2 AND revoked_at IS NULL",
                params![no, user_id, at],
            )?;
        }
        PeopleEffect::SetPassword {
            user_id,
            password_hash,
            token_hash,
            at,
        } => {
            if let Some(r) = live(user_id)? {
                return Ok(Some(r));
            }
            if let Some(h) = token_hash {
                let valid: bool = tx.query_row(
                    "SELECT EXISTS(SELECT 1 FROM password_tokens WHERE token_hash = ?1 AND tenant_no = ?2 AND user_id = ?3 AND used_at IS NULL AND expires_at > ?4)",
                    params![h.as_slice(), no, user_id, at],
                    |r| r.get(0),
                )?;
                if !valid {
                    return Ok(Some(R::TokenInvalid));
                }
                tx.execute(
                    "UPDATE password_tokens SET used_at = ?2 WHERE token_hash = ?1",
                    params![h.as_slice(), at],
                )?;
            }
            tx.execute(
                "UPDATE users SET password_hash = ?3 WHERE tenant_no = ?1 AND id = ?2",
                params![no, user_id, password_hash],
            )?;
        }
        PeopleEffect::OpenSession { id_hash, session } => {
            if &session.tenant != tenant {
                return Ok(Some(R::TenantMismatch));
            }
            if let Some(r) = live(&session.user_id)? {
                return Ok(Some(r));
            }
            tx.execute(
                "INSERT INTO sessions(id_hash, id, tenant_no, user_id, method, created_at, last_seen_at, expires_at, ip, user_agent) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                params![id_hash.as_slice(), session.id, no, session.user_id, session.method, session.created_at, session.last_seen_at, session.expires_at, session.ip, session.user_agent],
            )?;
        }
        PeopleEffect::RevokeSession {
            session_id,
            user_id,
            at,
        } => {
            let n = tx.execute(
                "UPDATE sessions SET revoked_at = ?4 WHERE id = ?1 AND tenant_no = ?2 AND (?3 IS NULL OR user_id = ?3) AND revoked_at IS NULL",
                params![session_id, no, user_id, at],
            )?;
            if n == 0 {
                return Ok(Some(R::UnknownSession));
            }
        }
        PeopleEffect::SetTotp {
            user_id,
            sealed,
            at,
        } => {
            if let Some(r) = live(user_id)? {
                return Ok(Some(r));
            }
            match sealed {
                Some(sealed) => tx.execute(
                    "INSERT OR REPLACE INTO user_totp(tenant_no, user_id, sealed, enabled_at, last_step) VALUES (?1, ?2, ?3, ?4, 0)",
                    params![no, user_id, sealed, at],
                )?,
                None => tx.execute(
                    "DELETE FROM user_totp WHERE tenant_no = ?1 AND user_id = ?2",
                    params![no, user_id],
                )?,
            };
        }
        PeopleEffect::SetSettings { settings, at } => {
            let json = serde_json::to_string(settings).map_err(|e| {
                Fault::Corrupt(Corruption::new("tenant settings to store").caused_by(e))
            })?;
            tx.execute(
                "INSERT INTO tenant_settings(tenant_no, settings, updated_at) VALUES (?1, ?2, ?3) ON CONFLICT(tenant_no) DO UPDATE SET settings = excluded.settings, updated_at = excluded.updated_at",
                params![no, json, at],
            )?;
        }
        PeopleEffect::StartAccess(g) => {
            if &g.tenant != tenant {
                return Ok(Some(R::TenantMismatch));
            }
            tx.execute(
                "INSERT INTO access_grants(id, tenant_no, operator_id, operator_email, reason, ticket, started_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![g.id, no, g.operator_id, g.operator_email, g.reason, g.ticket, g.started_at, g.expires_at],
            )?;
        }
        PeopleEffect::EndAccess { grant_id, at } => {
            let n = tx.execute(
                "UPDATE access_grants SET ended_at = ?3 WHERE id = ?1 AND tenant_no = ?2 AND ended_at IS NULL",
                params![grant_id, no, at],
            )?;
            if n == 0 {
                return Ok(Some(R::UnknownAccess));
            }
        }
    }
    Ok(None)
}

const GRANT_COLUMNS: &str = "g.id, t.id, g.operator_id, g.operator_email, g.reason, g.ticket, g.started_at, g.expires_at, g.ended_at FROM access_grants g JOIN tenants t ON t.no = g.tenant_no";

fn grant_from_row(r: &rusqlite::Row<'_>) -> Checked<AccessGrant> {
    let tenant: String = r.get(1)?;
    let tenant = match parse_tenant(&tenant) {
        Ok(t) => t,
        Err(c) => return Ok(Err(c)),
    };
    Ok(Ok(AccessGrant {
        id: r.get(0)?,
        tenant,
        operator_id: r.get(2)?,
        operator_email: r.get(3)?,
        reason: r.get(4)?,
        ticket: r.get(5)?,
        started_at: r.get(6)?,
        expires_at: r.get(7)?,
        ended_at: r.get(8)?,
    }))
}

const USER_COLUMNS: &str = "u.id, t.id, u.email, u.name, u.role, u.created_at, u.disabled_at, u.password_hash IS NOT NULL, EXISTS(SELECT 1 FROM user_totp f WHERE f.tenant_no = u.tenant_no AND f.user_id = u.id) FROM users u JOIN tenants t ON t.no = u.tenant_no";

fn user_from_row(r: &rusqlite::Row<'_>) -> Checked<User> {
    let tenant: String = r.get(1)?;
    let role: String = r.get(4)?;
    let (tenant, role) = match (parse_tenant(&tenant), role.parse::<Role>()) {
        (Ok(t), Ok(role)) => (t, role),
        (Err(c), _) => return Ok(Err(c)),
        (_, Err(e)) => return Ok(Err(Corruption::new("stored role").caused_by(e))),
    };
    Ok(Ok(User {
        id: r.get(0)?,
        tenant,
        email: r.get(2)?,
        name: r.get(3)?,
        role,
        created_at: r.get(5)?,
        disabled_at: r.get(6)?,
        has_password: r.get(7)?,
        has_totp: r.get(8)?,
    }))
}

const SESSION_COLUMNS: &str = "s.id, s.user_id, t.id, s.method, s.created_at, s.last_seen_at, s.expires_at, s.ip, s.user_agent, s.revoked_at FROM sessions s JOIN tenants t ON t.no = s.tenant_no";

fn session_from_row(r: &rusqlite::Row<'_>) -> Checked<Session> {
    let tenant: String = r.get(2)?;
    let tenant = match parse_tenant(&tenant) {
        Ok(t) => t,
        Err(c) => return Ok(Err(c)),
    };
    Ok(Ok(Session {
        id: r.get(0)?,
        user_id: r.get(1)?,
        tenant,
        method: r.get(3)?,
        created_at: r.get(4)?,
        last_seen_at: r.get(5)?,
        expires_at: r.get(6)?,
        ip: r.get(7)?,
        user_agent: r.get(8)?,
        revoked_at: r.get(9)?,
    }))
}

#[async_trait]
impl People for SqliteStore {
    async fn user(&self, tenant: &TenantId, user_id: &str) -> Result<Option<User>, StoreError> {
        let (t, u) = (tenant.clone(), user_id.to_owned());
        self.read(move |c| {
            let user = c
                .prepare_cached(&format!(
                    "SELECT {USER_COLUMNS} WHERE t.id = ?1 AND u.id = ?2"
                ))?
                .query_row([t.as_str(), u.as_str()], user_from_row)
                .optional()?;
            Ok(user.transpose()?)
        })
        .await
    }

    async fn user_by_email(
        &self,
        tenant: &TenantId,
        email: &str,
    ) -> Result<Option<User>, StoreError> {
        let (t, e) = (tenant.clone(), email.to_owned());
        self.read(move |c| {
            let user = c
                .prepare_cached(&format!(
                    "SELECT {USER_COLUMNS} WHERE t.id = ?1 AND u.email = ?2"
                ))?
                .query_row([t.as_str(), e.as_str()], user_from_row)
                .optional()?;
            Ok(user.transpose()?)
        })
        .await
    }

    async fn list_users(&self, tenant: &TenantId) -> Result<Vec<User>, StoreError> {
        let t = tenant.clone();
        self.read(move |c| {
            let mut s = c.prepare_cached(&format!(
                "SELECT {USER_COLUMNS} WHERE t.id = ?1 ORDER BY u.email"
            ))?;
            let rows = s.query_map([t.as_str()], user_from_row)?;
            rows.map(|r| Ok(r??)).collect()
        })
        .await
    }

    async fn credentials(
        &self,
        tenant: &TenantId,
        user_id: &str,
    ) -> Result<Option<Credentials>, StoreError> {
        let (t, u) = (tenant.clone(), user_id.to_owned());
        self.read(move |c| {
            Ok(c.prepare_cached(
                "SELECT u.password_hash, f.sealed FROM users u JOIN tenants t ON t.no = u.tenant_no LEFT JOIN user_totp f ON f.tenant_no = u.tenant_no AND f.user_id = u.id WHERE t.id = ?1 AND u.id = ?2",
            )?
            .query_row([t.as_str(), u.as_str()], |r| {
                Ok(Credentials {
                    password_hash: r.get(0)?,
                    totp_sealed: r.get(1)?,
                })
            })
            .optional()?)
        })
        .await
    }

    async fn session_by_hash(&self, id_hash: &[u8; 32]) -> Result<Option<Session>, StoreError> {
        let h = *id_hash;
        self.read(move |c| {
            let s = c
                .prepare_cached(&format!("SELECT {SESSION_COLUMNS} WHERE s.id_hash = ?1"))?
                .query_row([h.as_slice()], session_from_row)
                .optional()?;
            Ok(s.transpose()?)
        })
        .await
    }

    async fn touch_session(
        &self,
        tenant: &TenantId,
        session_id: &str,
        at: &str,
    ) -> Result<(), StoreError> {
        let (t, s, at) = (tenant.clone(), session_id.to_owned(), at.to_owned());
        self.write(move |w| {
            w.conn
                .execute(
                    "UPDATE sessions SET last_seen_at = ?3 WHERE id = ?2 AND tenant_no = (SELECT no FROM tenants WHERE id = ?1) AND last_seen_at < ?3",
                    params![t.as_str(), s, at],
                )
                .map_err(|e| StoreError::from(Fault::from(e)))?;
            Ok(())
        })
        .await
    }

    async fn list_sessions(
        &self,
        tenant: &TenantId,
        user_id: &str,
    ) -> Result<Vec<Session>, StoreError> {
        let (t, u) = (tenant.clone(), user_id.to_owned());
        self.read(move |c| {
            let mut s = c.prepare_cached(&format!(
                "SELECT {SESSION_COLUMNS} WHERE t.id = ?1 AND s.user_id = ?2 ORDER BY s.created_at DESC, s.id"
            ))?;
            let rows = s.query_map([t.as_str(), u.as_str()], session_from_row)?;
            rows.map(|r| Ok(r??)).collect()
        })
        .await
    }

    async fn password_token_by_hash(
        &self,
        token_hash: &[u8; 32],
    ) -> Result<Option<PasswordToken>, StoreError> {
        let h = *token_hash;
        self.read(move |c| {
            let row = c
                .prepare_cached(
                    "SELECT p.user_id, t.id, p.expires_at, p.used_at FROM password_tokens p JOIN tenants t ON t.no = p.tenant_no WHERE p.token_hash = ?1",
                )?
                .query_row([h.as_slice()], |r| {
                    let tenant: String = r.get(1)?;
                    let (user_id, expires_at, used_at) = (r.get(0)?, r.get(2)?, r.get(3)?);
                    Ok(parse_tenant(&tenant).map(|tenant| PasswordToken {
                        user_id,
                        tenant,
                        expires_at,
                        used_at,
                    }))
                })
                .optional()?;
            Ok(row.transpose()?)
        })
        .await
    }

    async fn use_totp_step(
        &self,
        tenant: &TenantId,
        user_id: &str,
        step: i64,
    ) -> Result<bool, StoreError> {
        let (t, u) = (tenant.clone(), user_id.to_owned());
        self.write(move |w| {
            let n = w
                .conn
                .execute(
                    "UPDATE user_totp SET last_step = ?3 WHERE tenant_no = (SELECT no FROM tenants WHERE id = ?1) AND user_id = ?2 AND last_step < ?3",
                    params![t.as_str(), u, step],
                )
                .map_err(|e| StoreError::from(Fault::from(e)))?;
            Ok(n == 1)
        })
        .await
    }

    async fn settings(&self, tenant: &TenantId) -> Result<Option<TenantSettings>, StoreError> {
        let t = tenant.clone();
        self.read(move |c| {
            let json: Option<String> = c
                .prepare_cached(
                    "SELECT s.settings FROM tenant_settings s JOIN tenants t ON t.no = s.tenant_no WHERE t.id = ?1",
                )?
                .query_row([t.as_str()], |r| r.get(0))
                .optional()?;
            json.map(|j| {
                serde_json::from_str(&j)
                    .map_err(|e| Fault::Corrupt(Corruption::new("stored tenant settings").caused_by(e)))
            })
            .transpose()
        })
        .await
    }

    async fn access_grant(
        &self,
        tenant: &TenantId,
        grant_id: &str,
    ) -> Result<Option<AccessGrant>, StoreError> {
        let (t, g) = (tenant.clone(), grant_id.to_owned());
        self.read(move |c| {
            let row = c
                .prepare_cached(&format!(
                    "SELECT {GRANT_COLUMNS} WHERE t.id = ?1 AND g.id = ?2"
                ))?
                .query_row([t.as_str(), g.as_str()], grant_from_row)
                .optional()?;
            Ok(row.transpose()?)
        })
        .await
    }

    async fn list_access_grants(
        &self,
        tenant: &TenantId,
        limit: usize,
    ) -> Result<Vec<AccessGrant>, StoreError> {
        let t = tenant.clone();
        let limit = limit.min(i64::MAX as usize) as i64;
        self.read(move |c| {
            let mut s = c.prepare_cached(&format!(
                "SELECT {GRANT_COLUMNS} WHERE t.id = ?1 ORDER BY g.started_at DESC, g.id LIMIT ?2"
            ))?;
            let rows = s.query_map(params![t.as_str(), limit], grant_from_row)?;
            rows.map(|r| Ok(r??)).collect()
        })
        .await
    }

    async fn lapsed_access_grants(
        &self,
        now: &str,
        limit: usize,
    ) -> Result<Vec<AccessGrant>, StoreError> {
        let now = now.to_owned();
        let limit = limit.min(i64::MAX as usize) as i64;
        self.read(move |c| {
            let mut s = c.prepare_cached(&format!(
                "SELECT {GRANT_COLUMNS} WHERE g.ended_at IS NULL AND g.expires_at <= ?1 ORDER BY g.expires_at, g.id LIMIT ?2"
            ))?;
            let rows = s.query_map(params![now, limit], grant_from_row)?;
            rows.map(|r| Ok(r??)).collect()
        })
        .await
    }

    async fn save_search(
        &self,
        tenant: &TenantId,
        search: &SavedSearch,
    ) -> Result<bool, StoreError> {
        let (t, x) = (tenant.clone(), search.clone());
        self.write(move |w| {
            let tx = w.conn.transaction().map_err(|e| StoreError::from(Fault::from(e)))?;
            let saved = (|| -> Result<bool, Fault> {
                let no: Option<i64> = tx
                    .query_row("SELECT no FROM tenants WHERE id = ?1", [t.as_str()], |r| r.get(0))
                    .optional()?;
                let Some(no) = no else { return Ok(false) };
                let n: i64 = tx.query_row(
                    "SELECT count(*) FROM saved_searches WHERE tenant_no = ?1 AND user_id = ?2",
                    params![no, x.user_id],
                    |r| r.get(0),
                )?;
                if n as usize >= MAX_SAVED_SEARCHES {
                    return Ok(false);
                }
                tx.execute(
                    "INSERT INTO saved_searches(tenant_no, user_id, id, name, query, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![no, x.user_id, x.id, x.name, x.query, x.created_at],
                )?;
                Ok(true)
            })()
            .map_err(StoreError::from)?;
            tx.commit().map_err(|e| StoreError::from(Fault::from(e)))?;
            Ok(saved)
        })
        .await
    }

    async fn saved_searches(
        &self,
        tenant: &TenantId,
        user_id: &str,
    ) -> Result<Vec<SavedSearch>, StoreError> {
        let (t, u) = (tenant.clone(), user_id.to_owned());
        self.read(move |c| {
            let mut s = c.prepare_cached(
                "SELECT x.id, x.user_id, x.name, x.query, x.created_at FROM saved_searches x JOIN tenants t ON t.no = x.tenant_no WHERE t.id = ?1 AND x.user_id = ?2 ORDER BY x.name, x.id",
            )?;
            let rows = s.query_map([t.as_str(), u.as_str()], |r| {
                Ok(SavedSearch {
                    id: r.get(0)?,
                    user_id: r.get(1)?,
                    name: r.get(2)?,
                    query: r.get(3)?,
                    created_at: r.get(4)?,
                })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    async fn delete_saved_search(
        &self,
        tenant: &TenantId,
        user_id: &str,
        id: &str,
    ) -> Result<bool, StoreError> {
        let (t, u, id) = (tenant.clone(), user_id.to_owned(), id.to_owned());
        self.write(move |w| {
            let n = w
                .conn
                .execute(
                    "DELETE FROM saved_searches WHERE tenant_no = (SELECT no FROM tenants WHERE id = ?1) AND user_id = ?2 AND id = ?3",
                    params![t.as_str(), u, id],
                )
                .map_err(|e| StoreError::from(Fault::from(e)))?;
            Ok(n == 1)
        })
        .await
    }
}
