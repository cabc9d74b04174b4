//! Secrets on Lambda: deployed, a secret variable (`DATABASE_URL`,
//! `BETTER_AUTH_SECRET`, `BETTER_AUTH_SECRET_PREVIOUS`) is not in the
//! environment, where anyone allowed `lambda:GetFunctionConfiguration`
//! could read it. The environment names its secret instead
//! (`<NAME>_SECRET_ARN`), and the function reads the value from AWS
//! Secrets Manager through the AWS Parameters and Secrets Lambda Extension:
//! one plain HTTP GET to the extension on loopback, no SDK in the binary.
//! Local runs and tests set the variables themselves, as before.

use std::{collections::HashMap, time::Duration};

use http_body_util::Empty;
use hyper::{Request, StatusCode, body::Bytes};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Deserialize;
use tokio::net::TcpStream;

use crate::{
    config::{ConfigError, Source},
    http1,
};

/// How the environment names the secret that holds `<NAME>`.
pub const ARN_SUFFIX: &str = "_SECRET_ARN";

/// At init, which Lambda bounds by itself (10 s), the extension may first
/// have to ask Secrets Manager: a generous wait.
pub const INIT_FETCH_TIMEOUT: Duration = Duration::from_secs(3);

/// Secrets Manager holds at most 64 KiB a secret; its JSON answer a little
/// more.
const MAX_ANSWER_BYTES: usize = 128 * 1024;

/// Where the extension listens unless `PARAMETERS_SECRETS_EXTENSION_HTTP_PORT`
/// says otherwise.
const DEFAULT_PORT: u16 = 2773;

/// A value for each secret not fetched yet that passes every rule of the
/// configuration (a loopback PostgreSQL URL, longer than an HS256 secret's
/// minimum), so that every other variable is checked at start even while
/// the secrets cannot be fetched. It never reaches a connection or a key.
pub const PLACEHOLDER: &str = "postgresql://localhost/secret-not-fetched-yet";

/// The secret variables to fetch, and how to reach the extension.
#[derive(Debug)]
pub struct Secrets {
    /// (variable, secret id) pairs.
    wanted: Vec<(&'static str, String)>,
    extension: Option<Extension>,
}

#[derive(Debug)]
struct Extension {
    port: u16,
    /// `AWS_SESSION_TOKEN`: the extension answers only its own function.
    token: String,
}

/// Why the secrets could not be fetched (never their values).
#[derive(Debug, thiserror::Error)]
#[error("{name}{ARN_SUFFIX}: cannot fetch the secret: {reason}")]
pub struct FetchError {
    name: &'static str,
    reason: String,
}

impl Secrets {
    /// Which of `names` come from Secrets Manager. A variable set both
    /// ways is refused: which one wins would be a guess.
    pub fn from_source(src: &impl Source, names: &[&'static str]) -> Result<Self, ConfigError> {
        let mut wanted = Vec::new();
        for &name in names {
            let id = set(src, &format!("{name}{ARN_SUFFIX}"));
            match (id, set(src, name)) {
                (Some(_), Some(_)) => {
                    return Err(ConfigError {
                        name,
                        reason: format!("set it or {name}{ARN_SUFFIX}, not both"),
                    });
                }
                (Some(id), None) => wanted.push((name, id)),
                _ => {}
            }
        }
        let extension =
            match wanted.first() {
                None => None,
                Some((name, _)) => Some(Extension {
                    port: match set(src, "PARAMETERS_SECRETS_EXTENSION_HTTP_PORT") {
                        None => DEFAULT_PORT,
                        Some(raw) => {
                            raw.trim().parse().ok().filter(|p| *p > 0).ok_or_else(|| {
                                ConfigError {
                                    name: "PARAMETERS_SECRETS_EXTENSION_HTTP_PORT",
                                    reason: format!("`{raw}` is not a port number"),
                                }
                            })?
                        }
                    },
                    token: set(src, "AWS_SESSION_TOKEN").ok_or_else(|| ConfigError {
                        name: "AWS_SESSION_TOKEN",
                        reason: format!("is required to fetch {name}{ARN_SUFFIX} (Lambda sets it)"),
                    })?,
                }),
            };
        Ok(Self { wanted, extension })
    }

    pub fn is_empty(&self) -> bool {
        self.wanted.is_empty()
    }

    /// A stand-in for each secret still to fetch (see `PLACEHOLDER`).
    pub fn placeholders(&self) -> HashMap<&'static str, String> {
        self.wanted
            .iter()
            .map(|(name, _)| (*name, PLACEHOLDER.to_owned()))
            .collect()
    }

