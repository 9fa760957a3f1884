//! Loading TLS material into rustls configurations: a listener's
//! certificate and key, and what a pool verifies its `https://` endpoints
//! with (trust roots, and a client certificate for mTLS).
//!
//! Both sides use the `ring` provider and rustls' safe defaults (TLS 1.2 and
//! 1.3). A listener offers ALPN `h2` then `http/1.1`; a pool's ALPN is the
//! data path's to set, from its protocol. A pool trusts its `ca_file`, or
//! else the platform's store (rustls-native-certs: `SSL_CERT_FILE`,
//! `SSL_CERT_DIR` or the distribution's bundle), where an operator's own
//! CAs already are. This module must not accept or open connections.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// Why TLS material could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A PEM file could not be read or holds nothing usable.
    #[error("cannot load {what} from {path}: {cause}")]
    Pem {
        /// `certificate` or `private key`.
        what: &'static str,
        /// The file.
        path: String,
        /// The reason.
        cause: String,
    },
    /// rustls refused the pair (e.g. the key does not match the certificate).
    #[error("invalid certificate or key: {0}")]
    Rustls(#[from] rustls::Error),
    /// The platform's certificate store holds no usable root.
    #[error(
        "no trusted root certificates in the platform's store ({cause}); install the CA certificates package, set SSL_CERT_FILE, or set tls.ca_file"
    )]
    NoRoots {
        /// What loading the store reported.
        cause: String,
    },
}

fn pem_err(what: &'static str, path: &Path, cause: String) -> TlsError {
    TlsError::Pem {
        what,
        path: path.display().to_string(),
        cause,
    }
}

/// The certificates of a PEM file, at least one.
fn certificates(what: &'static str, path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
        .map_err(|e| pem_err(what, path, e.to_string()))?
        .collect::<Result<_, _>>()
        .map_err(|e| pem_err(what, path, e.to_string()))?;
    if certs.is_empty() {
        return Err(pem_err(what, path, "no CERTIFICATE block found".to_owned()));
    }
    Ok(certs)
}

/// The provider every configuration uses.
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A certificate chain (leaf first) from a PEM file.
pub fn certificate_chain(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    certificates("certificate", path)
}

/// A private key (PKCS#8, PKCS#1 or SEC1) from a PEM file.
pub fn private_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| pem_err("private key", path, e.to_string()))
}

/// The roots in a PEM bundle (`tls.ca_file`): every certificate must parse
/// as a trust anchor.
pub fn roots_from_file(path: &Path) -> Result<rustls::RootCertStore, TlsError> {
    let mut roots = rustls::RootCertStore::empty();
    for (i, cert) in certificates("CA certificates", path)?
        .into_iter()
        .enumerate()
    {
        roots.add(cert).map_err(|e| {
            pem_err(
                "CA certificates",
                path,
                format!("certificate {}: {e}", i + 1),
            )
        })?;
    }
    Ok(roots)
}

/// The platform's roots; an error when it has none usable (a scratch
/// container without a CA bundle would otherwise fail every handshake).
pub fn platform_roots() -> Result<rustls::RootCertStore, TlsError> {
    let found = rustls_native_certs::load_native_certs();
    let mut roots = rustls::RootCertStore::empty();
    let (_added, _ignored) = roots.add_parsable_certificates(found.certs);
    if roots.is_empty() {
        let cause = match found.errors.first() {
            Some(e) => e.to_string(),
            None => "none found".to_owned(),
        };
        return Err(TlsError::NoRoots { cause });
    }
    Ok(roots)
}

/// A client configuration for a pool's endpoints: verified against `roots`,
/// presenting `client` (a chain and its key) when the endpoint asks.
pub fn client_config(
    roots: rustls::RootCertStore,
    client: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
) -> Result<Arc<rustls::ClientConfig>, TlsError> {
    let builder = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots);
    let config = match client {
        Some((chain, key)) => builder.with_client_auth_cert(chain, key)?,
        None => builder.with_no_client_auth(),
    };
    Ok(Arc::new(config))
}

/// A server configuration for one listener.
pub fn server_config(cert: &Path, key: &Path) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let certs = certificate_chain(cert)?;
    let key = private_key(key)?;
    let mut config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
