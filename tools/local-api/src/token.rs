//! Dev tokens: HS256 JWTs shaped like Better Auth's, signed with
//! `BETTER_AUTH_SECRET`, so that curl works against a local server at once.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{EncodingKey, Header, encode};
use serde::Serialize;
use shared::config::AuthConfig;

#[derive(Serialize)]
struct Claims<'a> {
    sub: &'a str,
    iat: u64,
    exp: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    iss: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    aud: Option<&'a str>,
}

/// A token for `sub`, or why none can be made here.
pub fn mint(cfg: &AuthConfig, sub: &str, ttl: Duration) -> Result<String, String> {
    let secret = cfg.secret.as_ref().ok_or(
        "BETTER_AUTH_SECRET is not set: dev tokens are HS256; \
         with JWKS_URL alone, sign in through your auth server for a token",
    )?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let claims = Claims {
        sub,
        iat: now,
        exp: now + ttl.as_secs(),
        iss: cfg.issuer.as_deref(),
        aud: cfg.audience.as_deref(),
    };
    encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .map_err(|e| e.to_string())
}
