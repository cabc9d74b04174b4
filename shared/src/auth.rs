//! Bearer-token verification (401) and the path-owner check (403).

use jsonwebtoken::{Algorithm, DecodingKey, Validation, errors::ErrorKind};
use lambda_http::http::{HeaderMap, header};
use serde::Deserialize;

use crate::{config::AuthConfig, error::ApiError};

/// Longest token we try to verify. Real tokens are well under 2 KiB; a
/// larger one is refused before any decoding work is spent on it.
const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// Longest user id accepted from `sub` (API.md: 1–255 characters).
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
    key: DecodingKey,
    validation: Validation,
}

impl Authenticator {
    pub fn new(cfg: &AuthConfig) -> Self {
        // One algorithm only: a token claiming any other `alg` (none, HS512,
        // RS256 with our secret as "public key") is refused before its
        // signature is looked at.
        let mut validation = Validation::new(Algorithm::HS256);
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
        Self {
            key: DecodingKey::from_secret(cfg.secret.as_bytes()),
            validation,
        }
    }

    /// The caller's id, from `Authorization: Bearer <jwt>`.
    pub fn authenticate(&self, headers: &HeaderMap) -> Result<UserId, ApiError> {
        let token = bearer_token(headers)?;
        let invalid = |detail| ApiError::Unauthorized {
            detail,
            token_present: true,
        };
        if token.len() > MAX_TOKEN_BYTES {
            return Err(invalid("token is too large"));
        }
        let data = jsonwebtoken::decode::<Claims>(token, &self.key, &self.validation)
            .map_err(|e| invalid(reason(e.kind())))?;
        let sub = data.claims.sub;
        let length = sub.chars().count();
        if length == 0 || length > MAX_USER_ID_CHARS || sub.chars().any(char::is_control) {
            return Err(invalid("token subject is not a valid user id"));
        }
        Ok(UserId(sub))
    }

    /// 401 unless the token is good, then 403 unless the path names its owner.
    pub fn authorize(&self, headers: &HeaderMap, path_user: &str) -> Result<UserId, ApiError> {
        let user = self.authenticate(headers)?;
        if user.as_str() != path_user {
            return Err(ApiError::Forbidden);
        }
        Ok(user)
    }
}

fn bearer_token(headers: &HeaderMap) -> Result<&str, ApiError> {
    let value = headers
        .get(header::AUTHORIZATION)
        .ok_or(ApiError::Unauthorized {
            detail: "missing bearer token",
            token_present: false,
        })?;
    let malformed = || ApiError::Unauthorized {
        detail: "authorization header must be `Bearer <token>`",
        token_present: true,
    };
    let value = value.to_str().map_err(|_| malformed())?;
    let (scheme, token) = value.trim().split_once(' ').ok_or_else(malformed)?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(malformed());
    }
    Ok(token)
}

fn reason(kind: &ErrorKind) -> &'static str {
    match kind {
        ErrorKind::ExpiredSignature => "token has expired",
        ErrorKind::ImmatureSignature => "token is not valid yet",
        ErrorKind::InvalidSignature => "token signature is invalid",
        ErrorKind::InvalidAlgorithm => "token algorithm is not accepted",
        ErrorKind::InvalidIssuer => "token issuer is not accepted",
        ErrorKind::InvalidAudience => "token audience is not accepted",
        ErrorKind::MissingRequiredClaim(_) => "token lacks a required claim",
        _ => "token is malformed",
    }
}
