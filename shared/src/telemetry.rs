//! Logging: JSON lines in Lambda (CloudWatch Logs Insights can query the
//! fields), readable lines elsewhere. `RUST_LOG` filters; default `info`.

use std::io::IsTerminal;

use tracing_subscriber::{EnvFilter, fmt};

pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(std::io::stdout().is_terminal());
    // `try_init`: a second call (tests, local-api) keeps the first subscriber.
    let _ = if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() {
        // Lambda adds its own timestamp and request id to each line.
        builder.json().flatten_event(true).without_time().try_init()
    } else {
        builder.compact().try_init()
    };
}
