//! Configuration from environment variables, read once at start.
//!
//! Every value is parsed up front so that a missing or malformed variable
//! stops the process at init with a message naming it, instead of failing
//! the first request.

use std::{env, fmt, net::IpAddr, ops::RangeInclusive, str::FromStr, time::Duration};

/// A pooled connection idle past `DB_IDLE_CHECK_AFTER_MS` gets one round
/// trip before reuse; a live one answers in about a millisecond.
pub const IDLE_CHECK_TIMEOUT: Duration = Duration::from_millis(500);

/// Cancelling a statement that timed out: the cancel request (one TCP
/// connection, and TLS handshake, to the server or pooler) and the
/// statement's end, together.
pub const CANCEL_TIMEOUT: Duration = Duration::from_millis(500);

/// The dev secret of scripts/dev, the tests and the docs: published, so it
/// protects nothing (template.yaml refuses to deploy it).
pub const DEV_SECRET: &str = "local-dev-secret-do-not-use-in-production";

/// An HS256 secret shorter than this can be guessed offline from one token.
pub const MIN_SECRET_BYTES: usize = 32;

/// Bounds of every numeric setting: a value outside stops the function at
/// start, naming it, instead of overflowing a time addition or panicking
/// in a library later. Timeouts in milliseconds, up to a minute (a Lambda
/// request must answer well within its own `Timeout`).
const TIMEOUT_MS: RangeInclusive<u64> = 1..=60_000;
/// Key-set lifetimes and grace, in seconds: up to a day.
const KEY_SET_SECONDS: RangeInclusive<u64> = 1..=86_400;
/// A Lambda environment takes one request at a time; local-api uses 16.
const POOL_SIZE: RangeInclusive<usize> = 1..=100;

/// A request that finds the function's secrets still missing (`secrets`)
/// tries the fetch once more within this, so that it still answers inside
/// the function's `Timeout`.
pub const SECRETS_RETRY_TIMEOUT: Duration = Duration::from_millis(500);

/// A configuration problem, always naming the variable at fault.
#[derive(Debug, thiserror::Error)]
#[error("{name}: {reason}")]
pub struct ConfigError {
    pub name: &'static str,
    pub reason: String,
}

/// Where to read variables from: the process environment in production,
/// a map in tests (tests run in parallel and must not share `env`).
pub trait Source {
    fn get(&self, name: &str) -> Option<String>;
}

/// The process environment.
pub struct Env;

impl Source for Env {
    fn get(&self, name: &str) -> Option<String> {
        env::var(name).ok()
    }
}

impl<F: Fn(&str) -> Option<String>> Source for F {
    fn get(&self, name: &str) -> Option<String> {
        self(name)
    }
}

/// Database settings.
#[derive(Clone)]
pub struct DbConfig {
    pub url: String,
    /// Connections kept per process. A Lambda environment serves one request
    /// at a time, so 2 is plenty there; the local server raises it.
    pub pool_max_size: usize,
    pub connect_timeout: Duration,
    /// Upper bound on one statement, enforced client-side so that it also
    /// holds behind PgBouncer, which drops `options=-c statement_timeout`.
    pub statement_timeout: Duration,
    /// How long a request waits for a free pooled connection.
    pub pool_wait_timeout: Duration,
    /// A pooled connection idle longer than this is checked with one round
    /// trip before reuse (it may have died while the Lambda was frozen).
    pub idle_check_after: Duration,
    /// PEM file of CA certificates trusted for TLS to the database, in
    /// addition to the system's roots.
    pub ca_file: Option<String>,
    /// Named statements, prepared once per connection and cached
    /// (`DB_PREPARED_STATEMENTS`, default on). Off: every statement is
    /// parsed and planned again, for a pooler that cannot carry them
    /// (PgBouncer before 1.21, or `max_prepared_statements = 0`).
    pub prepared_statements: bool,
}

// The URL carries the password: never print it.
impl fmt::Debug for DbConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DbConfig")
            .field("url", &"<redacted>")
            .field("pool_max_size", &self.pool_max_size)
            .field("connect_timeout", &self.connect_timeout)
            .field("statement_timeout", &self.statement_timeout)
            .field("prepared_statements", &self.prepared_statements)
            .finish_non_exhaustive()
    }
}

