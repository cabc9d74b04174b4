//! Public keys from a JWKS endpoint (Better Auth serves one at
//! `/api/auth/jwks`): fetched at start and kept for the set's lifetime (its
//! `Cache-Control: max-age`, within bounds), then fetched again, so a key
//! the auth server removed stops verifying; refetched sooner — at most once
//! per `min_refresh_interval` — when a token names a key we do not hold, so
//! a key rotation needs no redeploy. A failed or empty fetch keeps the keys
//! already held, for at most `max_stale` past the set's lifetime; then
//! tokens get 503. One fetch at a time, over https (loopback excepted),
//! never following a redirect, the body capped while it streams.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError},
    time::{Duration, Instant},
};

use jsonwebtoken::{
    Algorithm, DecodingKey,
    jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse},
};
use serde::Deserialize;

use crate::{config::JwksConfig, http1::BodyError, tls::Tls};

mod client;

/// After a failed fetch, the next one may come this soon: a token we cannot
/// verify gets a 503 with `Retry-After`, and the retry should find out.
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(1);

/// A key set larger than this is not a key set.
const MAX_JWKS_BYTES: usize = 256 * 1024;

/// One usable key and the only algorithm it may verify.
pub struct VerifyingKey {
    pub algorithm: Algorithm,
    pub key: DecodingKey,
}

#[derive(Debug, PartialEq, Eq)]
pub enum KeyError {
    /// The key set, freshly fetched or recently enough, has no such key.
    Unknown,
    /// The key set could not be fetched, so the token cannot be judged.
    Unavailable,
}

/// The key-set client could not be built (TLS setup failed).
#[derive(Debug, thiserror::Error)]
#[error("JWKS_URL: cannot build the key-set client: {0}")]
pub struct KeySetupError(String);

pub struct KeySet {
    config: JwksConfig,
    client: client::Client,
    cache: Mutex<Cache>,
    /// Held while fetching: concurrent misses wait for one fetch.
    refresh: tokio::sync::Mutex<()>,
}

#[derive(Default)]
struct Cache {
    keys: HashMap<String, Arc<VerifyingKey>>,
    /// Keys published without a `kid`; used only when the set has one key.
    unnamed: Vec<Arc<VerifyingKey>>,
    /// When the last fetch happened, and whether it succeeded.
    last_fetch: Option<(Instant, bool)>,
    /// Until when the keys held are trusted without asking again.
    fresh_until: Option<Instant>,
}

impl KeySet {
    pub fn new(config: JwksConfig, tls: &Tls) -> Result<Self, KeySetupError> {
        let client =
            client::Client::new(&config.url, config.fetch_timeout, tls).map_err(KeySetupError)?;
        Ok(Self {
            config,
            client,
            cache: Mutex::default(),
            refresh: tokio::sync::Mutex::new(()),
        })
    }

    /// Fetches the key set ahead of the first request (during init, which
    /// runs at full CPU on Lambda). A failure is logged, not fatal.
    pub async fn warm_up(&self) {
        let _guard = self.refresh.lock().await;
        self.fetch().await;
    }

