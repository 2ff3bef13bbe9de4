//! People on PostgreSQL: the [`PeopleEffect`]s applied inside an append's transaction (already
//! confined to the request's tenant by row-level security: [`apply`]), and the `People` reads.
//! Every effect checks that it applies before it writes, so a refusal leaves the group's
//! transaction as it found it.

use crate::store::{db, tenant_id, PgStore};
use async_trait::async_trait;
use sealbook_domain::{Role, TenantId, TenantSettings};
use sealbook_store::{
    AccessGrant, Corruption, Credentials, EffectRefusal, PasswordToken, People, PeopleEffect,
    SavedSearch, Session, StoreError, User, MAX_SAVED_SEARCHES,
};
use tokio_postgres::Transaction;

/// Applies `effect` for tenant `t`, in a transaction confined to it; `Some` refusal when it does
/// not apply, in which case nothing was written.
pub(crate) async fn apply(
    tx: &Transaction<'_>,
    t: &str,
    effect: &PeopleEffect,
) -> Result<Option<EffectRefusal>, StoreError> {
    use EffectRefusal as R;
    let live = |user_id: String| async move {
        let row = tx
            .query_opt(
                "SELECT disabled_at FROM users WHERE tenant_id = $1 AND id = $2",
                &[&t, &user_id],
            )
            .await
            .map_err(db)?;
        Ok::<_, StoreError>(match row {
            None => Some(R::UnknownUser),
            Some(r) if r.get::<_, Option<String>>(0).is_some() => Some(R::UserDisabled),
            Some(_) => None,
        })
    };
    let exists = |sql: &'static str, a: String, b: Option<String>| async move {
        let row = match &b {
            Some(b) => tx.query_one(sql, &[&a, b]).await,
            None => tx.query_one(sql, &[&a]).await,
        }
        .map_err(db)?;
        Ok::<bool, StoreError>(row.get(0))
    };
    match effect {
        PeopleEffect::CreateUser {
            user,
            password_token,
        } => {
            if user.tenant.as_str() != t {
                return Ok(Some(R::TenantMismatch));
            }
            // Ids are unique across tenants; only this tenant's rows are visible, so a taken id
            // of another tenant shows as the unique violation below, which a random id never meets.
            if exists(
                "SELECT EXISTS(SELECT 1 FROM users WHERE id = $1)",
                user.id.clone(),
                None,
            )
            .await?
            {
                return Ok(Some(R::UserExists));
            }
            if exists(
                "SELECT EXISTS(SELECT 1 FROM users WHERE tenant_id = $1 AND email = $2)",
                t.to_owned(),
                Some(user.email.clone()),
            )
            .await?
            {
                return Ok(Some(R::EmailTaken));
            }
            tx.execute(
                "INSERT INTO users(tenant_id, id, email, name, role, created_at, disabled_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                &[&t, &user.id, &user.email, &user.name, &user.role.as_str(), &user.created_at, &user.disabled_at],
            )
            .await
            .map_err(db)?;
            if let Some((hash, expires)) = password_token {
                tx.execute(
                    "INSERT INTO password_tokens(token_hash, tenant_id, user_id, expires_at) VALUES ($1, $2, $3, $4)",
                    &[&hash.as_slice(), &t, &user.id, expires],
                )
                .await
                .map_err(db)?;
            }
        }
        PeopleEffect::CreatePasswordToken {
            user_id,
            token_hash,
            expires_at,
        } => {
            if let Some(r) = live(user_id.clone()).await? {
                return Ok(Some(r));
            }
            tx.execute(
                "INSERT INTO password_tokens(token_hash, tenant_id, user_id, expires_at) VALUES ($1, $2, $3, $4)",
                &[&token_hash.as_slice(), &t, user_id, expires_at],
            )
            .await
            .map_err(db)?;
        }
        PeopleEffect::SetRole { user_id, role } => {
            if let Some(r) = live(user_id.clone()).await? {
                return Ok(Some(r));
            }
            tx.execute(
                "UPDATE users SET role = $3 WHERE tenant_id = $1 AND id = $2",
                &[&t, user_id, &role.as_str()],
            )
            .await
            .map_err(db)?;
        }
        PeopleEffect::DisableUser { user_id, at } => {
            if let Some(r) = live(user_id.clone()).await? {
                return Ok(Some(r));
            }
            tx.execute(
                "UPDATE users SET disabled_at = $3 WHERE tenant_id = $1 AND id = $2",
                &[&t, user_id, at],
            )
            .await
            .map_err(db)?;
            tx.execute(
                "UPDATE sessions SET revoked_at = $3 WHERE tenant_id = $1 AND user_id = $2 AND revoked_at IS NULL",
                &[&t, user_id, at],
            )
            .await
            .map_err(db)?;
        }
        PeopleEffect::SetPassword {
            user_id,
            password_hash,
            token_hash,
            at,
        } => {
            if let Some(r) = live(user_id.clone()).await? {
                return Ok(Some(r));
            }
            if let Some(h) = token_hash {
                let n = tx
                    .execute(
                        "UPDATE password_tokens SET used_at = $4 WHERE token_hash = $1 AND tenant_id = $2 AND user_id = $3 AND used_at IS NULL AND expires_at > $4",
                        &[&h.as_slice(), &t, user_id, at],
                    )
                    .await
                    .map_err(db)?;
                if n == 0 {
                    return Ok(Some(R::TokenInvalid));
                }
            }
            tx.execute(
                "UPDATE users SET password_hash = $3 WHERE tenant_id = $1 AND id = $2",
                &[&t, user_id, password_hash],
            )
            .await
            .map_err(db)?;
        }
        PeopleEffect::OpenSession { id_hash, session } => {
            if session.tenant.as_str() != t {
                return Ok(Some(R::TenantMismatch));
            }
            if let Some(r) = live(session.user_id.clone()).await? {
                return Ok(Some(r));
            }
            tx.execute(
                "INSERT INTO sessions(id_hash, id, tenant_id, user_id, method, created_at, last_seen_at, expires_at, ip, user_agent) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                &[&id_hash.as_slice(), &session.id, &t, &session.user_id, &session.method, &session.created_at, &session.last_seen_at, &session.expires_at, &session.ip, &session.user_agent],
            )
            .await
            .map_err(db)?;
        }
        PeopleEffect::RevokeSession {
            session_id,
            user_id,
            at,
        } => {
            let n = tx
                .execute(
                    "UPDATE sessions SET revoked_at = $4 WHERE id = $1 AND tenant_id = $2 AND ($3::text IS NULL OR user_id = $3) AND revoked_at IS NULL",
                    &[session_id, &t, user_id, at],
                )
                .await
                .map_err(db)?;
            if n == 0 {
                return Ok(Some(R::UnknownSession));
            }
        }
        PeopleEffect::SetTotp {
            user_id,
            sealed,
            at,
        } => {
            if let Some(r) = live(user_id.clone()).await? {
                return Ok(Some(r));
            }
            match sealed {
                Some(sealed) => tx.execute(
                    "INSERT INTO user_totp(tenant_id, user_id, sealed, enabled_at, last_step) VALUES ($1, $2, $3, $4, 0) ON CONFLICT (tenant_id, user_id) DO UPDATE SET sealed = excluded.sealed, enabled_at = excluded.enabled_at, last_step = 0",
                    &[&t, user_id, sealed, at],
                ).await,
                None => tx.execute(
                    "DELETE FROM user_totp WHERE tenant_id = $1 AND user_id = $2",
                    &[&t, user_id],
                ).await,
            }
            .map_err(db)?;
        }
        PeopleEffect::SetSettings { settings, at } => {
            let json = serde_json::to_string(settings)
                .map_err(|e| Corruption::new("tenant settings to store").caused_by(e))?;
            tx.execute(
                "INSERT INTO tenant_settings(tenant_id, settings, updated_at) VALUES ($1, $2, $3) ON CONFLICT (tenant_id) DO UPDATE SET settings = excluded.settings, updated_at = excluded.updated_at",
                &[&t, &json, at],
            )
            .await
            .map_err(db)?;
        }
        PeopleEffect::StartAccess(g) => {
            if g.tenant.as_str() != t {
                return Ok(Some(R::TenantMismatch));
            }
            tx.execute(
                "INSERT INTO access_grants(id, tenant_id, operator_id, operator_email, reason, ticket, started_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                &[&g.id, &t, &g.operator_id, &g.operator_email, &g.reason, &g.ticket, &g.started_at, &g.expires_at],
            )
            .await
            .map_err(db)?;
        }
        PeopleEffect::EndAccess { grant_id, at } => {
            let n = tx
                .execute(
                    "UPDATE access_grants SET ended_at = $3 WHERE id = $1 AND tenant_id = $2 AND ended_at IS NULL",
                    &[grant_id, &t, at],
                )
                .await
                .map_err(db)?;
            if n == 0 {
                return Ok(Some(R::UnknownAccess));
            }
        }
    }
    Ok(None)
}

