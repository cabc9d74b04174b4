//! Node.js programs the tests drive: the real Better Auth server, and the
//! browser script. Their packages come from `tests/js` (`npm ci`, run by
//! `scripts/install-tools`).

use std::{path::PathBuf, process::Stdio, time::Duration};

use serde_json::{Value, json};
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::{Child, Command},
};

/// `tests/js`, checked to have its packages installed.
pub fn js_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("js");
    assert!(
        dir.join("node_modules").is_dir(),
        "{} has no node_modules: run scripts/install-tools (npm ci there)",
        dir.display()
    );
    dir
}

/// A running Better Auth server with its JWT plugin; killed on drop.
pub struct BetterAuth {
    pub base: String,
    http: reqwest::Client,
    _child: Child,
}

impl BetterAuth {
    /// Starts `better-auth-server.mjs`; with `rotation_seconds` > 0 the
    /// signing key expires that often and the next token gets a new one.
    pub async fn start(rotation_seconds: u64) -> Self {
        let port = crate::free_port();
        let mut child = Command::new("node")
            .arg("better-auth-server.mjs")
            .current_dir(js_dir())
            .env("PORT", port.to_string())
            .env("ROTATION_SECONDS", rotation_seconds.to_string())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("node must be installed (scripts/install-tools)");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let ready = tokio::time::timeout(Duration::from_secs(30), async {
            while let Some(line) = lines.next_line().await.expect("read") {
                if line.contains("listening") {
                    return true;
                }
            }
            false
        })
        .await;
        assert_eq!(ready, Ok(true), "Better Auth did not start");
        Self {
            base: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::new(),
            _child: child,
        }
    }

    pub fn jwks_url(&self) -> String {
        format!("{}/api/auth/jwks", self.base)
    }

    /// Signs a user up with email and password; returns (user id, session cookie).
    pub async fn sign_up(&self, email: &str) -> (String, String) {
        let response = self
            .http
            .post(format!("{}/api/auth/sign-up/email", self.base))
            .json(&json!({ "email": email, "password": "correct-horse-battery", "name": email }))
            .send()
            .await
            .expect("sign up");
        assert!(
            response.status().is_success(),
            "sign up: {}",
            response.status()
        );
        let cookie = response
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok()?.split(';').next().map(str::to_owned))
            .collect::<Vec<_>>()
            .join("; ");
        let body: Value = response.json().await.expect("json");
        let id = body["user"]["id"].as_str().expect("user id").to_owned();
        (id, cookie)
    }

    /// A fresh JWT for the session, from the JWT plugin's `/api/auth/token`.
    pub async fn token(&self, cookie: &str) -> String {
        let body: Value = self
            .http
            .get(format!("{}/api/auth/token", self.base))
            .header("cookie", cookie)
            .send()
            .await
            .expect("token")
            .json()
            .await
            .expect("json");
        body["token"].as_str().expect("token").to_owned()
    }
}
