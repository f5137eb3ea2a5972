//! HTTPS on a source's listener: a rustls server config from PEM files (`tls-cert`, `tls-key`).

use std::path::Path;

/// The TLS side of a listener, when it has one.
#[cfg(feature = "tls")]
pub(crate) type Acceptor = tokio_rustls::TlsAcceptor;
/// Without the `tls` feature a listener has no TLS side.
#[cfg(not(feature = "tls"))]
#[derive(Clone)]
pub(crate) enum Acceptor {}

/// The acceptor for the certificate chain at `cert` and the private key at `key`.
#[cfg(feature = "tls")]
pub(crate) fn acceptor(cert: &Path, key: &Path) -> Result<Acceptor, String> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    use tokio_rustls::rustls;
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("tls-cert {}: {e}", cert.display()))?;
    if chain.is_empty() {
        return Err(format!("tls-cert {}: no certificate in the file", cert.display()));
    }
    let private = PrivateKeyDer::from_pem_file(key).map_err(|e| format!("tls-key {}: {e}", key.display()))?;
    let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .with_no_client_auth()
        .with_single_cert(chain, private)
        .map_err(|e| format!("tls-cert and tls-key do not make a certificate: {e}"))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config)))
}

/// Without the `tls` feature, HTTPS cannot be offered.
#[cfg(not(feature = "tls"))]
pub(crate) fn acceptor(_cert: &Path, _key: &Path) -> Result<Acceptor, String> {
    Err("this build of camel-wasm has no `tls` feature".into())
}