const GRANT_COLUMNS: &str =
    "id, tenant_id, operator_id, operator_email, reason, ticket, started_at, expires_at, ended_at";

fn grant_from_row(r: &tokio_postgres::Row) -> Result<AccessGrant, StoreError> {
    Ok(AccessGrant {
        id: r.get("id"),
        tenant: tenant_id(r.get("tenant_id"))?,
        operator_id: r.get("operator_id"),
        operator_email: r.get("operator_email"),
        reason: r.get("reason"),
        ticket: r.get("ticket"),
        started_at: r.get("started_at"),
        expires_at: r.get("expires_at"),
        ended_at: r.get("ended_at"),
    })
}

const USER_COLUMNS: &str = "u.id, u.tenant_id, u.email, u.name, u.role, u.created_at, u.disabled_at, u.password_hash IS NOT NULL AS has_password, EXISTS(SELECT 1 FROM user_totp f WHERE f.tenant_id = u.tenant_id AND f.user_id = u.id) AS has_totp FROM users u";

fn user_from_row(r: &tokio_postgres::Row) -> Result<User, StoreError> {
    let role: String = r.get("role");
    Ok(User {
        id: r.get("id"),
        tenant: tenant_id(r.get("tenant_id"))?,
        email: r.get("email"),
        name: r.get("name"),
        role: role
            .parse::<Role>()
            .map_err(|e| Corruption::new("stored role").caused_by(e))?,
        created_at: r.get("created_at"),
        disabled_at: r.get("disabled_at"),
        has_password: r.get("has_password"),
        has_totp: r.get("has_totp"),
    })
}

