//! Bearer-token verification (401) and the path-owner check (403).
//!
//! HS256 tokens are checked with `BETTER_AUTH_SECRET`; EdDSA, ES256 and RS256
//! tokens with the key their `kid` names in the set at `JWKS_URL`.

use jsonwebtoken::{Algorithm, DecodingKey, Validation, errors::ErrorKind};
use lambda_http::http::{HeaderMap, header};
use serde::Deserialize;

use crate::{
    config::AuthConfig,
    error::{ApiError, Refusal},
    tls::Tls,
};

mod jwks;

pub use jwks::KeySetupError;
use jwks::{KeyError, KeySet};

/// Longest token we try to verify. Real tokens are well under 2 KiB; a
/// larger one is refused before any decoding work is spent on it.
const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// Longest user id accepted from `sub` (the contract: 1–255 characters).
pub const MAX_USER_ID_CHARS: usize = 255;

/// The authenticated caller: the token's `sub`, checked to be a usable id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserId(String);

impl UserId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Deserialize)]
struct Claims {
    sub: String,
}

/// Verifies tokens. Built once per execution environment.
pub struct Authenticator {
    /// HS256 with `BETTER_AUTH_SECRET`, then `BETTER_AUTH_SECRET_PREVIOUS`
    /// during a rotation.
    secrets: Vec<DecodingKey>,
    /// EdDSA, ES256 and RS256 with the keys at `JWKS_URL`.
    jwks: Option<KeySet>,
    /// One `Validation` per algorithm, each accepting that algorithm alone:
    /// families are never mixed, so a token cannot pick how it is checked.
    validations: Vec<Validation>,
}

impl Authenticator {
    /// Fails when the key-set client cannot be built: a client without
    /// its timeouts is never used instead.
    pub fn new(cfg: &AuthConfig, tls: &Tls) -> Result<Self, KeySetupError> {
        let validations = [
            Algorithm::HS256,
            Algorithm::EdDSA,
            Algorithm::ES256,
            Algorithm::RS256,
        ]
        .into_iter()
        .map(|alg| validation(cfg, alg))
        .collect();
        let jwks = match &cfg.jwks {
            Some(jwks) => Some(KeySet::new(jwks.clone(), tls)?),
            None => None,
        };
        Ok(Self {
            secrets: [&cfg.secret, &cfg.previous_secret]
                .into_iter()
                .flatten()
                .map(|s| DecodingKey::from_secret(s.as_bytes()))
                .collect(),
            jwks,
            validations,
        })
    }

    /// Fetches the JWKS, when one is configured, before the first request.
    pub async fn warm_up(&self) {
        if let Some(jwks) = &self.jwks {
            jwks.warm_up().await;
        }
    }

    /// The caller's id, from `Authorization: Bearer <jwt>`.
    pub async fn authenticate(&self, headers: &HeaderMap) -> Result<UserId, ApiError> {
        let token = bearer_token(headers)?;
        if token.len() > MAX_TOKEN_BYTES {
            return Err(invalid(Refusal::Malformed, "token is too large"));
        }
        let header = jsonwebtoken::decode_header(token).map_err(|e| refused(e.kind()))?;
        // The key is chosen by the header; the algorithm by the key. A token
        // whose `alg` differs from its key's is refused unread.
        let jwks_key;
        let keys = match (header.alg, &self.jwks) {
            (Algorithm::HS256, _) if !self.secrets.is_empty() => self.secrets.as_slice(),
            (Algorithm::EdDSA | Algorithm::ES256 | Algorithm::RS256, Some(jwks)) => {
                jwks_key = jwks.key(header.kid.as_deref()).await.map_err(|e| match e {
                    KeyError::Unknown => {
                        invalid(Refusal::UnknownKey, "token signing key is not known")
                    }
                    KeyError::Unavailable => ApiError::KeysUnavailable,
                })?;
                if jwks_key.algorithm != header.alg {
                    return Err(invalid(
                        Refusal::Algorithm,
                        "token algorithm does not match its key",
                    ));
                }
                std::slice::from_ref(&jwks_key.key)
            }
            _ => {
                return Err(invalid(
                    Refusal::Algorithm,
                    "token algorithm is not accepted",
                ));
            }
        };
        let validation = self
            .validations
            .iter()
            .find(|v| v.algorithms == [header.alg])
            .ok_or_else(|| invalid(Refusal::Algorithm, "token algorithm is not accepted"))?;
        // During a rotation the previous secret is tried when the current
        // one finds the signature wrong; any other refusal is final.
        let mut verdict = None;
        for key in keys {
            let result = jsonwebtoken::decode::<Claims>(token, key, validation);
            let wrong_key = matches!(&result, Err(e) if *e.kind() == ErrorKind::InvalidSignature);
            verdict = Some(result);
            if !wrong_key {
                break;
            }
        }
        let sub = verdict
            .ok_or_else(|| invalid(Refusal::Algorithm, "token algorithm is not accepted"))?
            .map_err(|e| refused(e.kind()))?
            .claims
            .sub;
        let length = sub.chars().count();
        if length == 0 || length > MAX_USER_ID_CHARS || sub.chars().any(char::is_control) {
            return Err(invalid(
                Refusal::Claims,
                "token subject is not a valid user id",
            ));
        }
        Ok(UserId(sub))
    }