/// Token verification settings: an HS256 secret, a JWKS URL, or both.
#[derive(Clone)]
pub struct AuthConfig {
    /// `BETTER_AUTH_SECRET`: verifies HS256 tokens.
    pub secret: Option<String>,
    /// `BETTER_AUTH_SECRET_PREVIOUS`: also verifies HS256 tokens during a
    /// rotation, so that tokens signed before it stay valid until they expire.
    pub previous_secret: Option<String>,
    /// `JWKS_URL`: verifies EdDSA, ES256 and RS256 tokens.
    pub jwks: Option<JwksConfig>,
    pub issuer: Option<String>,
    pub audience: Option<String>,
    /// Clock skew tolerated on `exp` and `nbf`.
    pub leeway: Duration,
}

impl fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redacted = |s: &Option<String>| s.as_ref().map(|_| "<redacted>");
        f.debug_struct("AuthConfig")
            .field("secret", &redacted(&self.secret))
            .field("previous_secret", &redacted(&self.previous_secret))
            .field("jwks", &self.jwks)
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("leeway", &self.leeway)
            .finish()
    }
}

/// Where the public keys live and how often they may be fetched.
#[derive(Clone, Debug)]
pub struct JwksConfig {
    pub url: String,
    /// Upper bound on one fetch of the key set.
    pub fetch_timeout: Duration,
    /// A token naming an unknown `kid` triggers a refetch at most this often,
    /// so random `kid`s cannot turn the API into a load on the auth server.
    pub min_refresh_interval: Duration,
    /// How long a fetched set is trusted: its `Cache-Control: max-age`,
    /// held within these bounds (`default_max_age` when it gives none).
    /// Past it the set is fetched again, so a key the auth server removed
    /// stops verifying.
    pub min_max_age: Duration,
    pub max_max_age: Duration,
    pub default_max_age: Duration,
    /// How long past its lifetime a set that cannot be fetched again still
    /// verifies (`JWKS_MAX_STALE_SECONDS`); after it, 503: a key the auth
    /// server may have withdrawn is not trusted for ever.
    pub max_stale: Duration,
}

/// Everything a task function needs.
#[derive(Clone, Debug)]
pub struct Config {
    pub db: DbConfig,
    pub auth: AuthConfig,
    /// `MAX_TASKS_PER_USER`: past it, a create is refused (409).
    pub max_tasks_per_user: i32,
}

/// The default of `MAX_TASKS_PER_USER`, and its bounds (`users.task_count`
/// is an `integer`).
pub const MAX_TASKS_PER_USER: (i32, std::ops::RangeInclusive<i32>) = (100_000, 1..=2_000_000_000);

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_source(&Env)
    }

    /// The longest a request can take before it answers, every step at its
    /// timeout: fetching the secrets (when init could not), the key set, waiting for a pooled connection,
    /// checking each idle one, connecting, the statement, and cancelling
    /// it. It must stay well inside the function's Lambda `Timeout`, or the
    /// client gets API Gateway's bare 503 instead of ours (a test holds
    /// `template.yaml` to it).
    pub fn worst_case_answer(&self) -> Duration {
        let db = &self.db;
        let jwks = self.auth.jwks.as_ref().map(|j| j.fetch_timeout);
        jwks.unwrap_or_default()
            + SECRETS_RETRY_TIMEOUT
            + db.pool_wait_timeout
            + IDLE_CHECK_TIMEOUT * db.pool_max_size as u32
            + db.connect_timeout
            + db.statement_timeout
            + CANCEL_TIMEOUT
    }

    pub fn from_source(src: &impl Source) -> Result<Self, ConfigError> {
        let (default, bounds) = MAX_TASKS_PER_USER;
        Ok(Self {
            db: DbConfig::from_source(src)?,
            auth: AuthConfig::from_source(src)?,
            max_tasks_per_user: bounded(src, "MAX_TASKS_PER_USER", default, bounds)?,
        })
    }
}

