//! One TLS connector per execution environment, shared by the database pool
//! and the JWKS client. Built on first use: a plain `sslmode=disable`
//! database with an `http://` JWKS never pays for it.
//!
//! Trust: OpenSSL parses a CA *file* whole when a connector is made (the
//! system bundle: most of a TLS cold start, BENCHMARKS.md), but looks a
//! hashed CA *directory* up lazily, one issuer at a time. So unless the user
//! names their own (`SSL_CERT_FILE` / `SSL_CERT_DIR`), the platform's hashed
//! directory is trusted instead of its bundle, when it has one; else the
//! bundle, as before. Verification is the same either way.

use std::{env, fs, path::Path, sync::OnceLock};

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
        trust_hashed_directory();
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

/// Hashed CA directories (`c_rehash` layout), first match wins: the
/// Fedora family's (Amazon Linux 2023, Lambda's provided.al2023) and
/// Debian's.
const HASHED_DIRECTORIES: [&str; 2] = [
    "/etc/pki/ca-trust/extracted/pem/directory-hash",
    "/etc/ssl/certs",
];

/// Points OpenSSL at the platform's hashed CA directory, and away from its
/// bundle file, unless the user chose either or there is no such directory.
fn trust_hashed_directory() {
    let user_chose =
        env::var_os("SSL_CERT_FILE").is_some() || env::var_os("SSL_CERT_DIR").is_some();
    let Some(dir) = hashed_directory(user_chose, &HASHED_DIRECTORIES) else {
        return;
    };
    // SAFETY: runs once, while the first connector is built during init,
    // before any request and before the first DNS lookup: no other thread
    // of this process reads the environment then. OpenSSL reads both
    // variables (and native-tls' probe, once) when the connector is built.
    unsafe {
        env::set_var("SSL_CERT_DIR", dir);
        // An empty "bundle": the default file is not parsed at all.
        env::set_var("SSL_CERT_FILE", "/dev/null");
    }
}

/// The directory to trust instead of the bundle: none when the user chose
/// their own trust store, else the first candidate holding hash links.
fn hashed_directory<'a>(user_chose: bool, candidates: &[&'a str]) -> Option<&'a str> {
    if user_chose {
        return None;
    }
    candidates
        .iter()
        .copied()
        .find(|d| is_hashed_directory(Path::new(d)))
}

/// Whether `dir` holds OpenSSL's hash links (`5ad8a5d6.0`).
fn is_hashed_directory(dir: &Path) -> bool {
    let Ok(entries) = fs::read_dir(dir) else {
        return false;
    };
    entries
        .flatten()
        .any(|entry| is_hash_link(&entry.file_name().to_string_lossy()))
}

fn is_hash_link(name: &str) -> bool {
    name.split_once('.').is_some_and(|(hash, n)| {
        hash.len() == 8
            && hash.bytes().all(|b| b.is_ascii_hexdigit())
            && !n.is_empty()
            && n.bytes().all(|b| b.is_ascii_digit())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_links_are_recognised() {
        assert!(is_hash_link("5ad8a5d6.0"));
        assert!(is_hash_link("002c0b4f.12"));
        for name in [
            "ca-certificates.crt",
            "5ad8a5d6.pem",
            "5ad8a5d.0",
            "5ad8a5dz.0",
            "5ad8a5d6.",
        ] {
            assert!(!is_hash_link(name), "{name}");
        }
        assert!(!is_hashed_directory(Path::new("/nonexistent")));
    }

    #[test]
    fn the_first_hashed_directory_is_chosen_unless_the_user_chose() {
        let root = env::temp_dir().join(format!("tls-dirs-{}", std::process::id()));
        let (bundle_only, hashed) = (root.join("bundle-only"), root.join("hashed"));
        fs::create_dir_all(&bundle_only).unwrap();
        fs::create_dir_all(&hashed).unwrap();
        fs::write(bundle_only.join("ca-certificates.crt"), "").unwrap();
        fs::write(hashed.join("5ad8a5d6.0"), "").unwrap();
        let (b, h) = (bundle_only.to_str().unwrap(), hashed.to_str().unwrap());
        assert_eq!(hashed_directory(false, &["/nonexistent", b, h]), Some(h));
        assert_eq!(
            hashed_directory(true, &[h]),
            None,
            "the user's choice stands"
        );
        assert_eq!(
            hashed_directory(false, &[b]),
            None,
            "no hashed directory: the bundle"
        );
        fs::remove_dir_all(root).unwrap();
    }
}
