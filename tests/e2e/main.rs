//! End to end, with the real outside parts: a browser (Chromium), Better
//! Auth (Node), PostgreSQL over verified TLS, and `local-api` as a new user
//! first starts it.

mod better_auth;
mod browser;
mod first_minute;
mod tls;