const SESSION_COLUMNS: &str =
    "id, user_id, tenant_id, method, created_at, last_seen_at, expires_at, ip, user_agent, revoked_at";

fn session_from_row(r: &tokio_postgres::Row) -> Result<Session, StoreError> {
    Ok(Session {
        id: r.get("id"),
        user_id: r.get("user_id"),
        tenant: tenant_id(r.get("tenant_id"))?,
        method: r.get("method"),
        created_at: r.get("created_at"),
        last_seen_at: r.get("last_seen_at"),
        expires_at: r.get("expires_at"),
        ip: r.get("ip"),
        user_agent: r.get("user_agent"),
        revoked_at: r.get("revoked_at"),
    })
}

#[async_trait]
impl People for PgStore {
    async fn user(&self, tenant: &TenantId, user_id: &str) -> Result<Option<User>, StoreError> {
        let rows = self
            .scoped(
                tenant.as_str(),
                &format!("SELECT {USER_COLUMNS} WHERE u.tenant_id = $1 AND u.id = $2"),
                &[&tenant.as_str(), &user_id],
            )
            .await?;
        rows.first().map(user_from_row).transpose()
    }

    async fn user_by_email(
        &self,
        tenant: &TenantId,
        email: &str,
    ) -> Result<Option<User>, StoreError> {
        let rows = self
            .scoped(
                tenant.as_str(),
                &format!("SELECT {USER_COLUMNS} WHERE u.tenant_id = $1 AND u.email = $2"),
                &[&tenant.as_str(), &email],
            )
            .await?;
        rows.first().map(user_from_row).transpose()
    }