    /// Every wanted secret's value, each fetched once, within `timeout`
    /// together. An empty value is a failure, never a value.
    pub async fn fetch(
        &self,
        timeout: Duration,
    ) -> Result<HashMap<&'static str, String>, FetchError> {
        let Some(extension) = &self.extension else {
            return Ok(HashMap::new());
        };
        let mut values = HashMap::new();
        let fetch_all = async {
            for (name, id) in &self.wanted {
                let value = extension
                    .get(id)
                    .await
                    .map_err(|reason| FetchError { name, reason })?;
                values.insert(*name, value);
            }
            Ok(())
        };
        match tokio::time::timeout(timeout, fetch_all).await {
            Ok(result) => result.map(|()| values),
            Err(_) => Err(FetchError {
                name: self.wanted[values.len()].0,
                reason: format!("no answer within {timeout:?}"),
            }),
        }
    }
}

/// Variables set both ways are read through this: the fetched values over
/// the environment.
pub struct WithSecrets<'a, S> {
    pub env: &'a S,
    pub values: &'a HashMap<&'static str, String>,
}

impl<S: Source> Source for WithSecrets<'_, S> {
    fn get(&self, name: &str) -> Option<String> {
        self.values
            .get(name)
            .cloned()
            .or_else(|| self.env.get(name))
    }
}

fn set(src: &impl Source, name: &str) -> Option<String> {
    src.get(name).filter(|v| !v.trim().is_empty())
}

impl Extension {
    /// `GetSecretValue`'s `SecretString`, through the extension's cache.
    async fn get(&self, id: &str) -> Result<String, String> {
        let stream = TcpStream::connect(("127.0.0.1", self.port))
            .await
            .map_err(|e| format!("the extension is not reachable: {e}"))?;
        let path = format!(
            "/secretsmanager/get?secretId={}",
            utf8_percent_encode(id, NON_ALPHANUMERIC)
        );
        let request = Request::get(path)
            .header("host", "localhost")
            .header("x-aws-parameters-secrets-token", &self.token)
            .body(Empty::<Bytes>::new())
            .map_err(|e| e.to_string())?;
        let answer = http1::get(Box::new(stream), request)
            .await
            .map_err(|e| format!("the extension did not answer: {e}"))?;
        // Its error bodies may quote the request; only the status is kept.
        let status = answer.response.status();
        if status != StatusCode::OK {
            return Err(format!("the extension answered {status}"));
        }
        let body = answer
            .body(MAX_ANSWER_BYTES)
            .await
            .map_err(|e| format!("reading the answer failed: {e}"))?;
        #[derive(Deserialize)]
        struct Answer {
            #[serde(rename = "SecretString")]
            secret_string: Option<String>,
        }
        let answer: Answer = serde_json::from_slice(&body)
            .map_err(|_| "the answer is not GetSecretValue's JSON".to_owned())?;
        answer
            .secret_string
            .filter(|s| !s.trim().is_empty())
            .ok_or_else(|| "the secret has no text value (SecretString)".to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(pairs: &'static [(&'static str, &'static str)]) -> impl Source {
        move |k: &str| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    const NAMES: &[&str] = &["DATABASE_URL", "BETTER_AUTH_SECRET"];

    #[test]
    fn plain_variables_need_no_fetch() {
        let secrets = Secrets::from_source(&source(&[("DATABASE_URL", "postgres://h/db")]), NAMES);
        assert!(secrets.unwrap().is_empty());
    }

    #[test]
    fn a_variable_set_both_ways_or_without_a_session_token_is_refused() {
        let both = Secrets::from_source(
            &source(&[
                ("DATABASE_URL", "postgres://h/db"),
                ("DATABASE_URL_SECRET_ARN", "arn:db"),
                ("AWS_SESSION_TOKEN", "t"),
            ]),
            NAMES,
        );
        assert_eq!(both.unwrap_err().name, "DATABASE_URL");
        let no_token =
            Secrets::from_source(&source(&[("DATABASE_URL_SECRET_ARN", "arn:db")]), NAMES);
        assert_eq!(no_token.unwrap_err().name, "AWS_SESSION_TOKEN");
        let port = Secrets::from_source(
            &source(&[
                ("DATABASE_URL_SECRET_ARN", "arn:db"),
                ("AWS_SESSION_TOKEN", "t"),
                ("PARAMETERS_SECRETS_EXTENSION_HTTP_PORT", "99999"),
            ]),
            NAMES,
        );
        assert_eq!(
            port.unwrap_err().name,
            "PARAMETERS_SECRETS_EXTENSION_HTTP_PORT"
        );
    }

    #[test]
    fn the_placeholder_passes_the_checks_of_every_secret() {
        let db = crate::config::DbConfig::from_source(&|k: &str| {
            (k == "DATABASE_URL").then(|| PLACEHOLDER.to_owned())
        });
        assert!(db.is_ok());
        assert!(PLACEHOLDER.len() >= crate::config::MIN_SECRET_BYTES);
    }
}
