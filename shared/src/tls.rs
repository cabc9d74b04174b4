//! One TLS connector per execution environment, shared by the database pool
//! and the JWKS client. Building a connector parses the system's CA bundle
//! (native-tls loads it eagerly, certificate by certificate: ~100 ms on the
//! benchmark machine), so a second connector would double that part of
//! every cold start. Built on first use: a plain `sslmode=disable` database
//! with an `http://` JWKS never pays for it.

use std::{fs, sync::OnceLock};

use native_tls::{Certificate, TlsConnector};

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("DATABASE_CA_FILE: cannot read {path}: {source}")]
    CaFile {
        path: String,
        source: std::io::Error,
    },
    #[error("TLS setup failed: {0}")]
    Setup(#[from] native_tls::Error),
}

/// The system's roots plus `DATABASE_CA_FILE` when it is set. native-tls
/// always verifies the certificate chain and the host name.
#[derive(Default)]
pub struct Tls {
    ca_file: Option<String>,
    connector: OnceLock<TlsConnector>,
}

impl Tls {
    pub fn new(ca_file: Option<String>) -> Self {
        Self {
            ca_file,
            connector: OnceLock::new(),
        }
    }

    /// The connector, built on the first call; the clones it hands out
    /// share one OpenSSL context.
    pub fn connector(&self) -> Result<TlsConnector, TlsError> {
        if let Some(connector) = self.connector.get() {
            return Ok(connector.clone());
        }
        let mut builder = TlsConnector::builder();
        if let Some(path) = &self.ca_file {
            let pem = fs::read(path).map_err(|source| TlsError::CaFile {
                path: path.clone(),
                source,
            })?;
            builder.add_root_certificate(Certificate::from_pem(&pem)?);
        }
        let built = builder.build()?;
        Ok(self.connector.get_or_init(|| built).clone())
    }
}