    async fn list_users(&self, tenant: &TenantId) -> Result<Vec<User>, StoreError> {
        let rows = self
            .scoped(
                tenant.as_str(),
                &format!("SELECT {USER_COLUMNS} WHERE u.tenant_id = $1 ORDER BY u.email"),
                &[&tenant.as_str()],
            )
            .await?;
        rows.iter().map(user_from_row).collect()
    }

    async fn credentials(
        &self,
        tenant: &TenantId,
        user_id: &str,
    ) -> Result<Option<Credentials>, StoreError> {
        let rows = self
            .scoped(
                tenant.as_str(),
                "SELECT u.password_hash, f.sealed FROM users u LEFT JOIN user_totp f ON f.tenant_id = u.tenant_id AND f.user_id = u.id WHERE u.tenant_id = $1 AND u.id = $2",
                &[&tenant.as_str(), &user_id],
            )
            .await?;
        Ok(rows.first().map(|r| Credentials {
            password_hash: r.get(0),
            totp_sealed: r.get(1),
        }))
    }

    async fn session_by_hash(&self, id_hash: &[u8; 32]) -> Result<Option<Session>, StoreError> {
        let row = self
            .client()
            .await?
            .query_opt(
                &format!("SELECT {SESSION_COLUMNS} FROM sealbook_session_by_hash($1)"),
                &[&id_hash.as_slice()],
            )
            .await
            .map_err(db)?;
        row.as_ref().map(session_from_row).transpose()
    }

    async fn touch_session(
        &self,
        tenant: &TenantId,
        session_id: &str,
        at: &str,
    ) -> Result<(), StoreError> {
        self.scoped(
            tenant.as_str(),
            "UPDATE sessions SET last_seen_at = $3 WHERE tenant_id = $1 AND id = $2 AND revoked_at IS NULL AND last_seen_at < $3",
            &[&tenant.as_str(), &session_id, &at],
        )
        .await?;
        Ok(())
    }

    async fn list_sessions(
        &self,
        tenant: &TenantId,
        user_id: &str,
    ) -> Result<Vec<Session>, StoreError> {
        let rows = self
            .scoped(
                tenant.as_str(),
                &format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE tenant_id = $1 AND user_id = $2 ORDER BY created_at DESC, id"),
                &[&tenant.as_str(), &user_id],
            )
            .await?;
        rows.iter().map(session_from_row).collect()
    }

    async fn password_token_by_hash(
        &self,
        token_hash: &[u8; 32],
    ) -> Result<Option<PasswordToken>, StoreError> {
        let row = self
            .client()
            .await?
            .query_opt(
                "SELECT user_id, tenant_id, expires_at, used_at FROM sealbook_password_token_by_hash($1)",
                &[&token_hash.as_slice()],
            )
            .await
            .map_err(db)?;
        row.map(|r| {
            Ok(PasswordToken {
                user_id: r.get("user_id"),
                tenant: tenant_id(r.get("tenant_id"))?,
                expires_at: r.get("expires_at"),
                used_at: r.get("used_at"),
            })
        })
        .transpose()
    }

    async fn use_totp_step(
        &self,
        tenant: &TenantId,
        user_id: &str,
        step: i64,
    ) -> Result<bool, StoreError> {
        let rows = self
            .scoped(
                tenant.as_str(),
                "UPDATE user_totp SET last_step = $3 WHERE tenant_id = $1 AND user_id = $2 AND last_step < $3 RETURNING 1",
                &[&tenant.as_str(), &user_id, &step],
            )
            .await?;
        Ok(rows.len() == 1)
    }

