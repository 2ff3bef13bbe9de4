//! TLS to PostgreSQL, chosen by the database URL as libpq chooses it: `sslmode` and
//! `sslrootcert`, in either URL form (`postgres://…?sslmode=verify-full&sslrootcert=/ca.pem`) or
//! key=value form (`host=db sslmode=verify-full sslrootcert=/ca.pem`). Every connection Sealbook
//! makes (the store's pool, the migrations, the grant) goes through [`connector`], with rustls.
//!
//! The modes MUST mean what they mean in libpq:
//!
//! | `sslmode` | encrypted | certificate checked |
//! |---|---|---|
//! | `disable` | never | no |
//! | `prefer` (the default) | if the server offers TLS, else in clear | no |
//! | `require` | always, or no connection | no; with `sslrootcert`, the chain (as `verify-ca`) |
//! | `verify-ca` | always | chain to `sslrootcert` |
//! | `verify-full` | always | chain to `sslrootcert` and the host name (or IP address) |
//!
//! `prefer` and `require` without a root certificate protect against a passive listener only:
//! anyone who can intercept the connection can present a certificate of their own. Only
//! `verify-full` also proves that the server is the host named in the URL. `sslrootcert` is a
//! PEM file of one or more certificates; the `verify-*` modes need it (there is no default file).
//! With `hostaddr`, the name checked is still `host`.

use percent_encoding::percent_decode_str;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use sealbook_store::StoreError;
use std::str::FromStr;
use std::sync::Arc;
pub use tokio_postgres_rustls::MakeRustlsConnect;

/// libpq's `sslmode` values that Sealbook supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    /// Never TLS.
    Disable,
    /// TLS if the server offers it, no certificate check (libpq's default).
    Prefer,
    /// TLS or nothing, no certificate check (unless `sslrootcert` is given: then as `VerifyCa`).
    Require,
    /// TLS, certificate chain checked against `sslrootcert`.
    VerifyCa,
    /// TLS, chain and host name checked.
    VerifyFull,
}

impl FromStr for SslMode {
    type Err = StoreError;
    fn from_str(s: &str) -> Result<SslMode, StoreError> {
        Ok(match s {
            "disable" => SslMode::Disable,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            other => {
                return Err(url_err(format!(
                    "sslmode={other:?} is not one of disable, prefer, require, verify-ca, verify-full (allow is not supported: it would fall back to clear text)"
                )))
            }
        })
    }
}

/// A database URL taken apart: what tokio-postgres connects to, and the TLS to use.
pub struct Connector {
    /// The connection settings, with `sslmode` as tokio-postgres understands it.
    pub config: tokio_postgres::Config,
    /// The TLS connector for [`tokio_postgres::Config::connect`] or a pool.
    pub tls: MakeRustlsConnect,
    /// The mode the URL asked for.
    pub mode: SslMode,
}

impl std::fmt::Debug for Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connector")
            .field("mode", &self.mode)
            .finish_non_exhaustive()
    }
}

fn url_err(msg: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(format!("database URL: {msg}"))
}

/// Parses `url` (URL or key=value form) and builds its TLS connector.
pub fn connector(url: &str) -> Result<Connector, StoreError> {
    let (rest, mode, root) = split_tls(url)?;
    let mode = mode
        .as_deref()
        .map_or(Ok(SslMode::Prefer), SslMode::from_str)?;
    let mut config = tokio_postgres::Config::from_str(&rest).map_err(url_err)?;
    config.ssl_mode(match mode {
        SslMode::Disable => tokio_postgres::config::SslMode::Disable,
        SslMode::Prefer => tokio_postgres::config::SslMode::Prefer,
        SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => {
            tokio_postgres::config::SslMode::Require
        }
    });
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let roots = match &root {
        Some(path) => Some(load_roots(path)?),
        None if matches!(mode, SslMode::VerifyCa | SslMode::VerifyFull) => {
            return Err(url_err(
                "sslmode=verify-ca and verify-full need sslrootcert=<PEM file of the CA certificates to trust>",
            ))
        }
        None => None,
    };
    let verifier: Arc<dyn ServerCertVerifier> = match (mode, roots) {
        (SslMode::Disable | SslMode::Prefer, _) | (SslMode::Require, None) => {
            Arc::new(NoVerification(provider.clone()))
        }
        (SslMode::Require | SslMode::VerifyCa, Some(roots)) => {
            Arc::new(ChainOnly(webpki(roots, &provider)?))
        }
        (SslMode::VerifyFull, Some(roots)) => webpki(roots, &provider)?,
        (SslMode::VerifyCa | SslMode::VerifyFull, None) => unreachable!("refused above"),
    };
    let tls = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(url_err)?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(Connector {
        config,
        tls: MakeRustlsConnect::new(tls),
        mode,
    })
}

fn load_roots(path: &str) -> Result<RootCertStore, StoreError> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
        .and_then(|i| i.collect::<Result<_, _>>())
        .map_err(|e| url_err(format!("sslrootcert {path}: {e}")))?;
    let mut roots = RootCertStore::empty();
    let (added, _) = roots.add_parsable_certificates(certs);
    if added == 0 {
        return Err(url_err(format!(
            "sslrootcert {path}: no certificate in it (a PEM file of CA certificates)"
        )));
    }
    Ok(roots)
}

