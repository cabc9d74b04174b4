//! The key set's GET, made as reqwest made it before (reqwest left for the
//! zips' size, BENCHMARKS.md) with what the binary links anyway: hyper's
//! HTTP/1.1 client and hyper-util's connector (the Runtime API's), and
//! native-tls with the database's connector for https. No redirect is
//! followed (a 3xx is a failed fetch); `Accept: */*`; credentials in the
//! URL go as Basic auth; each connection attempt gets the fetch timeout
//! (split between a name's addresses), and `KeySet` bounds the whole fetch
//! by it too. A connection per fetch: fetches are minutes apart, and an
//! idle socket rarely survives Lambda freezing the environment.

use std::{error::Error, time::Duration};

use base64::Engine;
use http_body_util::Empty;
use hyper::{
    Request, Uri,
    body::Bytes,
    header::{ACCEPT, AUTHORIZATION, HOST, HeaderValue},
};
use hyper_util::client::legacy::connect::HttpConnector;
use percent_encoding::percent_decode_str;
use tower_service::Service;
use url::{Position, Url};

use crate::{
    http1::{self, Io},
    tls::Tls,
};

pub struct Client {
    connector: HttpConnector,
    /// Scheme, host and port: where to connect.
    origin: Uri,
    /// The name the server's certificate must carry (an IPv6 address
    /// without its brackets), and the connector; none over http.
    tls: Option<(String, tokio_native_tls::TlsConnector)>,
    /// Path and query: what to ask for.
    target: Uri,
    host: HeaderValue,
    authorization: Option<HeaderValue>,
}

impl Client {
    /// A client for `url` (https, or http on loopback: `config` checked).
    pub fn new(url: &str, timeout: Duration, tls: &Tls) -> Result<Self, String> {
        let url = Url::parse(url).map_err(|e| format!("not a URL ({e})"))?;
        let (Some(host), Some(port)) = (url.host_str(), url.port_or_known_default()) else {
            return Err("the URL names no host".into());
        };
        let tls = match url.scheme() {
            "https" => {
                let connector = tls.connector().map_err(|e| e.to_string())?;
                let name = host.trim_start_matches('[').trim_end_matches(']');
                Some((name.to_owned(), connector.into()))
            }
            "http" => None,
            other => return Err(format!("cannot fetch over {other}")),
        };
        let uri = |s: String| s.parse::<Uri>().map_err(|e| format!("not a URI ({e})"));
        let mut connector = HttpConnector::new();
        connector.enforce_http(false);
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(timeout));
        Ok(Self {
            connector,
            origin: uri(format!("{}://{host}:{port}", url.scheme()))?,
            tls,
            target: uri(url[Position::BeforePath..Position::AfterQuery].to_owned())?,
            // The port only when it is not the scheme's own, as browsers send it.
            host: HeaderValue::from_str(&url[Position::BeforeHost..Position::AfterPort])
                .map_err(|e| e.to_string())?,
            authorization: basic_auth(&url),
        })
    }

    /// Connects and asks: the answer once its head has come.
    pub async fn get(&self) -> Result<http1::Answer, String> {
        let tcp = self
            .connector
            .clone()
            .call(self.origin.clone())
            .await
            .map_err(|e| with_causes(&e))?
            .into_inner();
        let io: Box<dyn Io> = match &self.tls {
            Some((name, tls)) => Box::new(
                tls.connect(name, tcp)
                    .await
                    .map_err(|e| format!("TLS: {}", with_causes(&e)))?,
            ),
            None => Box::new(tcp),
        };
        let mut request = Request::get(self.target.clone())
            .header(HOST, &self.host)
            .header(ACCEPT, "*/*");
        if let Some(authorization) = &self.authorization {
            request = request.header(AUTHORIZATION, authorization);
        }
        let request = request
            .body(Empty::<Bytes>::new())
            .map_err(|e| e.to_string())?;
        http1::get(io, request).await.map_err(|e| with_causes(&e))
    }
}

/// Credentials in the URL (`https://user:pass@host/…`), as reqwest sent
/// them: Basic auth, percent-decoded; none when the user name is not UTF-8.
fn basic_auth(url: &Url) -> Option<HeaderValue> {
    fn decode(s: &str) -> Option<std::borrow::Cow<'_, str>> {
        percent_decode_str(s).decode_utf8().ok()
    }
    let user = decode(url.username())?;
    let password = url.password().and_then(decode);
    if user.is_empty() && password.is_none() {
        return None;
    }
    let pair = format!("{user}:{}", password.unwrap_or_default());
    let encoded = base64::engine::general_purpose::STANDARD.encode(pair);
    let mut value = HeaderValue::try_from(format!("Basic {encoded}")).ok()?;
    value.set_sensitive(true);
    Some(value)
}

/// An error and what caused it, for the log ("tcp connect error: …").
fn with_causes(error: &dyn Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(e) = cause {
        text.push_str(": ");
        text.push_str(&e.to_string());
        cause = e.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(url: &str) -> Client {
        Client::new(url, Duration::from_secs(1), &Tls::default()).unwrap()
    }

    #[test]
    fn the_request_is_read_from_the_url() {
        let c = client("http://[::1]:8080/api/auth/jwks?v=1#frag");
        assert_eq!(c.origin, "http://[::1]:8080/");
        assert_eq!(c.target, "/api/auth/jwks?v=1");
        assert_eq!(c.host, "[::1]:8080");
        assert!(c.tls.is_none() && c.authorization.is_none());
        let c = client("http://LocalHost:80");
        assert_eq!((c.origin.port_u16(), c.target.path()), (Some(80), "/"));
        assert_eq!(c.host, "localhost");
        // (An https client is not built here: its connector may set the
        // process environment, which tests running beside it read.)
        assert!(Client::new("ftp://h/jwks", Duration::from_secs(1), &Tls::default()).is_err());
    }

    #[test]
    fn credentials_in_the_url_are_sent_as_basic_auth() {
        let auth = |url: &str| client(url).authorization;
        // base64("us er:p@ss") and base64("user:").
        assert_eq!(
            auth("http://us%20er:p%40ss@localhost/jwks").unwrap(),
            "Basic dXMgZXI6cEBzcw=="
        );
        assert_eq!(
            auth("http://user@localhost/jwks").unwrap(),
            "Basic dXNlcjo="
        );
        assert!(auth("http://localhost/jwks").is_none());
        let c = client("http://user:pw@localhost:3000/jwks");
        assert_eq!(c.host, "localhost:3000", "credentials never in Host");
        assert!(c.authorization.unwrap().is_sensitive());
    }
}