    async fn settings(&self, tenant: &TenantId) -> Result<Option<TenantSettings>, StoreError> {
        let rows = self
            .scoped(
                tenant.as_str(),
                "SELECT settings FROM tenant_settings WHERE tenant_id = $1",
                &[&tenant.as_str()],
            )
            .await?;
        rows.first()
            .map(|r| {
                serde_json::from_str::<TenantSettings>(r.get(0)).map_err(|e| {
                    Corruption::new("stored tenant settings")
                        .caused_by(e)
                        .into()
                })
            })
            .transpose()
    }

    async fn access_grant(
        &self,
        tenant: &TenantId,
        grant_id: &str,
    ) -> Result<Option<AccessGrant>, StoreError> {
        let rows = self
            .scoped(
                tenant.as_str(),
                &format!(
                    "SELECT {GRANT_COLUMNS} FROM access_grants WHERE tenant_id = $1 AND id = $2"
                ),
                &[&tenant.as_str(), &grant_id],
            )
            .await?;
        rows.first().map(grant_from_row).transpose()
    }

    async fn list_access_grants(
        &self,
        tenant: &TenantId,
        limit: usize,
    ) -> Result<Vec<AccessGrant>, StoreError> {
        let limit = limit.min(i64::MAX as usize) as i64;
        let rows = self
            .scoped(
                tenant.as_str(),
                &format!("SELECT {GRANT_COLUMNS} FROM access_grants WHERE tenant_id = $1 ORDER BY started_at DESC, id LIMIT $2"),
                &[&tenant.as_str(), &limit],
            )
            .await?;
        rows.iter().map(grant_from_row).collect()
    }

    async fn lapsed_access_grants(
        &self,
        now: &str,
        limit: usize,
    ) -> Result<Vec<AccessGrant>, StoreError> {
        let limit = limit.min(i32::MAX as usize) as i32;
        let rows = self
            .client()
            .await?
            .query(
                &format!("SELECT {GRANT_COLUMNS} FROM sealbook_lapsed_access_grants($1, $2)"),
                &[&now, &limit],
            )
            .await
            .map_err(db)?;
        rows.iter().map(grant_from_row).collect()
    }

    async fn save_search(
        &self,
        tenant: &TenantId,
        search: &SavedSearch,
    ) -> Result<bool, StoreError> {
        // One statement: the count and the insert see the same snapshot; two saves at the same
        // instant could both pass the bound by one, which bounds nothing that matters.
        let max = MAX_SAVED_SEARCHES as i64;
        let rows = self
            .scoped(
                tenant.as_str(),
                "INSERT INTO saved_searches(tenant_id, user_id, id, name, query, created_at) \
                 SELECT $1, $2, $3, $4, $5, $6 WHERE (SELECT count(*) FROM saved_searches WHERE tenant_id = $1 AND user_id = $2) < $7 \
                 RETURNING 1",
                &[&tenant.as_str(), &search.user_id, &search.id, &search.name, &search.query, &search.created_at, &max],
            )
            .await?;
        Ok(rows.len() == 1)
    }

    async fn saved_searches(
        &self,
        tenant: &TenantId,
        user_id: &str,
    ) -> Result<Vec<SavedSearch>, StoreError> {
        let rows = self
            .scoped(
                tenant.as_str(),
                "SELECT id, user_id, name, query, created_at FROM saved_searches WHERE tenant_id = $1 AND user_id = $2 ORDER BY name, id",
                &[&tenant.as_str(), &user_id],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| SavedSearch {
                id: r.get("id"),
                user_id: r.get("user_id"),
                name: r.get("name"),
                query: r.get("query"),
                created_at: r.get("created_at"),
            })
            .collect())
    }

    async fn delete_saved_search(
        &self,
        tenant: &TenantId,
        user_id: &str,
        id: &str,
    ) -> Result<bool, StoreError> {
        let rows = self
            .scoped(
                tenant.as_str(),
                "DELETE FROM saved_searches WHERE tenant_id = $1 AND user_id = $2 AND id = $3 RETURNING 1",
                &[&tenant.as_str(), &user_id, &id],
            )
            .await?;
        Ok(rows.len() == 1)
    }
}
