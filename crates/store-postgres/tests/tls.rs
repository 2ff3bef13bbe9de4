//! TLS to PostgreSQL as the URL's `sslmode` says: `require` against the local server encrypts the
//! store's own connections; against a throwaway cluster whose CA and certificate this test makes,
//! `verify-full` connects with the right CA and host name and refuses a wrong CA or a wrong name,
//! `verify-ca` checks the chain only, `disable` is plain.

use sealbook_store::Store;
use sealbook_store_postgres::tls::connector;
use sealbook_store_postgres::PgStore;
use sealbook_testkit::pg::testdb::TestDb;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Whether the session at `url` is encrypted, as the server sees it; or why it failed.
async fn encrypted(url: &str) -> Result<bool, String> {
    let c = connector(url).map_err(|e| e.to_string())?;
    let (client, conn) = c.config.connect(c.tls).await.map_err(|e| {
        // The handshake's reason is in the source chain.
        let mut msg = e.to_string();
        let mut src = std::error::Error::source(&e);
        while let Some(s) = src {
            msg.push_str(&format!(": {s}"));
            src = s.source();
        }
        msg
    })?;
    tokio::spawn(conn);
    let r = client
        .query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .await
        .map_err(|e| e.to_string())?;
    Ok(r.get(0))
}

#[tokio::test]
async fn require_encrypts_the_stores_connections_and_disable_does_not() {
    let db = TestDb::create().await;
    let (su, conn) = tokio_postgres::connect(&db.owner_url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    let ssl: String = su.query_one("SHOW ssl", &[]).await.unwrap().get(0);
    assert_eq!(
        ssl, "on",
        "the test server needs ssl = on (Debian's packaged cluster has it, with the snakeoil certificate)"
    );
    for (mode, want) in [("require", true), ("disable", false), ("prefer", true)] {
        let name = format!("sealbook_tls_{mode}_{}", std::process::id());
        let url = format!("{} sslmode={mode} application_name={name}", db.app_url);
        let store = PgStore::connect(&url, 2).await.unwrap();
        store.ping().await.unwrap();
        let r = su
            .query_one(
                "SELECT count(*), bool_and(s.ssl) FROM pg_stat_ssl s \
                 JOIN pg_stat_activity a USING (pid) WHERE a.application_name = $1",
                &[&name],
            )
            .await
            .unwrap();
        let (n, ssl): (i64, Option<bool>) = (r.get(0), r.get(1));
        assert!(n >= 1, "{mode}: the store's connections are there");
        assert_eq!(ssl, Some(want), "{mode}");
    }
}

/// A throwaway PostgreSQL cluster with `ssl=on` and the given certificate; stopped and removed
/// on drop, also when the test fails.
struct Cluster {
    _dir: tempfile::TempDir,
    data: PathBuf,
    bin: PathBuf,
    port: u16,
}

fn as_postgres(bin: &Path, args: &[&str]) {
    let st = Command::new("runuser")
        .args(["-u", "postgres", "--"])
        .arg(bin)
        .args(args)
        .stdout(std::process::Stdio::null())
        .status()
        .expect("runuser");
    assert!(st.success(), "{} {args:?}", bin.display());
}

impl Cluster {
    fn start(cert_pem: &str, key_pem: &str) -> Cluster {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .expect("PostgreSQL server binaries in /usr/lib/postgresql")
            .filter_map(Result::ok)
            .map(|e| e.path().join("bin"))
            .find(|p| p.join("initdb").exists())
            .expect("initdb");
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        Command::new("chown")
            .args(["-R", "postgres"])
            .arg(dir.path())
            .status()
            .unwrap();
        as_postgres(
            &bin.join("initdb"),
            &[
                "-D",
                data.to_str().unwrap(),
                "-U",
                "postgres",
                "--auth=trust",
            ],
        );
        for (name, pem) in [("server.crt", cert_pem), ("server.key", key_pem)] {
            let p = data.join(name);
            std::fs::write(&p, pem).unwrap();
            Command::new("chown")
                .arg("postgres")
                .arg(&p)
                .status()
                .unwrap();
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let cluster = Cluster {
            data: data.clone(),
            bin: bin.clone(),
            port,
            _dir: dir,
        };
        let opts = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c ssl=on -c ssl_cert_file=server.crt -c ssl_key_file=server.key",
            cluster._dir.path().display()
        );
        let log = cluster._dir.path().join("log");
        as_postgres(
            &bin.join("pg_ctl"),
            &[
                "-D",
                data.to_str().unwrap(),
                "-o",
                &opts,
                "-l",
                log.to_str().unwrap(),
                "-w",
                "start",
            ],
        );
        cluster
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(self.bin.join("pg_ctl"))
            .args(["-D", self.data.to_str().unwrap(), "-m", "immediate", "stop"])
            .stdout(std::process::Stdio::null())
            .status();
    }
}

/// A CA and its PEM certificate.
fn ca(name: &str) -> (rcgen::Issuer<'static, rcgen::KeyPair>, String) {
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
    ];
    let key = rcgen::KeyPair::generate().unwrap();
    let pem = params.self_signed(&key).unwrap().pem();
    (rcgen::Issuer::new(params, key), pem)
}