fn webpki(
    roots: RootCertStore,
    provider: &Arc<CryptoProvider>,
) -> Result<Arc<WebPkiServerVerifier>, StoreError> {
    WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(url_err)
}

/// Takes `sslmode` and `sslrootcert` out of `url` (tokio-postgres knows neither `verify-*` nor
/// `sslrootcert`) and returns the rest in the same form.
fn split_tls(url: &str) -> Result<(String, Option<String>, Option<String>), StoreError> {
    let (mut mode, mut root) = (None, None);
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let Some((base, query)) = url.split_once('?') else {
            return Ok((url.to_owned(), None, None));
        };
        let mut kept = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let decoded = || {
                percent_decode_str(v)
                    .decode_utf8()
                    .map(|s| s.into_owned())
                    .map_err(|_| url_err(format!("{k} is not UTF-8")))
            };
            match k {
                "sslmode" => mode = Some(decoded()?),
                "sslrootcert" => root = Some(decoded()?),
                _ => kept.push(pair),
            }
        }
        let rest = if kept.is_empty() {
            base.to_owned()
        } else {
            format!("{base}?{}", kept.join("&"))
        };
        return Ok((rest, mode, root));
    }
    let mut kept = Vec::new();
    for (k, v) in key_values(url)? {
        match k.as_str() {
            "sslmode" => mode = Some(v),
            "sslrootcert" => root = Some(v),
            _ => kept.push(format!(
                "{k}='{}'",
                v.replace('\\', "\\\\").replace('\'', "\\'")
            )),
        }
    }
    Ok((kept.join(" "), mode, root))
}

/// The `key = value` pairs of a libpq connection string: values bare or in single quotes, with
/// `\` escaping the next character.
fn key_values(s: &str) -> Result<Vec<(String, String)>, StoreError> {
    let mut out = Vec::new();
    let mut it = s.chars().peekable();
    loop {
        while it.next_if(|c| c.is_whitespace()).is_some() {}
        if it.peek().is_none() {
            return Ok(out);
        }
        let mut key = String::new();
        while let Some(c) = it.next_if(|c| *c != '=' && !c.is_whitespace()) {
            key.push(c);
        }
        while it.next_if(|c| c.is_whitespace()).is_some() {}
        if it.next() != Some('=') {
            return Err(url_err(format!("{key:?} has no value (key=value)")));
        }
        while it.next_if(|c| c.is_whitespace()).is_some() {}
        let mut value = String::new();
        if it.next_if_eq(&'\'').is_some() {
            loop {
                match it.next() {
                    None => {
                        return Err(url_err(format!("the value of {key} has no closing quote")))
                    }
                    Some('\'') => break,
                    Some('\\') => value.extend(it.next()),
                    Some(c) => value.push(c),
                }
            }
        } else {
            while let Some(c) = it.next_if(|c| !c.is_whitespace()) {
                if c == '\\' {
                    value.extend(it.next());
                } else {
                    value.push(c);
                }
            }
        }
        out.push((key, value));
    }
}

/// `prefer` and `require` without roots: any certificate, as libpq. The handshake signatures are
/// still checked, so the session is bound to the key of the certificate the server showed.
#[derive(Debug)]
struct NoVerification(Arc<CryptoProvider>);

impl ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// `verify-ca`: the chain is checked as for `verify-full`, and only a name mismatch is accepted
/// (webpki checks the chain before the name, so a name error means the chain was good).
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_forms_give_up_their_tls_settings_and_keep_the_rest() {
        let (rest, mode, root) = split_tls(
            "postgres://app:p%40ss@db.example:5433/sealbook?sslmode=verify-full&application_name=x&sslrootcert=%2Fetc%2Fca%20dir%2Fca.pem",
        )
        .unwrap();
        assert_eq!(
            rest,
            "postgres://app:p%40ss@db.example:5433/sealbook?application_name=x"
        );
        assert_eq!(mode.as_deref(), Some("verify-full"));
        assert_eq!(root.as_deref(), Some("/etc/ca dir/ca.pem"));

        let (rest, mode, root) = split_tls(
            "host=db.example  port = 5433 user=app password='it\\'s' sslmode=require sslrootcert='/etc/ca dir/ca.pem'",
        )
        .unwrap();
        assert_eq!(
            rest,
            "host='db.example' port='5433' user='app' password='it\\'s'"
        );
        assert_eq!(mode.as_deref(), Some("require"));
        assert_eq!(root.as_deref(), Some("/etc/ca dir/ca.pem"));
        let cfg = tokio_postgres::Config::from_str(&rest).unwrap();
        assert_eq!(cfg.get_password(), Some(&b"it's"[..]));
    }

    #[test]
    fn prefer_is_the_default_and_unknown_or_incomplete_modes_are_refused() {
        assert_eq!(connector("host=db").unwrap().mode, SslMode::Prefer);
        assert_eq!(connector("postgres://db/x").unwrap().mode, SslMode::Prefer);
        let msg = connector("host=db sslmode=allow").unwrap_err().to_string();
        assert!(msg.contains("allow is not supported"), "{msg}");
        let msg = connector("postgres://db/x?sslmode=verify-full")
            .unwrap_err()
            .to_string();
        assert!(msg.contains("need sslrootcert"), "{msg}");
        let msg = connector("host=db sslmode=verify-full sslrootcert=/nonexistent/ca.pem")
            .unwrap_err()
            .to_string();
        assert!(msg.contains("/nonexistent/ca.pem"), "{msg}");
    }
}
