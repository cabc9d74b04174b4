//! Real asymmetric keys for JWKS tests (made with OpenSSL at test time) and
//! a JWKS endpoint over real HTTP whose key set a test can change.

use std::sync::{
    Arc, Mutex,
    atomic::{AtomicUsize, Ordering},
};

use axum::{Json, Router, extract::State, http::StatusCode, routing::get};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use openssl::{
    bn::BigNumContext,
    ec::{EcGroup, EcKey},
    nid::Nid,
    pkey::PKey,
    rsa::Rsa,
};
use serde_json::{Value, json};
use tokio::net::TcpListener;

use crate::cluster::Certificates;

/// A signing key and its public half as a JWK.
#[derive(Clone)]
pub struct TestKey {
    pub kid: String,
    pub alg: Algorithm,
    pub encoding: EncodingKey,
    pub jwk: Value,
    /// The public key as PEM (what an algorithm-confusion attack signs with).
    pub public_pem: Vec<u8>,
}

impl TestKey {
    pub fn generate(alg: Algorithm, kid: &str) -> Self {
        let b64 = |bytes: &[u8]| URL_SAFE_NO_PAD.encode(bytes);
        let (pkey, encoding, jwk) = match alg {
            Algorithm::EdDSA => {
                let pkey = PKey::generate_ed25519().expect("ed25519");
                let pem = pkey.private_key_to_pem_pkcs8().expect("pem");
                let x = pkey.raw_public_key().expect("raw");
                let jwk = json!({ "kty": "OKP", "crv": "Ed25519", "x": b64(&x) });
                (pkey, EncodingKey::from_ed_pem(&pem).expect("ed pem"), jwk)
            }
            Algorithm::ES256 => {
                let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).expect("p256");
                let ec = EcKey::generate(&group).expect("ec");
                let (mut x, mut y) = (
                    openssl::bn::BigNum::new().expect("bn"),
                    openssl::bn::BigNum::new().expect("bn"),
                );
                let mut ctx = BigNumContext::new().expect("ctx");
                ec.public_key()
                    .affine_coordinates(&group, &mut x, &mut y, &mut ctx)
                    .expect("coordinates");
                let pkey = PKey::from_ec_key(ec).expect("pkey");
                let pem = pkey.private_key_to_pem_pkcs8().expect("pem");
                let jwk = json!({
                    "kty": "EC", "crv": "P-256",
                    "x": b64(&x.to_vec_padded(32).expect("x")),
                    "y": b64(&y.to_vec_padded(32).expect("y")),
                });
                (pkey, EncodingKey::from_ec_pem(&pem).expect("ec pem"), jwk)
            }
            Algorithm::RS256 => {
                let rsa = Rsa::generate(2048).expect("rsa");
                let jwk = json!({
                    "kty": "RSA",
                    "n": b64(&rsa.n().to_vec()),
                    "e": b64(&rsa.e().to_vec()),
                });
                let pem = rsa.private_key_to_pem().expect("pem");
                let pkey = PKey::from_rsa(rsa).expect("pkey");
                (pkey, EncodingKey::from_rsa_pem(&pem).expect("rsa pem"), jwk)
            }
            other => panic!("no test keys for {other:?}"),
        };
        let mut jwk = jwk;
        jwk["kid"] = json!(kid);
        Self {
            kid: kid.into(),
            alg,
            encoding,
            jwk,
            public_pem: pkey.public_key_to_pem().expect("public pem"),
        }
    }

    /// `claims` signed with this key, its `kid` and algorithm in the header.
    pub fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(self.alg);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding).expect("sign")
    }
}

/// A JWKS endpoint: serves whatever set the test gives it, counts fetches,
/// and can be made to fail.
#[derive(Clone)]
pub struct JwksServer {
    pub url: String,
    shared: Arc<Shared>,
}

struct Shared {
    keys: Mutex<Option<Value>>,
    cache_control: Mutex<Option<String>>,
    fetches: AtomicUsize,
}

impl JwksServer {
    pub async fn start(keys: &[&TestKey]) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        Self::start_on(listener, keys).await
    }

    /// On a listener the test already holds (to serve a port known earlier).
    pub async fn start_on(listener: TcpListener, keys: &[&TestKey]) -> Self {
        let url = format!(
            "http://{}/api/auth/jwks",
            listener.local_addr().expect("addr")
        );
        let (server, router) = Self::new(url, keys);
        tokio::spawn(async move { axum::serve(listener, router).await });
        server
    }

    /// Over HTTPS, with the server certificate of `certs` (for 127.0.0.1,
    /// signed by `certs.ca()`).
    pub async fn start_tls(keys: &[&TestKey], certs: &Certificates) -> Self {
        let tcp = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("https://{}/api/auth/jwks", tcp.local_addr().expect("addr"));
        let read = |name: &str| std::fs::read(certs.dir.join(name)).expect("read");
        let identity = native_tls::Identity::from_pkcs8(&read("server.crt"), &read("server.key"))
            .expect("identity");
        let acceptor = native_tls::TlsAcceptor::new(identity).expect("acceptor");
        let listener = TlsListener {
            tcp,
            acceptor: acceptor.into(),
        };
        let (server, router) = Self::new(url, keys);
        tokio::spawn(async move { axum::serve(listener, router).await });
        server
    }

    fn new(url: String, keys: &[&TestKey]) -> (Self, Router) {
        let shared = Arc::new(Shared {
            keys: Mutex::new(None),
            cache_control: Mutex::new(None),
            fetches: AtomicUsize::new(0),
        });
        let router = Router::new()
            .route("/api/auth/jwks", get(serve_keys))
            .with_state(shared.clone());
        let server = Self { url, shared };
        server.publish(keys);
        (server, router)
    }

    /// Replaces the published set.
    pub fn publish(&self, keys: &[&TestKey]) {
        let set = json!({ "keys": keys.iter().map(|k| k.jwk.clone()).collect::<Vec<_>>() });
        *self.shared.keys.lock().expect("lock") = Some(set);
    }

    /// The `Cache-Control` header served with the set, if any.
    pub fn cache_control(&self, value: Option<&str>) {
        *self.shared.cache_control.lock().expect("lock") = value.map(str::to_owned);
    }

    /// From now on, answer 500.
    pub fn fail(&self) {
        *self.shared.keys.lock().expect("lock") = None;
    }

    pub fn fetches(&self) -> usize {
        self.shared.fetches.load(Ordering::SeqCst)
    }
}

/// TCP connections that have completed a TLS handshake; failed handshakes
/// (a client that refuses our certificate) are dropped.
struct TlsListener {
    tcp: TcpListener,
    acceptor: tokio_native_tls::TlsAcceptor,
}

impl axum::serve::Listener for TlsListener {
    type Io = tokio_native_tls::TlsStream<tokio::net::TcpStream>;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((stream, addr)) = self.tcp.accept().await else {
                continue;
            };
            if let Ok(tls) = self.acceptor.accept(stream).await {
                return (tls, addr);
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}

async fn serve_keys(State(shared): State<Arc<Shared>>) -> axum::response::Response {
    use axum::response::IntoResponse;
    shared.fetches.fetch_add(1, Ordering::SeqCst);
    let keys = shared.keys.lock().expect("lock").clone();
    let cache_control = shared.cache_control.lock().expect("lock").clone();
    match keys {
        Some(keys) => {
            let mut response = Json(keys).into_response();
            if let Some(value) = cache_control {
                response.headers_mut().insert(
                    axum::http::header::CACHE_CONTROL,
                    value.parse().expect("header"),
                );
            }
            response
        }
        None => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}