#[tokio::test]
async fn verify_full_checks_the_chain_and_the_host_name() {
    let (issuer, ca_pem) = ca("Sealbook test CA");
    let (_, other_ca_pem) = ca("Someone else's CA");
    let server_key = rcgen::KeyPair::generate().unwrap();
    let server = rcgen::CertificateParams::new(vec!["db.sealbook.test".to_owned()])
        .unwrap()
        .signed_by(&server_key, &issuer)
        .unwrap();
    let cluster = Cluster::start(&server.pem(), &server_key.serialize_pem());
    let files = tempfile::tempdir().unwrap();
    let (good, bad) = (files.path().join("ca.pem"), files.path().join("other.pem"));
    std::fs::write(&good, &ca_pem).unwrap();
    std::fs::write(&bad, &other_ca_pem).unwrap();
    let (good, bad) = (good.display(), bad.display());
    let at = |host: &str, rest: &str| {
        format!(
            "host={host} hostaddr=127.0.0.1 port={} user=postgres dbname=postgres {rest}",
            cluster.port
        )
    };

    // The right CA and the name in the certificate: encrypted.
    let name = "db.sealbook.test";
    assert_eq!(
        encrypted(&at(
            name,
            &format!("sslmode=verify-full sslrootcert={good}")
        ))
        .await,
        Ok(true)
    );
    // The URL form says the same.
    let uri = format!(
        "postgres://postgres@{name}:{}/postgres?hostaddr=127.0.0.1&sslmode=verify-full&sslrootcert={good}",
        cluster.port
    );
    assert_eq!(encrypted(&uri).await, Ok(true));
    // Another CA: refused, and the error says why.
    let err = encrypted(&at(name, &format!("sslmode=verify-full sslrootcert={bad}")))
        .await
        .unwrap_err();
    assert!(err.contains("UnknownIssuer"), "{err}");
    // Another host name: refused by verify-full, accepted by verify-ca (chain only).
    let other = "other.sealbook.test";
    let err = encrypted(&at(
        other,
        &format!("sslmode=verify-full sslrootcert={good}"),
    ))
    .await
    .unwrap_err();
    assert!(
        err.contains("not valid for name \"other.sealbook.test\""),
        "{err}"
    );
    assert_eq!(
        encrypted(&at(other, &format!("sslmode=verify-ca sslrootcert={good}"))).await,
        Ok(true)
    );
    // verify-ca still checks the chain; so does require once it has a root certificate.
    for mode in ["verify-ca", "require"] {
        let err = encrypted(&at(name, &format!("sslmode={mode} sslrootcert={bad}")))
            .await
            .unwrap_err();
        assert!(err.contains("UnknownIssuer"), "{mode}: {err}");
    }
    // Without a root certificate, require and prefer encrypt without checking; disable does not.
    assert_eq!(encrypted(&at(other, "sslmode=require")).await, Ok(true));
    assert_eq!(encrypted(&at(other, "sslmode=prefer")).await, Ok(true));
    assert_eq!(encrypted(&at(other, "sslmode=disable")).await, Ok(false));
}