    /// 401 unless the token is good, then 403 unless the path names its owner.
    pub async fn authorize(
        &self,
        headers: &HeaderMap,
        path_user: &str,
    ) -> Result<UserId, ApiError> {
        let user = self.authenticate(headers).await?;
        if user.as_str() != path_user {
            return Err(ApiError::Forbidden);
        }
        Ok(user)
    }
}

/// The claim rules, the same for every algorithm.
fn validation(cfg: &AuthConfig, alg: Algorithm) -> Validation {
    let mut validation = Validation::new(alg);
    let mut required = vec!["exp", "sub"];
    validation.validate_nbf = true;
    validation.leeway = cfg.leeway.as_secs();
    match &cfg.issuer {
        Some(iss) => {
            validation.set_issuer(&[iss]);
            required.push("iss");
        }
        None => validation.iss = None,
    }
    match &cfg.audience {
        Some(aud) => {
            validation.set_audience(&[aud]);
            required.push("aud");
        }
        // Better Auth always sets `aud`; with none configured there is
        // nothing to compare it with, so do not reject it.
        None => validation.validate_aud = false,
    }
    validation.set_required_spec_claims(&required);
    validation
}

fn invalid(reason: Refusal, detail: &'static str) -> ApiError {
    ApiError::Unauthorized { detail, reason }
}

fn bearer_token(headers: &HeaderMap) -> Result<&str, ApiError> {
    let value = headers
        .get(header::AUTHORIZATION)
        .ok_or_else(|| invalid(Refusal::Missing, "missing bearer token"))?;
    let malformed = || {
        invalid(
            Refusal::Malformed,
            "authorization header must be `Bearer <token>`",
        )
    };
    let value = value.to_str().map_err(|_| malformed())?;
    let (scheme, token) = value.trim().split_once(' ').ok_or_else(malformed)?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(malformed());
    }
    Ok(token)
}

/// What `jsonwebtoken` refused, as the API says it and counts it.
fn refused(kind: &ErrorKind) -> ApiError {
    let (reason, detail) = match kind {
        ErrorKind::ExpiredSignature => (Refusal::Expired, "token has expired"),
        ErrorKind::ImmatureSignature => (Refusal::Claims, "token is not valid yet"),
        ErrorKind::InvalidSignature => (Refusal::BadSignature, "token signature is invalid"),
        ErrorKind::InvalidAlgorithm => (Refusal::Algorithm, "token algorithm is not accepted"),
        ErrorKind::InvalidIssuer => (Refusal::Claims, "token issuer is not accepted"),
        ErrorKind::InvalidAudience => (Refusal::Claims, "token audience is not accepted"),
        ErrorKind::MissingRequiredClaim(_) => (Refusal::Claims, "token lacks a required claim"),
        _ => (Refusal::Malformed, "token is malformed"),
    };
    invalid(reason, detail)
}
