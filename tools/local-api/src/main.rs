//! `local-api`            serve every route on 127.0.0.1:$PORT (default 3000)
//! `local-api token --sub <user id> [--ttl <seconds>]`   print a dev token

use std::{env, process::ExitCode, sync::Arc, time::Duration};

use local_api::{AllowedOrigins, app, token};
use shared::{
    AppState,
    config::{AuthConfig, Config, DEV_SECRET, Env},
};
use tokio::net::TcpListener;

const USAGE: &str = "usage: local-api [serve] | local-api token --sub <user id> [--ttl <seconds>]";
const DEFAULT_ORIGINS: &str = "http://localhost:5173,http://127.0.0.1:5173";
const DEMO_USER: &str = "demo-user";

#[tokio::main]
async fn main() -> ExitCode {
    shared::telemetry::init();
    let args: Vec<String> = env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        None | Some("serve") => serve().await,
        Some("token") => print_token(&args[1..]),
        Some("-h" | "--help" | "help") => {
            println!("{USAGE}");
            Ok(())
        }
        Some(other) => Err(format!("unknown command `{other}`\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("local-api: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve() -> Result<(), String> {
    // Unlike a Lambda environment, this server takes many requests at once.
    let source = |name: &str| {
        env::var(name)
            .ok()
            .or_else(|| (name == "DB_POOL_MAX_SIZE").then(|| "16".to_owned()))
    };
    let config = Config::from_source(&source).map_err(|e| e.to_string())?;
    let port: u16 = match env::var("PORT") {
        Ok(p) => p
            .parse()
            .map_err(|_| format!("PORT: `{p}` is not a port number"))?,
        Err(_) => 3000,
    };
    let origins = AllowedOrigins::parse(
        &env::var("ALLOWED_ORIGINS").unwrap_or_else(|_| DEFAULT_ORIGINS.into()),
    )?;

    let state = AppState::new(&config).map_err(|e| e.to_string())?;
    state.warm_up_with(&shared::batch::HOT_STATEMENTS).await;
    let listener = TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|e| format!("cannot listen on 127.0.0.1:{port}: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let url = format!("http://{addr}");
    println!("{}", banner(&url, &config, &origins));
    axum::serve(listener, app(Arc::new(state), origins, addr))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .map_err(|e| e.to_string())
}

/// What a new user needs in the first minute: where the API and its docs
/// are, a token, and a curl line that works as printed.
fn banner(url: &str, config: &Config, origins: &AllowedOrigins) -> String {
    let mut text = format!(
        "task API listening on {url}\n  \
         docs:    {url}/docs  (OpenAPI: {url}/openapi.json)\n  \
         CORS:    {origins:?}\n"
    );
    // Only the published dev secret: a token signed with a real one would
    // end up in terminals and logs.
    let minted = match config.auth.secret.as_deref() {
        Some(DEV_SECRET) => token::mint(&config.auth, DEMO_USER, Duration::from_secs(24 * 3600)),
        Some(_) => Err("BETTER_AUTH_SECRET is your own, not the dev secret: \
                        make one with `local-api token --sub <user id>`"
            .into()),
        None => Err("BETTER_AUTH_SECRET is not set: dev tokens are HS256; \
                     with JWKS_URL alone, sign in through your auth server for a token"
            .into()),
    };
    match minted {
        Ok(demo) => text.push_str(&format!(
            "dev token for user `{DEMO_USER}` (24 h):\n  {demo}\n\
             try:\n  curl -s -H 'Authorization: Bearer {demo}' -H 'Content-Type: application/json' \
             -d '{{\"title\":\"Buy milk\"}}' {url}/api/{DEMO_USER}/tasks\n  \
             curl -s -H 'Authorization: Bearer {demo}' {url}/api/{DEMO_USER}/tasks"
        )),
        Err(why) => text.push_str(&format!("no dev token: {why}")),
    }
    text
}

fn print_token(args: &[String]) -> Result<(), String> {
    let mut sub = None;
    let mut ttl = 3600u64;
    let mut args = args.iter();
    while let Some(flag) = args.next() {
        let value = args
            .next()
            .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        match flag.as_str() {
            "--sub" => sub = Some(value.clone()),
            "--ttl" => {
                ttl = value
                    .parse()
                    .map_err(|_| format!("--ttl: `{value}` is not a number of seconds"))?
            }
            _ => return Err(format!("unknown option `{flag}`\n{USAGE}")),
        }
    }
    let sub = sub.ok_or_else(|| format!("--sub is required\n{USAGE}"))?;
    let auth = AuthConfig::from_source(&Env).map_err(|e| e.to_string())?;
    println!(
        "{}",
        token::mint(&auth, &sub, Duration::from_secs(ttl)).map_err(|e| e.to_string())?
    );
    Ok(())
}
