//! Logging: JSON lines in Lambda (CloudWatch Logs Insights can query the
//! fields), readable lines elsewhere. `RUST_LOG` filters by target and
//! level (`info`, `shared=debug,warn`); default `info`.

use std::io::IsTerminal;

use tracing::Level;
use tracing_subscriber::{filter::Targets, fmt, layer::SubscriberExt, util::SubscriberInitExt};

pub fn init() {
    let filter = std::env::var("RUST_LOG")
        .ok()
        .and_then(|spec| spec.parse::<Targets>().ok())
        .unwrap_or_else(|| Targets::new().with_default(Level::INFO));
    let builder = fmt()
        .with_target(false)
        .with_ansi(std::io::stdout().is_terminal());
    // `try_init`: a second call (tests, local-api) keeps the first subscriber.
    let _ = if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() {
        // Lambda adds its own timestamp to each line. A line names the span
        // it is in (a request's: its request id and route), not the list
        // of spans around it: each span in a line is its fields written,
        // parsed back and written again (BENCHMARKS.md, "The Lambda path").
        let builder = builder
            .json()
            .flatten_event(true)
            .with_span_list(false)
            .without_time();
        builder.finish().with(filter).try_init()
    } else {
        builder.compact().finish().with(filter).try_init()
    };
}
