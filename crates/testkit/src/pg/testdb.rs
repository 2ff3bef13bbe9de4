//! The PostgreSQL the test suites use, found in this order: `SEALBOOK_TEST_DATABASE_URL`; the
//! server on 127.0.0.1:5432 as user `postgres` if it answers; otherwise a throwaway cluster made
//! with `initdb` and `pg_ctl` from the machine's PostgreSQL binaries (as the `postgres` user when
//! run as root). With none of these a test fails and says how to provide one; it never skips.
//!
//! Each [`TestDb`] is a database of its own, migrated, with a login role that is a plain member
//! of `sealbook_rw` (what Sealbook connects as); it is dropped when the `TestDb` is.

use std::process::Command;
use std::sync::OnceLock;
use tokio_postgres::NoTls;

/// The login role tests connect as: no superuser, no BYPASSRLS, owns nothing.
pub const APP_ROLE: &str = "sealbook_test_app";

/// The owner role of [`TestDb::create_with_owner_role`]: a plain login role with `CREATEROLE`,
/// as `docs/deploy-postgres.md` sets one up.
pub const OWNER_ROLE: &str = "sealbook_test_owner";

/// A fresh, migrated database.
pub struct TestDb {
    /// URL of the database as the role that owns and migrated it: the superuser for
    /// [`TestDb::create`], [`OWNER_ROLE`] for [`TestDb::create_with_owner_role`].
    pub owner_url: String,
    /// URL of the database as [`APP_ROLE`].
    pub app_url: String,
    name: String,
    server: String,
}

impl std::fmt::Debug for TestDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestDb").field("name", &self.name).finish()
    }
}

fn with_db(server: &str, db: &str, user: Option<&str>) -> String {
    let mut cfg: tokio_postgres::Config = server.parse().expect("a valid test database URL");
    cfg.dbname(db);
    if let Some(u) = user {
        cfg.user(u);
    }
    // Rebuild as key=value, which tokio-postgres accepts as a connection string.
    let mut parts = Vec::new();
    for h in cfg.get_hosts() {
        match h {
            tokio_postgres::config::Host::Tcp(h) => parts.push(format!("host={h}")),
            tokio_postgres::config::Host::Unix(p) => parts.push(format!("host={}", p.display())),
        }
    }
    if let Some(p) = cfg.get_ports().first() {
        parts.push(format!("port={p}"));
    }
    if let Some(u) = cfg.get_user() {
        parts.push(format!("user={u}"));
    }
    if let Some(pw) = cfg.get_password() {
        parts.push(format!("password={}", String::from_utf8_lossy(pw)));
    }
    parts.push(format!("dbname={db}"));
    parts.join(" ")
}

async fn answers(url: &str) -> bool {
    matches!(
        tokio::time::timeout(
            std::time::Duration::from_secs(3),
            tokio_postgres::connect(url, NoTls)
        )
        .await,
        Ok(Ok(_))
    )
}

/// The server URL (superuser, database `postgres`).
async fn server() -> String {
    static SERVER: OnceLock<String> = OnceLock::new();
    if let Some(s) = SERVER.get() {
        return s.clone();
    }
    let found = if let Ok(u) = std::env::var("SEALBOOK_TEST_DATABASE_URL") {
        assert!(
            answers(&u).await,
            "SEALBOOK_TEST_DATABASE_URL is set but {u} does not answer"
        );
        u
    } else if answers("host=127.0.0.1 port=5432 user=postgres dbname=postgres").await {
        "host=127.0.0.1 port=5432 user=postgres dbname=postgres".to_owned()
    } else {
        throwaway_cluster()
    };
    SERVER.get_or_init(|| found).clone()
}

/// Starts a cluster in a temporary directory with the machine's `initdb` and `pg_ctl`.
fn throwaway_cluster() -> String {
    let bin = std::fs::read_dir("/usr/lib/postgresql")
        .ok()
        .and_then(|d| d.filter_map(Result::ok).map(|e| e.path().join("bin")).find(|p| p.join("initdb").exists()))
        .unwrap_or_else(|| {
            panic!(
                "no PostgreSQL for the tests: set SEALBOOK_TEST_DATABASE_URL, run PostgreSQL on 127.0.0.1:5432 with user postgres (trust), or install the server binaries (apt-get install postgresql) so a throwaway cluster can be started"
            )
        });
    let dir = std::env::temp_dir().join(format!("sealbook-pg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("cluster directory");
    let root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout == b"0\n")
        .unwrap_or(false);
    let run = |args: &[&str]| {
        let mut c = if root {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]);
            c
        } else {
            Command::new(args[0])
        };
        if root {
            c.arg(args[0]);
        }
        c.args(&args[1..]);
        let st = c.status().expect("run PostgreSQL tools");
        assert!(st.success(), "{args:?} failed");
    };
    if root {
        Command::new("chown")
            .args(["-R", "postgres"])
            .arg(&dir)
            .status()
            .expect("chown");
    }
    let data = dir.join("data");
    let port = 54_000 + (std::process::id() % 1000) as u16;
    let initdb = bin.join("initdb");
    let pg_ctl = bin.join("pg_ctl");
    run(&[
        initdb.to_str().unwrap(),
        "-D",
        data.to_str().unwrap(),
        "-U",
        "postgres",
        "--auth=trust",
        "-E",
        "UTF8",
    ]);
    let opts = format!(
        "-p {port} -k {} -c listen_addresses=127.0.0.1",
        dir.display()
    );
    run(&[
        pg_ctl.to_str().unwrap(),
        "-D",
        data.to_str().unwrap(),
        "-o",
        &opts,
        "-w",
        "start",
        "-l",
        dir.join("log").to_str().unwrap(),
    ]);
    format!("host=127.0.0.1 port={port} user=postgres dbname=postgres")
}

