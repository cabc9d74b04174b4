//! Logging: JSON lines in Lambda (CloudWatch Logs Insights can query the
//! fields), readable lines elsewhere. `RUST_LOG` filters by target and
//! level (`info`, `shared=debug,warn`), up to `debug`; default `info`.

use std::io::IsTerminal;

use tracing::{Level, level_filters::LevelFilter};
use tracing_subscriber::{filter::Targets, fmt, layer::SubscriberExt, util::SubscriberInitExt};

mod json_lines;

/// The most a `RUST_LOG` can turn on. Not TRACE: at TRACE lambda_runtime
/// logs each raw event, its bearer token and task text with it.
const CEILING: LevelFilter = LevelFilter::DEBUG;

pub fn init() {
    let filter = std::env::var("RUST_LOG")
        .ok()
        .and_then(|spec| spec.parse::<Targets>().ok())
        .unwrap_or_else(|| Targets::new().with_default(Level::INFO));
    // `try_init`: a second call (tests, local-api) keeps the first subscriber.
    let _ = if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() {
        // Lambda adds its own timestamp to each line.
        json_lines::subscriber(std::io::stdout, CEILING)
            .with(filter)
            .try_init()
    } else {
        fmt()
            .with_max_level(CEILING)
            .with_target(false)
            .with_ansi(std::io::stdout().is_terminal())
            .compact()
            .finish()
            .with(filter)
            .try_init()
    };
}
