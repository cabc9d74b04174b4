//! Log lines as JSON objects, written straight into tracing-subscriber's
//! line buffer: `{"level":…, "message":…, <fields>, "span":{"name":…,
//! <its fields>}}`, the shape of tracing-subscriber's own JSON format with
//! the event flattened and the current span only.
//!
//! Why not that format: it keeps a span's fields as JSON text, parses them
//! back into a map for every line and writes them again, and turns every
//! small write into a UTF-8 check; one request's span and line cost more
//! instructions than fetching the task (measured in decde8f).
//! Here a span's fields are kept as the JSON members they will be written
//! as (`,"request_id":"…","route":"…"`) and copied into each line.

use std::fmt::{self, Write};

use tracing::{
    Event, Subscriber,
    field::{Field, Visit},
    level_filters::LevelFilter,
};
use tracing_subscriber::{
    field::RecordFields,
    fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields, MakeWriter, format::Writer},
    registry::LookupSpan,
};

use crate::json::write_string;

/// The event formatter: one JSON object per line.
pub struct JsonLines;

/// The span field formatter: JSON members, each after a comma.
pub struct JsonMembers;

impl<S, N> FormatEvent<S, N> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'w> FormatFields<'w> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut line: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        line.write_str("{\"level\":\"")?;
        line.write_str(event.metadata().level().as_str())?;
        line.write_char('"')?;
        let mut members = Members::new(&mut line);
        event.record(&mut members);
        members.result?;
        if let Some(span) = ctx.lookup_current() {
            line.write_str(",\"span\":{\"name\":")?;
            write_string(&mut line, span.name())?;
            if let Some(fields) = span.extensions().get::<FormattedFields<N>>() {
                line.write_str(fields)?;
            }
            line.write_char('}')?;
        }
        line.write_str("}\n")
    }
}

impl<'w> FormatFields<'w> for JsonMembers {
    fn format_fields<R: RecordFields>(&self, mut writer: Writer<'w>, fields: R) -> fmt::Result {
        let mut members = Members::new(&mut writer);
        fields.record(&mut members);
        members.result
    }

    // Fields recorded later are more members, after the ones there.
    fn add_fields(
        &self,
        current: &'w mut FormattedFields<Self>,
        fields: &tracing::span::Record<'_>,
    ) -> fmt::Result {
        self.format_fields(current.as_writer(), fields)
    }
}

/// Writes each field it visits as `,"name":value`.
struct Members<'a, W: Write> {
    out: &'a mut W,
    result: fmt::Result,
}

impl<'a, W: Write> Members<'a, W> {
    fn new(out: &'a mut W) -> Self {
        Self {
            out,
            result: Ok(()),
        }
    }

    fn member(&mut self, field: &Field, value: impl FnOnce(&mut W) -> fmt::Result) {
        if self.result.is_ok() {
            self.result = (|| {
                self.out.write_char(',')?;
                write_string(self.out, field.name())?;
                self.out.write_char(':')?;
                value(self.out)
            })();
        }
    }
}

impl<W: Write> Visit for Members<'_, W> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.member(field, |out| write_string(out, value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.member(field, |out| {
            out.write_str(if value { "true" } else { "false" })
        });
    }

    // Status and latency on every line: itoa, not the formatting machinery.
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.member(field, |out| {
            out.write_str(itoa::Buffer::new().format(value))
        });
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.member(field, |out| {
            out.write_str(itoa::Buffer::new().format(value))
        });
    }

    // JSON has no NaN or infinity; serde_json writes them as null too.
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.member(field, |out| match value.is_finite() {
            true => write!(out, "{value}"),
            false => out.write_str("null"),
        });
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.member(field, |out| write_string(out, &value.to_string()));
    }

    // `message`, `%display` and `?debug` fields: their text, as a string.
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.member(field, |out| write_string(out, &format!("{value:?}")));
    }
}

/// The subscriber Lambda's functions log through, writing to `writer`
/// what is at `max_level` or above.
pub fn subscriber<W>(
    writer: W,
    max_level: LevelFilter,
) -> impl Subscriber + for<'a> LookupSpan<'a> + Send + Sync
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
        .with_max_level(max_level)
        .event_format(JsonLines)
        .fmt_fields(JsonMembers)
        .with_writer(writer)
        .finish()
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use serde_json::{Value, json};

    use super::*;

    /// Every line written, as JSON.
    fn lines(log: impl FnOnce()) -> Vec<Value> {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let sink = buffer.clone();
        let make_writer = move || Sink(sink.clone());
        tracing::subscriber::with_default(subscriber(make_writer, LevelFilter::INFO), log);
        let text = String::from_utf8(buffer.lock().unwrap().clone()).unwrap();
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect()
    }

    struct Sink(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Sink {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_line_is_its_level_message_fields_and_current_span() {
        let lines = lines(|| {
            tracing::info!(status = 200u16, "request");
            let outer = tracing::info_span!("outer", depth = 1);
            let _outer = outer.enter();
            let span = tracing::info_span!("request", request_id = "r-1", route = "GET /health");
            let _entered = span.enter();
            tracing::warn!(
                cause = %"no \"database\"\n\u{1b}[31m",
                attempt = -3i64,
                ok = false,
                ratio = 0.5,
                nan = f64::NAN,
                debug = ?vec!["a"],
                "database {}", "unavailable"
            );
        });
        assert_eq!(
            lines[0],
            json!({"level": "INFO", "status": 200, "message": "request"})
        );
        assert_eq!(
            lines[1],
            json!({
                "level": "WARN",
                "message": "database unavailable",
                "cause": "no \"database\"\n\u{1b}[31m",
                "attempt": -3,
                "ok": false,
                "ratio": 0.5,
                "nan": null,
                "debug": "[\"a\"]",
                "span": {"name": "request", "request_id": "r-1", "route": "GET /health"}
            })
        );
    }

    #[test]
    fn fields_recorded_later_join_the_span() {
        let lines = lines(|| {
            let span = tracing::info_span!(
                "request",
                request_id = "r-2",
                status = tracing::field::Empty
            );
            span.record("status", 503u64);
            let _entered = span.enter();
            tracing::error!("failed");
        });
        assert_eq!(
            lines,
            [json!({
                "level": "ERROR",
                "message": "failed",
                "span": {"name": "request", "request_id": "r-2", "status": 503}
            })]
        );
    }
}