impl DbConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_source(&Env)
    }

    pub fn from_source(src: &impl Source) -> Result<Self, ConfigError> {
        let url = required(src, "DATABASE_URL")?;
        // Parse now so a typo fails at start, with the variable named.
        let pg = tokio_postgres::Config::from_str(&url).map_err(|e| ConfigError {
            name: "DATABASE_URL",
            reason: format!("not a valid PostgreSQL connection string ({e})"),
        })?;
        let allow_plaintext = flag(src, ALLOW_PLAINTEXT, false)?;
        if !allow_plaintext {
            refuse_plaintext_to_remote(&pg)?;
        }
        Ok(Self {
            url,
            pool_max_size: bounded(src, "DB_POOL_MAX_SIZE", 2, POOL_SIZE)?,
            connect_timeout: millis(src, "DB_CONNECT_TIMEOUT_MS", 2_000)?,
            statement_timeout: millis(src, "DB_STATEMENT_TIMEOUT_MS", 3_000)?,
            pool_wait_timeout: millis(src, "DB_POOL_TIMEOUT_MS", 500)?,
            idle_check_after: Duration::from_millis(bounded(
                src,
                "DB_IDLE_CHECK_AFTER_MS",
                10_000,
                1..=3_600_000,
            )?),
            ca_file: optional(src, "DATABASE_CA_FILE"),
            prepared_statements: flag(src, "DB_PREPARED_STATEMENTS", true)?,
        })
    }
}

impl AuthConfig {
    pub fn from_source(src: &impl Source) -> Result<Self, ConfigError> {
        let secret = hs256_secret(src, "BETTER_AUTH_SECRET")?;
        let previous_secret = hs256_secret(src, "BETTER_AUTH_SECRET_PREVIOUS")?;
        if previous_secret.is_some() && secret.is_none() {
            return Err(ConfigError {
                name: "BETTER_AUTH_SECRET_PREVIOUS",
                reason: "is set without BETTER_AUTH_SECRET (the new secret)".into(),
            });
        }
        let jwks = match optional(src, "JWKS_URL") {
            Some(url) => Some(JwksConfig::new(src, url)?),
            None => None,
        };
        let issuer = optional(src, "JWT_ISSUER");
        let audience = optional(src, "JWT_AUDIENCE");
        match &jwks {
            None if secret.is_none() => {
                return Err(ConfigError {
                    name: "BETTER_AUTH_SECRET",
                    reason: "is required unless JWKS_URL is set".into(),
                });
            }
            // Any key in a set may sign tokens for other audiences too:
            // without both, a token issued to another service would pass.
            Some(_) if issuer.is_none() => {
                return Err(ConfigError {
                    name: "JWT_ISSUER",
                    reason: "is required with JWKS_URL (the auth server's base URL)".into(),
                });
            }
            Some(_) if audience.is_none() => {
                return Err(ConfigError {
                    name: "JWT_AUDIENCE",
                    reason: "is required with JWKS_URL (the audience the auth server signs for)"
                        .into(),
                });
            }
            Some(_) if secret.is_some() && !flag(src, "ALLOW_HS256", false)? => {
                return Err(ConfigError {
                    name: "BETTER_AUTH_SECRET",
                    reason: "is refused beside JWKS_URL: anyone holding it can sign for any \
                             user; set ALLOW_HS256=true to accept both"
                        .into(),
                });
            }
            _ => {}
        }
        Ok(Self {
            secret,
            previous_secret,
            jwks,
            issuer,
            audience,
            leeway: Duration::from_secs(bounded(src, "JWT_LEEWAY_SECONDS", 30, 0..=300)?),
        })
    }
}

