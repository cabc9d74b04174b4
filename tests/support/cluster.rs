//! A PostgreSQL cluster of a test's own, started by the project's script
//! (`scripts/postgres.sh`), that the test may stop and start again — or
//! serve over TLS with a certificate from a CA the test makes.

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use openssl::{
    asn1::Asn1Time,
    bn::BigNum,
    ec::{EcGroup, EcKey},
    hash::MessageDigest,
    nid::Nid,
    pkey::{PKey, Private},
    x509::{
        X509, X509NameBuilder,
        extension::{BasicConstraints, KeyUsage, SubjectAlternativeName},
    },
};
use tokio::process::Command;

use crate::workspace;

/// A directory of the test's own that the server's user can traverse.
pub fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("{name}-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    dir
}

async fn script(body: &str, args: &[&str]) -> String {
    let output = Command::new("bash")
        // Commits are acknowledged only once in the WAL, as in production:
        // a test that kills the server must not lose answered writes.
        .env("PG_OPTS", "-c synchronous_commit=on")
        .arg("-c")
        .arg(format!(
            "set -euo pipefail; source scripts/postgres.sh; {body}"
        ))
        .arg("cluster")
        .args(args)
        .current_dir(workspace())
        .output()
        .await
        .expect("bash");
    assert!(
        output.status.success(),
        "scripts/postgres.sh: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

pub struct Cluster {
    pub port: u16,
    /// `postgres` database, no TLS in the URL.
    pub url: String,
    data: PathBuf,
    root: PathBuf,
    tls: Option<PathBuf>,
}

impl Cluster {
    /// A fresh cluster; with `tls`, a directory holding server.crt/server.key.
    pub async fn start(tls: Option<&Path>) -> Self {
        let root = scratch_dir("task-api-cluster");
        let port = crate::free_port();
        let cluster = Self {
            port,
            url: format!("postgres://postgres@127.0.0.1:{port}/postgres"),
            data: root.join("data"),
            root,
            tls: tls.map(Path::to_path_buf),
        };
        cluster.start_again().await;
        cluster
    }

    /// Starts the (stopped) cluster on the same port, with the same data.
    pub async fn start_again(&self) {
        let (data, port) = (self.data.to_str().expect("path"), self.port.to_string());
        match &self.tls {
            Some(certs) => {
                let certs = certs.to_str().expect("path");
                script(r#"pg_start_tls "$1" "$2" "$3""#, &[data, &port, certs]).await
            }
            None => script(r#"pg_start "$1" "$2""#, &[data, &port]).await,
        };
    }

    /// Puts `line` first in `pg_hba.conf` (so it wins over the trust
    /// lines); takes effect at the next `SELECT pg_reload_conf()`.
    pub fn hba_first(&self, line: &str) {
        let path = self.data.join("pg_hba.conf");
        let rest = std::fs::read_to_string(&path).expect("pg_hba.conf");
        std::fs::write(&path, format!("{line}\n{rest}")).expect("write pg_hba.conf");
    }

    /// Stops the server at once, as a crash would: no goodbye to clients.
    pub async fn kill(&self) {
        let data = self.data.to_str().expect("path");
        script(
            r#"pg_as "$(pg_user)" "$(pg_bindir)/pg_ctl" -D "$1" -m immediate -w stop >/dev/null"#,
            &[data],
        )
        .await;
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let data = self.data.clone();
        let root = self.root.clone();
        let _ = std::process::Command::new("bash")
            .arg("-c")
            .arg(r#"source scripts/postgres.sh; pg_as "$(pg_user)" "$(pg_bindir)/pg_ctl" -D "$1" -m immediate -w stop >/dev/null 2>&1"#)
            .arg("cluster")
            .arg(&data)
            .current_dir(workspace())
            .status();
        let _ = std::fs::remove_dir_all(root);
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A throwaway CA and a server certificate it signed for 127.0.0.1, written
/// as PEM files (ca.crt, server.crt, server.key), plus an unrelated CA
/// (wrong-ca.crt).
pub struct Certificates {
    pub dir: PathBuf,
}

impl Certificates {
    pub fn make() -> Self {
        let dir = scratch_dir("task-api-certs");
        let (ca, ca_key) = certificate("task-api test CA", None, true);
        let (server, server_key) = certificate("127.0.0.1", Some((&ca, &ca_key)), false);
        let (wrong, _) = certificate("some other CA", None, true);
        let write = |name: &str, pem: Vec<u8>| std::fs::write(dir.join(name), pem).expect("write");
        write("ca.crt", ca.to_pem().expect("pem"));
        write("wrong-ca.crt", wrong.to_pem().expect("pem"));
        write("server.crt", server.to_pem().expect("pem"));
        write(
            "server.key",
            server_key.private_key_to_pem_pkcs8().expect("pem"),
        );
        Self { dir }
    }

    pub fn ca(&self) -> String {
        self.dir.join("ca.crt").to_string_lossy().into_owned()
    }

    pub fn wrong_ca(&self) -> String {
        self.dir.join("wrong-ca.crt").to_string_lossy().into_owned()
    }
}

impl Drop for Certificates {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A P-256 certificate: self-signed CA when `issuer` is None, else a server
/// certificate for 127.0.0.1 signed by `issuer`.
fn certificate(
    cn: &str,
    issuer: Option<(&X509, &PKey<Private>)>,
    ca: bool,
) -> (X509, PKey<Private>) {
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).expect("p256");
    let key = PKey::from_ec_key(EcKey::generate(&group).expect("key")).expect("pkey");
    let mut name = X509NameBuilder::new().expect("name");
    name.append_entry_by_nid(Nid::COMMONNAME, cn).expect("cn");
    let name = name.build();
    let mut builder = X509::builder().expect("builder");
    builder.set_version(2).expect("version");
    let serial = BigNum::from_u32(rand_serial())
        .expect("serial")
        .to_asn1_integer()
        .expect("asn1");
    builder.set_serial_number(&serial).expect("serial");
    builder.set_subject_name(&name).expect("subject");
    builder.set_pubkey(&key).expect("pubkey");
    builder
        .set_not_before(&Asn1Time::days_from_now(0).expect("time"))
        .expect("nb");
    builder
        .set_not_after(&Asn1Time::days_from_now(1).expect("time"))
        .expect("na");
    if ca {
        builder
            .append_extension(BasicConstraints::new().critical().ca().build().expect("bc"))
            .expect("ext");
        builder
            .append_extension(
                KeyUsage::new()
                    .critical()
                    .key_cert_sign()
                    .crl_sign()
                    .build()
                    .expect("ku"),
            )
            .expect("ext");
    } else {
        let san = SubjectAlternativeName::new()
            .ip("127.0.0.1")
            .build(&builder.x509v3_context(issuer.map(|(c, _)| c.as_ref()), None))
            .expect("san");
        builder.append_extension(san).expect("ext");
    }
    match issuer {
        Some((ca_cert, ca_key)) => {
            builder
                .set_issuer_name(ca_cert.subject_name())
                .expect("issuer");
            builder.sign(ca_key, MessageDigest::sha256()).expect("sign");
        }
        None => {
            builder.set_issuer_name(&name).expect("issuer");
            builder.sign(&key, MessageDigest::sha256()).expect("sign");
        }
    }
    (builder.build(), key)
}

fn rand_serial() -> u32 {
    (uuid::Uuid::now_v7().as_u128() & 0x7fff_ffff) as u32 | 1
}

/// A PgBouncer of the test's own in transaction mode, started by the
/// project's script in front of the server at `upstream` (the PgBouncer
/// 1.24 that `scripts/install-tools` builds), with `max_prepared_statements`
/// as given: 0 is a pooler without prepared-statement support.
pub struct Pooler {
    /// `upstream`'s URL with the pooler's host and port (same database).
    pub url: String,
    dir: PathBuf,
    port: u16,
    upstream: String,
    max_prepared_statements: u32,
}

impl Pooler {
    pub async fn start(upstream: &str, max_prepared_statements: u32) -> Self {
        let dir = scratch_dir("task-api-pgbouncer");
        let port = crate::free_port();
        let database = upstream
            .split_once('?')
            .map_or(upstream, |(base, _)| base)
            .rsplit('/')
            .next()
            .expect("a database name");
        let pooler = Self {
            url: format!("postgres://postgres@127.0.0.1:{port}/{database}?sslmode=disable"),
            dir,
            port,
            upstream: upstream.to_owned(),
            max_prepared_statements,
        };
        pooler.start_again().await;
        pooler
    }

    async fn start_again(&self) {
        let (dir, port) = (self.dir.to_str().expect("path"), self.port.to_string());
        script(
            &format!(
                r#"DATABASE_URL="$3" PGB_MAX_PREPARED_STATEMENTS={} pgb_start "$1" "$2""#,
                self.max_prepared_statements
            ),
            &[dir, &port, &self.upstream],
        )
        .await;
    }

    /// Stops it (every client connection is cut) and starts it again on
    /// the same port: it knows no client's statements any more.
    pub async fn restart(&self) {
        self.stop();
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.start_again().await;
    }

    /// At once, as a crash would (every PgBouncer version dies on SIGKILL;
    /// their clean shutdowns differ and may wait for clients).
    fn stop(&self) {
        let pidfile = self.dir.join("pgbouncer.pid");
        let Ok(pid) = std::fs::read_to_string(&pidfile) else {
            return;
        };
        let pid = pid.trim();
        let _ = std::process::Command::new("kill")
            .args(["-KILL", pid])
            .status();
        for _ in 0..100 {
            if !Path::new("/proc").join(pid).exists() {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = std::fs::remove_file(pidfile);
    }
}

impl Drop for Pooler {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
