//! What the source edge's tests need, made at test time: an RSA key, tokens
//! signed with it, its JWKS served on loopback, and a certificate for TLS.
//! Included by `tests/all/main.rs` and `tests/camel/main.rs`.

#![allow(dead_code)]

use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The issuer and audience every test token is for.
pub const ISSUER: &str = "https://issuer.test";
pub const AUDIENCE: &str = "camel-wasm-tests";

/// An RSA signing key with its key id, and the JWKS document publishing it.
pub struct SigningKey {
    pub kid: String,
    pub encoding: EncodingKey,
    pub jwks: Value,
}

fn make_key(kid: &str) -> SigningKey {
    let pair = rcgen::KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_2048).expect("an RSA key");
    let encoding = EncodingKey::from_rsa_pem(pair.serialize_pem().as_bytes()).expect("a PEM RSA key");
    let mut jwk = serde_json::to_value(jsonwebtoken::jwk::Jwk::from_encoding_key(&encoding, Algorithm::RS256).unwrap()).unwrap();
    jwk["kid"] = json!(kid);
    jwk["alg"] = json!("RS256");
    jwk["use"] = json!("sig");
    SigningKey { kid: kid.to_string(), encoding, jwks: json!({ "keys": [jwk] }) }
}

/// The key the JWKS publishes (made once per test binary).
pub fn key() -> &'static SigningKey {
    static KEY: OnceLock<SigningKey> = OnceLock::new();
    KEY.get_or_init(|| make_key("test-key"))
}

/// Another key with the same kid, which the JWKS does not publish: its tokens are forgeries.
pub fn forger() -> &'static SigningKey {
    static KEY: OnceLock<SigningKey> = OnceLock::new();
    KEY.get_or_init(|| make_key("test-key"))
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

/// A token for `subject` with `roles`, signed by `key`, with `claims` over the defaults (iss, aud, exp in an hour).
pub fn token_with(key: &SigningKey, subject: &str, roles: &[&str], claims: Value) -> String {
    let mut body = json!({ "sub": subject, "iss": ISSUER, "aud": AUDIENCE, "exp": now() + 3600, "iat": now(), "roles": roles });
    for (name, value) in claims.as_object().cloned().unwrap_or_default() {
        body[name] = value;
    }
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(key.kid.clone());
    jsonwebtoken::encode(&header, &body, &key.encoding).unwrap()
}

/// A valid token for `subject` with `roles`.
pub fn token(subject: &str, roles: &[&str]) -> String {
    token_with(key(), subject, roles, json!({}))
}

/// A token that expired an hour ago.
pub fn expired_token(subject: &str) -> String {
    token_with(key(), subject, &[], json!({ "exp": now() - 3600 }))
}

/// Serves the JWKS of [`key`] on a loopback port until the runtime ends; its URL.
pub async fn serve_jwks() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let document = key().jwks.to_string();
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else { return };
            let document = document.clone();
            tokio::spawn(async move {
                let mut request = vec![0u8; 4096];
                let mut read = 0;
                while !request[..read].windows(4).any(|w| w == b"\r\n\r\n") && read < request.len() {
                    match stream.read(&mut request[read..]).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => read += n,
                    }
                }
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{document}",
                    document.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    format!("http://{addr}/jwks")
}

/// The `auth=jwt` URI parameters for a JWKS at `jwks`.
pub fn jwt_parameters(jwks: &str) -> String {
    format!("auth=jwt&auth-jwks={jwks}&auth-issuer={ISSUER}&auth-audience={AUDIENCE}&auth-allow-internal=true")
}

/// A self-signed certificate for `127.0.0.1` and `localhost`, written as PEM files under a fresh directory.
pub struct Certificate {
    pub dir: std::path::PathBuf,
    pub cert: std::path::PathBuf,
    pub key: std::path::PathBuf,
    pub der: Vec<u8>,
}

impl Certificate {
    pub fn new() -> Self {
        let rcgen::CertifiedKey { cert, signing_key } =
            rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
        let dir = std::env::temp_dir().join(format!("camel-wasm-tls-{}-{}", std::process::id(), now_nanos()));
        std::fs::create_dir_all(&dir).unwrap();
        let (cert_path, key_path) = (dir.join("cert.pem"), dir.join("key.pem"));
        std::fs::write(&cert_path, cert.pem()).unwrap();
        std::fs::write(&key_path, signing_key.serialize_pem()).unwrap();
        Self { dir, cert: cert_path, key: key_path, der: cert.der().to_vec() }
    }

    /// A TLS client trusting only this certificate.
    pub fn connector(&self) -> tokio_rustls::TlsConnector {
        let mut roots = tokio_rustls::rustls::RootCertStore::empty();
        roots.add(self.der.clone().into()).unwrap();
        let provider = std::sync::Arc::new(tokio_rustls::rustls::crypto::aws_lc_rs::default_provider());
        let config = tokio_rustls::rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        tokio_rustls::TlsConnector::from(std::sync::Arc::new(config))
    }
}

impl Drop for Certificate {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn now_nanos() -> u128 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos()
}

/// Sends raw `request` bytes on `stream` and reads the whole response until the server closes (at most 10 s).
pub async fn exchange_raw<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(stream: &mut S, request: &[u8]) -> String {
    stream.write_all(request).await.unwrap();
    let mut response = Vec::new();
    let _ = tokio::time::timeout(std::time::Duration::from_secs(10), stream.read_to_end(&mut response)).await;
    String::from_utf8_lossy(&response).into_owned()
}