impl JwksConfig {
    fn new(src: &impl Source, url: String) -> Result<Self, ConfigError> {
        let parsed_url = url::Url::parse(&url).map_err(|e| ConfigError {
            name: "JWKS_URL",
            reason: format!("`{url}` is not a URL ({e})"),
        })?;
        // Keys fetched in clear could be swapped on the way; loopback never
        // leaves the machine (tests, a sidecar).
        let secure = match parsed_url.scheme() {
            "https" => true,
            "http" => is_loopback(&parsed_url),
            _ => false,
        };
        if !secure {
            return Err(ConfigError {
                name: "JWKS_URL",
                reason: format!("`{url}` is not an https:// URL (http:// only on loopback)"),
            });
        }
        let min_max_age = seconds(src, "JWKS_CACHE_MIN_SECONDS", 60)?;
        let max_max_age = seconds(src, "JWKS_CACHE_MAX_SECONDS", 900)?;
        if min_max_age > max_max_age {
            return Err(ConfigError {
                name: "JWKS_CACHE_MIN_SECONDS",
                reason: "must not exceed JWKS_CACHE_MAX_SECONDS".into(),
            });
        }
        Ok(Self {
            url,
            fetch_timeout: millis(src, "JWKS_FETCH_TIMEOUT_MS", 1_500)?,
            min_refresh_interval: Duration::from_secs(bounded(
                src,
                "JWKS_MIN_REFRESH_SECONDS",
                30,
                0..=*KEY_SET_SECONDS.end(),
            )?),
            min_max_age,
            max_max_age,
            default_max_age: Duration::from_secs(300).clamp(min_max_age, max_max_age),
            max_stale: Duration::from_secs(bounded(
                src,
                "JWKS_MAX_STALE_SECONDS",
                3_600,
                0..=*KEY_SET_SECONDS.end(),
            )?),
        })
    }
}

/// The variable that lets a non-loopback database be reached without
/// `sslmode=require`: only on purpose (a private Docker network, a tunnel).
pub const ALLOW_PLAINTEXT: &str = "DATABASE_ALLOW_PLAINTEXT";

/// A database beyond this machine is reached over TLS, or not at all:
/// tokio-postgres' default `sslmode=prefer` falls back to plaintext, which
/// anyone on the path can force. Loopback (the literal `localhost`, an
/// address in 127.0.0.0/8, `::1`) and Unix sockets are exempt; a name is
/// never resolved to decide (DNS could lie), so `db.internal` needs TLS.
fn refuse_plaintext_to_remote(pg: &tokio_postgres::Config) -> Result<(), ConfigError> {
    use tokio_postgres::config::{Host, SslMode};
    if pg.get_ssl_mode() == SslMode::Require {
        return Ok(());
    }
    let is_loopback = |name: &str| {
        name.eq_ignore_ascii_case("localhost")
            || name
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    };
    let remote = pg
        .get_hosts()
        .iter()
        .filter_map(|host| match host {
            Host::Tcp(name) => (!is_loopback(name)).then(|| name.clone()),
            #[cfg(unix)]
            Host::Unix(_) => None,
        })
        .chain(
            pg.get_hostaddrs()
                .iter()
                .filter(|ip| !ip.is_loopback())
                .map(|ip| ip.to_string()),
        )
        .next();
    let Some(host) = remote else { return Ok(()) };
    let mode = match pg.get_ssl_mode() {
        SslMode::Disable => "sslmode=disable",
        _ => "no sslmode=require (the default, prefer, falls back to plaintext)",
    };
    Err(ConfigError {
        name: "DATABASE_URL",
        reason: format!(
            "host `{host}` is not loopback and the URL has {mode}: add sslmode=require, \
             or set {ALLOW_PLAINTEXT}=true to connect without TLS on purpose"
        ),
    })
}