impl TestDb {
    /// The application role's URL for this database at another address (a proxy in front of the
    /// server, for failure tests).
    pub fn app_url_at(&self, host: &str, port: u16) -> String {
        format!(
            "host={host} port={port} user={APP_ROLE} dbname={}",
            self.name
        )
    }

    /// The owner URL in URI form (`postgres://user[:password]@host:port/db`), for drivers that
    /// take only URIs.
    pub fn owner_uri(&self) -> String {
        let cfg: tokio_postgres::Config = self.owner_url.parse().expect("a valid URL");
        let host = match cfg.get_hosts().first() {
            Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
            _ => "127.0.0.1".to_owned(),
        };
        let port = cfg.get_ports().first().copied().unwrap_or(5432);
        let user = cfg.get_user().unwrap_or("postgres");
        let auth = match cfg.get_password() {
            Some(p) => format!("{user}:{}", String::from_utf8_lossy(p)),
            None => user.to_owned(),
        };
        format!("postgres://{auth}@{host}:{port}/{}", self.name)
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Superuser URL of this database (to create roles, or to look past row-level security).
    pub fn superuser_url(&self) -> String {
        with_db(&self.server, &self.name, None)
    }

    /// A new database on the test server, migrated by the superuser, with [`APP_ROLE`] able to
    /// use it.
    pub async fn create() -> TestDb {
        TestDb::create_as(None, sealbook_store_postgres::migrate::SCHEMA_VERSION).await
    }

    /// A new database owned and migrated by [`OWNER_ROLE`], not a superuser: row-level security
    /// confines it as it would a production owner.
    pub async fn create_with_owner_role() -> TestDb {
        TestDb::create_as(
            Some(OWNER_ROLE),
            sealbook_store_postgres::migrate::SCHEMA_VERSION,
        )
        .await
    }

    /// As [`TestDb::create_with_owner_role`], migrated only up to schema `version`: a database an
    /// earlier build made.
    pub async fn create_with_owner_role_at(version: i64) -> TestDb {
        TestDb::create_as(Some(OWNER_ROLE), version).await
    }

    async fn create_as(owner: Option<&str>, version: i64) -> TestDb {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let server = server().await;
        let name = format!(
            "sealbook_test_{}_{}",
            std::process::id(),
            N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        );
        let (c, conn) = tokio_postgres::connect(&server, NoTls)
            .await
            .expect("connect to the test server");
        let driver = tokio::spawn(conn);
        c.simple_query(&format!("DROP DATABASE IF EXISTS {name}"))
            .await
            .expect("drop a leftover test database");
        // Roles are cluster-wide and tests run in parallel: creating one twice is fine.
        let _ = c
            .batch_execute(&format!(
                "DO $$ BEGIN CREATE ROLE {APP_ROLE} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE; \
                 EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"
            ))
            .await;
        if let Some(o) = owner {
            let _ = c
                .batch_execute(&format!(
                    "DO $$ BEGIN CREATE ROLE {o} LOGIN NOSUPERUSER NOBYPASSRLS CREATEROLE; \
                     EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"
                ))
                .await;
        }
        let create = match owner {
            Some(o) => format!("CREATE DATABASE {name} OWNER {o}"),
            None => format!("CREATE DATABASE {name}"),
        };
        c.simple_query(&create)
            .await
            .expect("create the test database");
        drop(c);
        let _ = driver.await;
        let owner_url = with_db(&server, &name, owner);
        sealbook_store_postgres::migrate::migrate_to(&owner_url, version)
            .await
            .expect("migrate the test database");
        let (c, conn) = tokio_postgres::connect(&owner_url, NoTls)
            .await
            .expect("connect as owner");
        let driver = tokio::spawn(conn);
        let _ = c
            .batch_execute(&format!("GRANT sealbook_rw TO {APP_ROLE}"))
            .await;
        drop(c);
        let _ = driver.await;
        TestDb {
            app_url: with_db(&server, &name, Some(APP_ROLE)),
            owner_url,
            name,
            server,
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let (server, name) = (self.server.clone(), self.name.clone());
        // Drop may run inside a runtime: do the work on a thread with a runtime of its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            rt.block_on(async {
                let (c, conn) = tokio_postgres::connect(&server, NoTls).await.ok()?;
                let driver = tokio::spawn(conn);
                let _ = c
                    .simple_query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .await;
                drop(c);
                let _ = driver.await;
                Some(())
            })
        })
        .join();
    }
}
