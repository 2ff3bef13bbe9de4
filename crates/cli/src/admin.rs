//! The operator's commands: `sealbook tenant …`, `sealbook key …` and `sealbook user …`, talking
//! to a running server.
//!
//! The operator token comes from `--admin-token-file`, else `SEALBOOK_ADMIN_TOKEN`, else
//! `./sealbook-data/admin-token` when it exists.

use anyhow::{bail, Context};
use sealbook_client::Client;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub(crate) struct Conn {
    /// Server URL.
    #[arg(long, env = "SEALBOOK_URL", default_value = "http://127.0.0.1:8080")]
    pub(crate) url: String,
    /// File holding the operator token.
    #[arg(long)]
    admin_token_file: Option<PathBuf>,
}

impl Conn {
    pub(crate) fn client(&self) -> anyhow::Result<Client> {
        let token = if let Some(p) = &self.admin_token_file {
            std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?
        } else if let Ok(t) = std::env::var("SEALBOOK_ADMIN_TOKEN") {
            t
        } else {
            let default = PathBuf::from("sealbook-data/admin-token");
            if !default.exists() {
                bail!("no operator token: pass --admin-token-file FILE, set SEALBOOK_ADMIN_TOKEN, or run from the directory holding sealbook-data/");
            }
            std::fs::read_to_string(&default)
                .with_context(|| format!("reading {}", default.display()))?
        };
        Ok(Client::new(&self.url, token.trim())?)
    }
}

#[derive(clap::Subcommand, Debug)]
pub(crate) enum TenantCommand {
    /// Create a tenant.
    Create {
        /// Tenant id: [a-z0-9][a-z0-9-]{0,62}.
        id: String,
        /// Display name (defaults to the id).
        #[arg(long)]
        name: Option<String>,
        #[command(flatten)]
        conn: Conn,
    },
    /// List tenants.
    List {
        #[command(flatten)]
        conn: Conn,
    },
}

#[derive(clap::Subcommand, Debug)]
pub(crate) enum KeyCommand {
    /// Create an API key; prints only the key on stdout (details on stderr).
    Create {
        /// Tenant id.
        #[arg(long)]
        tenant: String,
        /// Comma-separated scopes: events:write,events:read,events:export,tenant:admin.
        #[arg(long, value_delimiter = ',', required = true)]
        scopes: Vec<String>,
        /// Display name.
        #[arg(long)]
        name: Option<String>,
        /// Print the whole record, key included, as JSON on stdout.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        conn: Conn,
    },
    /// List a tenant's keys (never their secrets).
    List {
        /// Tenant id.
        #[arg(long)]
        tenant: String,
        /// JSON output.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        conn: Conn,
    },
    /// Revoke a key; it stops working on the next request.
    Revoke {
        /// Tenant id.
        #[arg(long)]
        tenant: String,
        /// Key id (key_…).
        key_id: String,
        #[command(flatten)]
        conn: Conn,
    },
}

pub(crate) async fn tenant(cmd: TenantCommand) -> anyhow::Result<()> {
    match cmd {
        TenantCommand::Create { id, name, conn } => {
            let t = conn.client()?.create_tenant(&id, name.as_deref()).await?;
            println!("{}", serde_json::to_string(&t)?);
        }
        TenantCommand::List { conn } => {
            for t in conn.client()?.list_tenants().await? {
                println!("{}\t{}\t{}", t.id, t.name, t.created_at);
            }
        }
    }
    Ok(())
}

pub(crate) async fn key(cmd: KeyCommand) -> anyhow::Result<()> {
    match cmd {
        KeyCommand::Create {
            tenant,
            scopes,
            name,
            json,
            conn,
        } => {
            let scopes: Vec<&str> = scopes.iter().map(String::as_str).collect();
            let k = conn
                .client()?
                .create_key(&tenant, name.as_deref(), &scopes)
                .await?;
            if json {
                println!("{}", serde_json::to_string(&k)?);
            } else {
                eprintln!(
                    "created key {} for tenant {} with scopes {} (shown once; store it now)",
                    k.record.id,
                    k.record.tenant,
                    k.record.scopes.join(",")
                );
                println!("{}", k.key);
            }
        }
        KeyCommand::List { tenant, json, conn } => {
            let keys = conn.client()?.list_keys(&tenant).await?;
            if json {
                println!("{}", serde_json::to_string(&keys)?);
            } else {
                for k in keys {
                    let state = k
                        .revoked_at
                        .as_deref()
                        .map_or("active".to_owned(), |r| format!("revoked {r}"));
                    println!(
                        "{}\t{}\t{}\t{}\t{}",
                        k.id,
                        k.prefix,
                        k.scopes.join(","),
                        k.name,
                        state
                    );
                }
            }
        }
        KeyCommand::Revoke {
            tenant,
            key_id,
            conn,
        } => {
            let k = conn.client()?.revoke_key(&tenant, &key_id).await?;
            eprintln!("revoked key {} of tenant {}", k.id, k.tenant);
        }
    }
    Ok(())
}

#[derive(clap::Subcommand, Debug)]
pub(crate) enum UserCommand {
    /// Invite a person (the first tenant admin, typically); prints the one-time link that sets
    /// their password on stdout (valid 72 hours; never a password).
    Create {
        /// Tenant id.
        #[arg(long)]
        tenant: String,
        /// E-mail address.
        #[arg(long)]
        email: String,
        /// tenant_admin, compliance_officer, auditor, support or viewer.
        #[arg(long)]
        role: String,
        /// Display name (defaults to the e-mail address).
        #[arg(long)]
        name: Option<String>,
        /// The server's address as people's browsers reach it, for the link (default: --url).
        #[arg(long)]
        public_url: Option<String>,
        #[command(flatten)]
        conn: Conn,
    },
}

pub(crate) async fn user(cmd: UserCommand) -> anyhow::Result<()> {
    match cmd {
        UserCommand::Create {
            tenant,
            email,
            role,
            name,
            public_url,
            conn,
        } => {
            let v = conn
                .client()?
                .create_user(&tenant, &email, name.as_deref(), &role)
                .await?;
            let path = v["set_password_path"]
                .as_str()
                .context("the server's answer has no set_password_path")?;
            let base = public_url.unwrap_or_else(|| conn.url.clone());
            eprintln!(
                "invited {} to tenant {} as {role}; give them this link (valid 72 hours, once):",
                v["user"]["email"].as_str().unwrap_or(&email),
                tenant
            );
            println!("{}{path}", base.trim_end_matches('/'));
        }
    }
    Ok(())
}