/// The literal `localhost`, 127.0.0.0/8 or `::1`; a name is not resolved.
fn is_loopback(url: &url::Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// An HS256 secret: unset, or at least `MIN_SECRET_BYTES` long.
fn hs256_secret(src: &impl Source, name: &'static str) -> Result<Option<String>, ConfigError> {
    let value = optional(src, name);
    if value.as_ref().is_some_and(|s| s.len() < MIN_SECRET_BYTES) {
        return Err(ConfigError {
            name,
            reason: format!(
                "is shorter than {MIN_SECRET_BYTES} bytes (make one: openssl rand -base64 32)"
            ),
        });
    }
    Ok(value)
}

/// `true` or `false`; unset is `default`.
fn flag(src: &impl Source, name: &'static str, default: bool) -> Result<bool, ConfigError> {
    match optional(src, name).as_deref().map(str::trim) {
        None => Ok(default),
        Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(other) => Err(ConfigError {
            name,
            reason: format!("`{other}` is not `true` or `false`"),
        }),
    }
}

fn optional(src: &impl Source, name: &str) -> Option<String> {
    src.get(name).filter(|v| !v.trim().is_empty())
}

fn required(src: &impl Source, name: &'static str) -> Result<String, ConfigError> {
    optional(src, name).ok_or(ConfigError {
        name,
        reason: "is required but not set".into(),
    })
}

/// A number within `range`, or `default` when unset.
fn bounded<T: FromStr + PartialOrd + fmt::Display>(
    src: &impl Source,
    name: &'static str,
    default: T,
    range: RangeInclusive<T>,
) -> Result<T, ConfigError> {
    let Some(raw) = optional(src, name) else {
        return Ok(default);
    };
    raw.trim()
        .parse::<T>()
        .ok()
        .filter(|v| range.contains(v))
        .ok_or_else(|| ConfigError {
            name,
            reason: format!(
                "`{raw}` is not a whole number from {} to {}",
                range.start(),
                range.end()
            ),
        })
}

fn seconds(src: &impl Source, name: &'static str, default: u64) -> Result<Duration, ConfigError> {
    bounded(src, name, default, KEY_SET_SECONDS).map(Duration::from_secs)
}

fn millis(src: &impl Source, name: &'static str, default: u64) -> Result<Duration, ConfigError> {
    bounded(src, name, default, TIMEOUT_MS).map(Duration::from_millis)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn source(pairs: &[(&str, &str)]) -> impl Source {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k: &str| map.get(k).cloned()
    }

    #[test]
    fn missing_variable_is_named() {
        let err = Config::from_source(&source(&[("BETTER_AUTH_SECRET", DEV_SECRET)])).unwrap_err();
        assert_eq!(err.name, "DATABASE_URL");
        let err = Config::from_source(&source(&[(
            "DATABASE_URL",
            "postgres://h/db?sslmode=require",
        )]))
        .unwrap_err();
        assert_eq!(err.name, "BETTER_AUTH_SECRET");
    }

    #[test]
    fn jwks_url_alone_is_enough_and_must_be_https_or_loopback() {
        let db = ("DATABASE_URL", "postgres://h/db?sslmode=require");
        let issuer = ("JWT_ISSUER", "https://auth.example.com");
        let audience = ("JWT_AUDIENCE", "https://auth.example.com");
        let cfg = Config::from_source(&source(&[
            db,
            ("JWKS_URL", "https://auth.example.com/api/auth/jwks"),
            issuer,
            audience,
        ]))
        .unwrap();
        assert!(cfg.auth.secret.is_none());
        let jwks = cfg.auth.jwks.unwrap();
        assert_eq!(jwks.min_refresh_interval, Duration::from_secs(30));
        for bad in [
            "auth.example.com/jwks",
            "file:///etc/passwd",
            "http://auth.example.com/jwks",
            "http://127.0.0.1.example.com/jwks",
        ] {
            let err = Config::from_source(&source(&[db, ("JWKS_URL", bad), issuer, audience]))
                .unwrap_err();
            assert_eq!(err.name, "JWKS_URL", "{bad}");
        }
        for loopback in [
            "http://localhost:3000/jwks",
            "http://127.0.0.5/jwks",
            "http://[::1]:8080/jwks",
        ] {
            let cfg = Config::from_source(&source(&[db, ("JWKS_URL", loopback), issuer, audience]));
            assert!(cfg.is_ok(), "{loopback}: {cfg:?}");
        }
    }

    #[test]
    fn jwks_tokens_are_bound_to_issuer_and_audience() {
        let base = [
            ("DATABASE_URL", "postgres://h/db?sslmode=require"),
            ("JWKS_URL", "https://auth.example.com/api/auth/jwks"),
            ("JWT_ISSUER", "https://auth.example.com"),
            ("JWT_AUDIENCE", "https://app.example.com"),
        ];
        assert!(Config::from_source(&source(&base)).is_ok());
        for missing in ["JWT_ISSUER", "JWT_AUDIENCE"] {
            let pairs: Vec<_> = base
                .iter()
                .copied()
                .filter(|(k, _)| *k != missing)
                .collect();
            let err = Config::from_source(&source(&pairs)).unwrap_err();
            assert_eq!(err.name, missing);
        }
    }

    #[test]
    fn hs256_secrets_are_long_and_refused_beside_jwks_unless_allowed() {
        let db = ("DATABASE_URL", "postgres://h/db?sslmode=require");
        assert!(DEV_SECRET.len() >= MIN_SECRET_BYTES);
        let short = "a".repeat(MIN_SECRET_BYTES - 1);
        let long = "a".repeat(MIN_SECRET_BYTES);
        let err = Config::from_source(&source(&[db, ("BETTER_AUTH_SECRET", &short)])).unwrap_err();
        assert_eq!(err.name, "BETTER_AUTH_SECRET");
        assert!(Config::from_source(&source(&[db, ("BETTER_AUTH_SECRET", &long)])).is_ok());

        // A rotation: both verify; the previous one alone is a mistake.
        let cfg = Config::from_source(&source(&[
            db,
            ("BETTER_AUTH_SECRET", &long),
            ("BETTER_AUTH_SECRET_PREVIOUS", DEV_SECRET),
        ]))
        .unwrap();
        assert_eq!(cfg.auth.previous_secret.as_deref(), Some(DEV_SECRET));
        for pairs in [
            vec![db, ("BETTER_AUTH_SECRET_PREVIOUS", DEV_SECRET)],
            vec![
                db,
                ("BETTER_AUTH_SECRET", DEV_SECRET),
                ("BETTER_AUTH_SECRET_PREVIOUS", &short),
            ],
        ] {
            let err = Config::from_source(&source(&pairs)).unwrap_err();
            assert_eq!(err.name, "BETTER_AUTH_SECRET_PREVIOUS");
        }

        let jwks = [
            db,
            ("BETTER_AUTH_SECRET", DEV_SECRET),
            ("JWKS_URL", "https://auth.example.com/api/auth/jwks"),
            ("JWT_ISSUER", "https://auth.example.com"),
            ("JWT_AUDIENCE", "https://auth.example.com"),
        ];
        let err = Config::from_source(&source(&jwks)).unwrap_err();
        assert_eq!(err.name, "BETTER_AUTH_SECRET");
        assert!(err.reason.contains("ALLOW_HS256"), "{err}");
        for (allow, ok) in [("true", true), ("false", false)] {
            let mut pairs = jwks.to_vec();
            pairs.push(("ALLOW_HS256", allow));
            assert_eq!(Config::from_source(&source(&pairs)).is_ok(), ok, "{allow}");
        }
        let mut pairs = jwks.to_vec();
        pairs.push(("ALLOW_HS256", "yes"));
        assert_eq!(
            Config::from_source(&source(&pairs)).unwrap_err().name,
            "ALLOW_HS256"
        );
    }

    #[test]
    fn malformed_values_are_named() {
        let base = [
            ("DATABASE_URL", "postgres://h/db?sslmode=require"),
            ("BETTER_AUTH_SECRET", DEV_SECRET),
        ];
        for (name, value) in [
            ("DATABASE_URL", "postgres://h/db?sslmode=bogus"),
            // Modes libpq knows and tokio-postgres does not: refused (on
            // loopback, so only as malformed), not read as another mode.
            ("DATABASE_URL", "postgres://127.0.0.1/db?sslmode=allow"),
            ("DATABASE_URL", "postgres://127.0.0.1/db?sslmode=verify-ca"),
            (
                "DATABASE_URL",
                "postgres://127.0.0.1/db?sslmode=verify-full",
            ),
            ("DB_POOL_MAX_SIZE", "0"),
            ("DB_POOL_MAX_SIZE", "many"),
            ("DB_POOL_MAX_SIZE", "100000"),
            ("DB_STATEMENT_TIMEOUT_MS", "-1"),
            ("DB_STATEMENT_TIMEOUT_MS", "18446744073709551615"),
            ("JWT_LEEWAY_SECONDS", "1.5"),
            ("JWT_LEEWAY_SECONDS", "18446744073709551615"),
            ("DB_PREPARED_STATEMENTS", "sometimes"),
        ] {
            let mut pairs = base.to_vec();
            pairs.retain(|(k, _)| *k != name);
            pairs.push((name, value));
            let err = Config::from_source(&source(&pairs)).unwrap_err();
            assert_eq!(err.name, name, "{name}={value}");
        }
    }

    #[test]
    fn a_remote_database_needs_tls_unless_plaintext_is_allowed() {
        let with = |url: &str, allow: Option<&str>| {
            let mut pairs = vec![("DATABASE_URL", url), ("BETTER_AUTH_SECRET", "s")];
            pairs.extend(allow.map(|v| (ALLOW_PLAINTEXT, v)));
            DbConfig::from_source(&source(&pairs))
        };
        for remote in [
            "postgres://db.example/tasks",
            "postgres://db.example/tasks?sslmode=prefer",
            "postgres://db.example/tasks?sslmode=disable",
            "postgres://10.0.0.5/tasks?sslmode=prefer",
            "postgres://172.17.0.1:5432/tasks?sslmode=disable",
            "postgres://[2001:db8::1]/tasks",
            // A name is never resolved, however local it sounds.
            "postgres://localhost.example/tasks",
            "postgres://db.internal,127.0.0.1/tasks",
            "host=127.0.0.1 hostaddr=10.0.0.5 dbname=tasks",
        ] {
            let err = with(remote, None).unwrap_err();
            assert_eq!(err.name, "DATABASE_URL", "{remote}");
            assert!(
                err.reason.contains("sslmode=require") && err.reason.contains(ALLOW_PLAINTEXT),
                "{remote}: {err}"
            );
            assert!(with(remote, Some("true")).is_ok(), "{remote}");
            assert_eq!(
                with(remote, Some("yes")).unwrap_err().name,
                ALLOW_PLAINTEXT,
                "{remote}"
            );
            assert!(with(remote, Some("false")).is_err(), "{remote}");
        }
        for fine in [
            "postgres://db.example/tasks?sslmode=require",
            "postgres://localhost/tasks",
            "postgres://LOCALHOST:5433/tasks?sslmode=disable",
            "postgres://127.0.0.1/tasks?sslmode=disable",
            "postgres://127.8.9.10/tasks",
            "postgres://[::1]:5432/tasks?sslmode=prefer",
            "host=/var/run/postgresql dbname=tasks",
            "postgres://%2Fvar%2Frun%2Fpostgresql/tasks",
        ] {
            assert!(with(fine, None).is_ok(), "{fine}: {:?}", with(fine, None));
        }
    }

    #[test]
    fn prepared_statements_can_be_turned_off() {
        for (value, on) in [("false", false), ("true", true)] {
            let cfg = Config::from_source(&source(&[
                ("DATABASE_URL", "postgres://127.0.0.1/db"),
                ("BETTER_AUTH_SECRET", DEV_SECRET),
                ("DB_PREPARED_STATEMENTS", value),
            ]))
            .unwrap();
            assert_eq!(cfg.db.prepared_statements, on, "{value}");
        }
    }

    #[test]
    fn defaults_apply_and_secrets_are_not_printed() {
        let cfg = Config::from_source(&source(&[
            ("DATABASE_URL", "postgres://u:hunter2@h/db?sslmode=require"),
            (
                "BETTER_AUTH_SECRET",
                "topsecret-topsecret-topsecret-topsecret",
            ),
            (
                "BETTER_AUTH_SECRET_PREVIOUS",
                "oldsecret-oldsecret-oldsecret-oldsecret",
            ),
        ]))
        .unwrap();
        assert_eq!(cfg.db.pool_max_size, 2);
        assert_eq!(cfg.max_tasks_per_user, 100_000);
        assert!(cfg.db.prepared_statements);
        assert_eq!(cfg.auth.leeway, Duration::from_secs(30));
        assert_eq!(cfg.auth.issuer, None);
        let printed = format!("{cfg:?}");
        assert!(
            !printed.contains("hunter2")
                && !printed.contains("topsecret")
                && !printed.contains("oldsecret"),
            "{printed}"
        );
    }
}