    /// The key a token's header names, fetching the set when it is not
    /// held or has outlived its lifetime.
    pub async fn key(&self, kid: Option<&str>) -> Result<Arc<VerifyingKey>, KeyError> {
        if let Some(key) = self.cache().find_fresh(kid) {
            return Ok(key);
        }
        let _guard = self.refresh.lock().await;
        // Another request may have fetched while we waited.
        let due = {
            let cache = self.cache();
            if let Some(key) = cache.find_fresh(kid) {
                return Ok(key);
            }
            cache.fetch_due(self.config.min_refresh_interval)
        };
        if due {
            self.fetch().await;
        }
        let cache = self.cache();
        match (
            cache.find_usable(kid, self.config.max_stale),
            cache.last_fetch,
        ) {
            (Some(key), _) => Ok(key),
            (None, Some((_, true))) => Err(KeyError::Unknown),
            (None, _) => Err(KeyError::Unavailable),
        }
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, Cache> {
        // The cache is replaced whole, never left half-updated: a panic
        // elsewhere while it was held cannot have corrupted it.
        self.cache.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// One fetch; on failure, or a set with no usable key, the keys
    /// already held stay in use.
    async fn fetch(&self) {
        let result = self.download().await.and_then(|(fresh, max_age)| {
            match fresh.keys.len() + fresh.unnamed.len() {
                0 => Err("the key set holds no usable key".to_owned()),
                _ => Ok((fresh, max_age)),
            }
        });
        let mut cache = self.cache();
        let now = Instant::now();
        match result {
            Ok((fresh, max_age)) => {
                let max_age = max_age
                    .unwrap_or(self.config.default_max_age)
                    .clamp(self.config.min_max_age, self.config.max_max_age);
                tracing::info!(
                    keys = fresh.keys.len() + fresh.unnamed.len(),
                    max_age_s = max_age.as_secs(),
                    "fetched JWKS"
                );
                *cache = Cache {
                    last_fetch: Some((now, true)),
                    fresh_until: Some(now + max_age),
                    ..fresh
                };
            }
            Err(reason) => {
                tracing::warn!(%reason, "cannot fetch JWKS; keeping the keys held");
                cache.last_fetch = Some((now, false));
            }
        }
    }

    /// The set and its `Cache-Control: max-age`, if it gives one, within
    /// the fetch timeout: connecting, TLS, and the whole answer.
    async fn download(&self) -> Result<(Cache, Option<Duration>), String> {
        let timeout = self.config.fetch_timeout;
        tokio::time::timeout(timeout, self.download_now())
            .await
            .unwrap_or_else(|_| Err(format!("no answer within {timeout:?}")))
    }

    async fn download_now(&self) -> Result<(Cache, Option<Duration>), String> {
        // Never redirected: a redirect could lead to keys served by someone
        // else, or in clear.
        let answer = self
            .client
            .get()
            .await
            .map_err(|e| format!("request failed: {e}"))?;
        let status = answer.response.status();
        if !status.is_success() {
            return Err(format!("answered {status}"));
        }
        let max_age = answer
            .response
            .headers()
            .get(hyper::header::CACHE_CONTROL)
            .and_then(|v| v.to_str().ok())
            .and_then(max_age);
        let body = answer.body(MAX_JWKS_BYTES).await.map_err(|e| match e {
            BodyError::TooLarge(_) => "key set is too large".to_owned(),
            BodyError::Read(e) => format!("reading the body failed: {e}"),
        })?;
        Ok((parse(&body)?, max_age))
    }
}

/// `max-age` of a `Cache-Control` value; `no-cache` and `no-store` are 0
/// (held to the floor).
fn max_age(cache_control: &str) -> Option<Duration> {
    cache_control
        .split(',')
        .map(str::trim)
        .find_map(|directive| {
            if directive.eq_ignore_ascii_case("no-cache")
                || directive.eq_ignore_ascii_case("no-store")
            {
                return Some(Duration::ZERO);
            }
            let (name, value) = directive.split_once('=')?;
            name.trim()
                .eq_ignore_ascii_case("max-age")
                .then(|| value.trim().trim_matches('"').parse().ok())
                .flatten()
                .map(Duration::from_secs)
        })
}

impl Cache {
    /// A key, if the set holding it is still within its lifetime.
    fn find_fresh(&self, kid: Option<&str>) -> Option<Arc<VerifyingKey>> {
        let fresh = self.fresh_until.is_some_and(|t| Instant::now() < t);
        fresh.then(|| self.find(kid)).flatten()
    }

    /// Whether to ask the endpoint now: the first time; after a failure,
    /// once a second; else once the set has expired, or (for a key it does
    /// not hold) once `min_refresh` has passed.
    fn fetch_due(&self, min_refresh: Duration) -> bool {
        match self.last_fetch {
            None => true,
            Some((at, false)) => at.elapsed() >= RETRY_AFTER_FAILURE,
            Some((at, true)) => {
                let expired = self.fresh_until.is_none_or(|t| Instant::now() >= t);
                expired || at.elapsed() >= min_refresh
            }
        }
    }

    /// A key, if the set holding it is within its lifetime plus
    /// `max_stale`: what a set that cannot be refreshed still verifies.
    fn find_usable(&self, kid: Option<&str>, max_stale: Duration) -> Option<Arc<VerifyingKey>> {
        let usable = self
            .fresh_until
            .is_some_and(|t| Instant::now() < t + max_stale);
        usable.then(|| self.find(kid)).flatten()
    }

    fn find(&self, kid: Option<&str>) -> Option<Arc<VerifyingKey>> {
        match kid {
            Some(kid) => self.keys.get(kid).cloned(),
            None if self.keys.len() + self.unnamed.len() == 1 => {
                self.keys.values().chain(&self.unnamed).next().cloned()
            }
            None => None,
        }
    }
}

/// Reads a JWKS document, keeping the keys we can use and skipping the rest
/// (other algorithms, encryption keys) instead of rejecting the whole set.
fn parse(body: &[u8]) -> Result<Cache, String> {
    if body.len() > MAX_JWKS_BYTES {
        return Err("key set is too large".into());
    }
    #[derive(Deserialize)]
    struct Document {
        keys: Vec<serde_json::Value>,
    }
    let document: Document =
        serde_json::from_slice(body).map_err(|e| format!("not a JWKS document: {e}"))?;
    let mut cache = Cache::default();
    for value in document.keys {
        let Ok(jwk) = serde_json::from_value::<Jwk>(value) else {
            continue;
        };
        let Some(key) = verifying_key(&jwk) else {
            continue;
        };
        match jwk.common.key_id {
            Some(kid) => {
                cache.keys.insert(kid, Arc::new(key));
            }
            None => cache.unnamed.push(Arc::new(key)),
        }
    }
    Ok(cache)
}

/// The key and its one algorithm: the JWK's own `alg` when it gives one,
/// else the usual algorithm of its key type. Only EdDSA, ES256 and RS256.
fn verifying_key(jwk: &Jwk) -> Option<VerifyingKey> {
    if matches!(
        jwk.common.public_key_use,
        Some(PublicKeyUse::Encryption | PublicKeyUse::Other(_))
    ) {
        return None;
    }
    let natural = match &jwk.algorithm {
        AlgorithmParameters::OctetKeyPair(p) if p.curve == EllipticCurve::Ed25519 => {
            Algorithm::EdDSA
        }
        AlgorithmParameters::EllipticCurve(p) if p.curve == EllipticCurve::P256 => Algorithm::ES256,
        AlgorithmParameters::RSA(_) => Algorithm::RS256,
        _ => return None,
    };
    let declared = match jwk.common.key_algorithm {
        None => natural,
        Some(KeyAlgorithm::EdDSA) => Algorithm::EdDSA,
        Some(KeyAlgorithm::ES256) => Algorithm::ES256,
        Some(KeyAlgorithm::RS256) => Algorithm::RS256,
        Some(_) => return None,
    };
    if declared != natural {
        return None;
    }
    Some(VerifyingKey {
        algorithm: declared,
        key: DecodingKey::from_jwk(jwk).ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn algorithms(json: &str) -> Vec<(String, Algorithm)> {
        let cache = parse(json.as_bytes()).unwrap();
        let mut found: Vec<_> = cache
            .keys
            .iter()
            .map(|(kid, key)| (kid.clone(), key.algorithm))
            .collect();
        found.sort_by(|a, b| a.0.cmp(&b.0));
        found
    }

    const ED: &str =
        r#""kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo""#;

    #[test]
    fn keeps_usable_keys_and_skips_the_rest() {
        let json = format!(
            r#"{{"keys":[
                {{"kid":"ed",{ED}}},
                {{"kid":"ed-alg","alg":"EdDSA","use":"sig",{ED}}},
                {{"kid":"ed-as-rs","alg":"RS256",{ED}}},
                {{"kid":"ed-enc","use":"enc",{ED}}},
                {{"kid":"hmac","kty":"oct","k":"c2VjcmV0"}},
                {{"kid":"weird","kty":"XYZ"}},
                {{"kid":"rsa","kty":"RSA","n":"sXchDaQebHnPiGvyDOAT4saGEUetSyo9MKLOoWFsueri23bOdgWp4Dy1WlUzewbgBHod5pcM9H95GQRV3JDXboIRROSBigeC5yjU1hGzHHyXss8UDprecbAYxknTcQkhslANGRUZmdTOQ5qTRsLAt6BTYuyvVRdhS8exSZEy_c4gs_7svlJJQ4H9_NxsiIoLwAEk7-Q3UXERGYw_75IDrGA84-lA_-Ct4eTlXHBIY2EaV7t7LjJaynVJCpkv4LKjTTAumiGUIuQhrNhZLuF_RJLqHpM2kgWFLU7-VTdL1VbC2tejvcI2BlMkEpk1BzBZI0KQB0GaDWFLN-aEAw3vRw","e":"AQAB"}}
            ]}}"#
        );
        assert_eq!(
            algorithms(&json),
            [
                ("ed".into(), Algorithm::EdDSA),
                ("ed-alg".into(), Algorithm::EdDSA),
                ("rsa".into(), Algorithm::RS256),
            ]
        );
    }

    #[test]
    fn max_age_is_read_from_cache_control() {
        let secs = |v: &str| max_age(v).map(|d| d.as_secs());
        assert_eq!(secs("public, max-age=600"), Some(600));
        assert_eq!(secs("Max-Age = \"120\", must-revalidate"), Some(120));
        assert_eq!(secs("no-store"), Some(0));
        assert_eq!(secs("public"), None);
        assert_eq!(secs("max-age=soon"), None);
    }

    #[test]
    fn a_single_unnamed_key_answers_tokens_without_kid() {
        let cache = parse(format!(r#"{{"keys":[{{{ED}}}]}}"#).as_bytes()).unwrap();
        assert!(cache.find(None).is_some());
        assert!(cache.find(Some("other")).is_none());
        assert!(parse(b"{\"nokeys\":[]}").is_err());
        assert!(parse(b"<html>").is_err());
    }
}
