//! TLS to PostgreSQL as on Neon: the server has a certificate from a CA the
//! test makes; the functions connect with `sslmode=require` and verify the
//! chain and host against `DATABASE_CA_FILE`. A wrong CA fails fast with a
//! clear error. The JWKS endpoint over HTTPS, through the same connector.

use std::{collections::HashMap, error::Error, sync::Arc, time::Instant};

use integration_tests::{
    cluster::{Certificates, Cluster},
    keys::{JwksServer, TestKey},
    *,
};
use jsonwebtoken::Algorithm;
use shared::AppState;

fn vars(url: &str, ca_file: Option<String>) -> HashMap<String, String> {
    let mut vars = HashMap::from([
        ("DATABASE_URL".to_owned(), format!("{url}?sslmode=require")),
        ("BETTER_AUTH_SECRET".to_owned(), SECRET.to_owned()),
        ("DB_CONNECT_TIMEOUT_MS".to_owned(), "2000".to_owned()),
    ]);
    if let Some(ca) = ca_file {
        vars.insert("DATABASE_CA_FILE".into(), ca);
    }
    vars
}

/// An error with its causes, as an operator would read it.
fn chain(e: &dyn Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[tokio::test(flavor = "multi_thread")]
async fn functions_talk_to_postgres_over_verified_tls() {
    let certs = Certificates::make();
    let cluster = Cluster::start(Some(&certs.dir)).await;

    // Verified against the CA file: migrations and the API work.
    let config = config_from(&vars(&cluster.url, Some(certs.ca())));
    let mut client = shared::db::connect(&config.db).await.expect("TLS connect");
    shared::migrations::up(&mut client).await.expect("migrate");
    let ssl: bool = client
        .query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .await
        .expect("pg_stat_ssl")
        .get(0);
    assert!(ssl, "the connection is not encrypted");

    let state = Arc::new(AppState::new(&config).expect("state"));
    let base = serve(state, origins()).await;
    let http = reqwest::Client::new();
    let created = http
        .post(format!("{base}/api/alice/tasks"))
        .bearer_auth(token("alice"))
        .json(&serde_json::json!({ "title": "over TLS" }))
        .send()
        .await
        .expect("send");
    assert_eq!(created.status(), StatusCode::CREATED);
    let sessions: i64 = client
        .query_one(
            "SELECT count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) \
             WHERE a.datname = 'postgres' AND NOT s.ssl AND a.backend_type = 'client backend'",
            &[],
        )
        .await
        .expect("count")
        .get(0);
    assert_eq!(sessions, 0, "some connection is not encrypted");

    // A CA that did not sign the server's certificate, or none at all (the
    // system roots do not know the test CA): refused, saying why (the
    // certificate, not a timeout).
    for ca in [Some(certs.wrong_ca()), None] {
        let config = config_from(&vars(&cluster.url, ca.clone()));
        let started = Instant::now();
        let error = shared::db::connect(&config.db)
            .await
            .expect_err("must not connect");
        let text = chain(&error);
        assert!(
            text.contains("certificate verify failed"),
            "{ca:?}: unclear error: {text}"
        );
        // A guard against hanging or retrying, not a speed goal: a loaded
        // 2-core CI machine once took 2.9 s over this handshake.
        assert!(
            started.elapsed().as_secs() < 10,
            "{ca:?}: took {:?}",
            started.elapsed()
        );

        // The API answers 503, not 500, and does not hang.
        let state = Arc::new(AppState::new(&config).expect("state"));
        let base = serve(state, origins()).await;
        let response = http
            .get(format!("{base}/api/alice/tasks"))
            .bearer_auth(token("alice"))
            .send()
            .await
            .expect("send");
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    }
}

/// Over TLS, a server offering SCRAM-SHA-256-PLUS gets channel binding:
/// tokio-postgres' default, `prefer`, is what a URL without
/// `channel_binding` means, and `channel_binding=require` (which refuses a
/// login without binding) connects through our TLS connector — so the
/// binding is there to be had.
#[tokio::test(flavor = "multi_thread")]
async fn scram_logins_over_tls_are_bound_to_the_channel() {
    use tokio_postgres::config::ChannelBinding;
    let certs = Certificates::make();
    let cluster = Cluster::start(Some(&certs.dir)).await;
    let admin = shared::db::connect(&config_from(&vars(&cluster.url, Some(certs.ca()))).db)
        .await
        .expect("TLS connect");
    admin
        .batch_execute(
            "SET password_encryption = 'scram-sha-256';
             CREATE ROLE scram_user LOGIN PASSWORD 'scram-password'",
        )
        .await
        .unwrap();
    cluster.hba_first("hostssl all scram_user 127.0.0.1/32 scram-sha-256");
    admin
        .batch_execute("SELECT pg_reload_conf()")
        .await
        .unwrap();
    let base = cluster
        .url
        .replace("postgres@", "scram_user:scram-password@");
    for (query, binding) in [
        ("", ChannelBinding::Prefer),
        ("&channel_binding=require", ChannelBinding::Require),
    ] {
        let mut vars = vars(&base, Some(certs.ca()));
        let url = format!("{}{query}", vars["DATABASE_URL"]);
        let parsed: tokio_postgres::Config = url.parse().unwrap();
        assert_eq!(parsed.get_channel_binding(), binding, "{url}");
        vars.insert("DATABASE_URL".into(), url.clone());
        let client = shared::db::connect(&config_from(&vars).db)
            .await
            .unwrap_or_else(|e| panic!("{url}: {}", chain(&e)));
        let row = client
            .query_one(
                "SELECT current_user::text, ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
                &[],
            )
            .await
            .unwrap();
        assert_eq!(row.get::<_, String>(0), "scram_user");
        assert!(row.get::<_, bool>(1), "{url}: not encrypted");
    }
    // The password is checked (the SCRAM line applies).
    let mut wrong = vars(
        &cluster.url.replace("postgres@", "scram_user:wrong@"),
        Some(certs.ca()),
    );
    let url = format!("{}&channel_binding=require", wrong["DATABASE_URL"]);
    wrong.insert("DATABASE_URL".into(), url);
    let error = shared::db::connect(&config_from(&wrong).db)
        .await
        .expect_err("a wrong password");
    assert!(chain(&error).contains("password"), "{}", chain(&error));
}

/// The JWKS client shares the database's TLS connector (one CA bundle
/// parse per cold start, not two), so it trusts the system's roots plus
/// `DATABASE_CA_FILE`: a key set served over HTTPS with a certificate from
/// that CA verifies tokens; without it, or with another CA, the certificate
/// is refused and the API answers 503 (keys unavailable), never 401 or 500.
#[tokio::test(flavor = "multi_thread")]
async fn the_jwks_is_fetched_over_verified_tls() {
    let certs = Certificates::make();
    let key = TestKey::generate(Algorithm::EdDSA, "k1");
    let jwks = JwksServer::start_tls(&[&key], &certs).await;
    const ISSUER: &str = "https://auth.example";
    let token = key.sign(&serde_json::json!({
        "sub": "alice", "iss": ISSUER, "aud": ISSUER, "iat": now(), "exp": now() + 900,
    }));
    for (ca, expected) in [
        (Some(certs.ca()), StatusCode::OK),
        (None, StatusCode::SERVICE_UNAVAILABLE),
        (Some(certs.wrong_ca()), StatusCode::SERVICE_UNAVAILABLE),
    ] {
        let fetches = jwks.fetches();
        let app = TestApp::spawn_with(|vars| {
            vars.insert("JWKS_URL".into(), jwks.url.clone());
            vars.insert("JWT_ISSUER".into(), ISSUER.into());
            vars.insert("JWT_AUDIENCE".into(), ISSUER.into());
            vars.remove("BETTER_AUTH_SECRET");
            if let Some(ca) = ca.clone() {
                vars.insert("DATABASE_CA_FILE".into(), ca);
            }
        })
        .await;
        let status = app.list_status("alice", &token).await;
        assert_eq!(status, expected, "CA file {ca:?}");
        // Only a verified connection reaches the endpoint.
        let reached = jwks.fetches() > fetches;
        assert_eq!(reached, expected == StatusCode::OK, "CA file {ca:?}");
    }
}

/// The platform's default trust store, as a function finds it with no
/// `SSL_CERT_FILE` / `SSL_CERT_DIR` of the user's: a hashed CA directory,
/// looked up lazily. The real `health` binary (a process of its own, so
/// its environment is its own) over TLS to a cluster whose CA is absent
/// from the system's roots (503), in a hashed directory (200), or added
/// with `DATABASE_CA_FILE` (200).
#[tokio::test(flavor = "multi_thread")]
async fn a_function_verifies_against_a_hashed_ca_directory() {
    use integration_tests::runtime_api::RuntimeApi;
    let certs = Certificates::make();
    let cluster = Cluster::start(Some(&certs.dir)).await;
    let hashed = cluster::scratch_dir("task-api-hashed-cas");
    let ca = std::fs::read(certs.ca()).unwrap();
    let hash = openssl::x509::X509::from_pem(&ca)
        .unwrap()
        .subject_name_hash();
    std::fs::write(hashed.join(format!("{hash:08x}.0")), &ca).unwrap();
    let event = std::fs::read(format!(
        "{}/../events/health.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let binary = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/debug/health");
    let url = format!("{}?sslmode=require", cluster.url);
    let (hashed_dir, ca_file) = (hashed.to_string_lossy(), certs.ca());
    for (extra, expected) in [
        (None, 503),
        (Some(("SSL_CERT_DIR", hashed_dir.as_ref())), 200),
        (Some(("DATABASE_CA_FILE", ca_file.as_str())), 200),
    ] {
        let api = RuntimeApi::start().await;
        let log = hashed.join("health.log");
        let mut env = vec![("DATABASE_URL", url.as_str())];
        env.extend(extra);
        let _function = api.spawn_function(&binary, &[], &env, &log);
        let document = api.invoke(&event).await;
        let response: serde_json::Value = serde_json::from_slice(&document).unwrap();
        assert_eq!(
            response["statusCode"],
            expected,
            "{extra:?}: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    }
    let _ = std::fs::remove_dir_all(hashed);
}
