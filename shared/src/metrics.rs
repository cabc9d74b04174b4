//! CloudWatch metrics in Embedded Metric Format: on Lambda, each invocation
//! ends with a few JSON lines on stdout that CloudWatch Logs turns into
//! metrics (no API call, no agent). Elsewhere (local-api, tests) nothing is
//! recorded, and logs stay readable.
//!
//! Written here rather than with `metrics` + `metrics_cloudwatch_embedded`:
//! the zips had no room to spare under their 3 MB budget, and what the API
//! needs is a buffer and one `serde_json` document per dimension set
//! (docs/design.md, "Metrics"). Names, units and dimensions are `&'static str`: no
//! user id, title or token can become a metric or a dimension.
//!
//! The format: <https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html>

use std::{
    io::Write,
    sync::{Mutex, OnceLock},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use serde::{Serialize, Serializer, ser::SerializeMap};

/// The metrics every function may emit, by name.
pub mod name {
    /// Once per execution environment, with its first invocation.
    pub const COLD_START: &str = "cold_start";
    /// Waiting for a pooled connection (connecting, when there is none).
    pub const DB_WAIT: &str = "db_wait";
    /// One statement's round trip.
    pub const DB_STATEMENT: &str = "db_statement";
    /// 503s, by `cause`: `database` or `keys` (the JWKS).
    pub const UNAVAILABLE: &str = "unavailable";
    /// 401s, by `reason` (`error::Refusal`).
    pub const UNAUTHORIZED: &str = "unauthorized";
    /// Tasks on one list page.
    pub const TASKS_LISTED: &str = "tasks_listed";
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    Count,
    Milliseconds,
}

impl Unit {
    fn as_str(self) -> &'static str {
        match self {
            Self::Count => "Count",
            Self::Milliseconds => "Milliseconds",
        }
    }
}

/// A metric's own dimension, (name, value), which replaces `function`.
pub type Dimension = Option<(&'static str, &'static str)>;

struct Sample {
    name: &'static str,
    unit: Unit,
    dimension: Dimension,
    value: f64,
}

struct Emitter {
    namespace: String,
    function: &'static str,
    samples: Mutex<Vec<Sample>>,
}

static EMITTER: OnceLock<Emitter> = OnceLock::new();

/// Starts recording, on Lambda only (`AWS_LAMBDA_RUNTIME_API` is set), in
/// `METRICS_NAMESPACE` (default `TaskApi`); a metric without a dimension
/// of its own has `function` (the binary's name). Counts the cold start.
pub fn init(function: &'static str) {
    if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_none() {
        return;
    }
    let namespace = std::env::var("METRICS_NAMESPACE").unwrap_or_else(|_| "TaskApi".to_owned());
    let emitter = Emitter {
        namespace,
        function,
        samples: Mutex::new(Vec::new()),
    };
    if EMITTER.set(emitter).is_ok() {
        count(name::COLD_START, None);
    }
}

pub fn count(name: &'static str, dimension: Dimension) {
    record(name, Unit::Count, 1.0, dimension);
}

pub fn duration(name: &'static str, elapsed: Duration) {
    record(name, Unit::Milliseconds, elapsed.as_secs_f64() * 1e3, None);
}

pub fn record(name: &'static str, unit: Unit, value: f64, dimension: Dimension) {
    if let Some(emitter) = EMITTER.get()
        && let Ok(mut samples) = emitter.samples.lock()
    {
        samples.push(Sample {
            name,
            unit,
            dimension,
            value,
        });
    }
}

/// Writes what this invocation recorded to stdout, one EMF document per
/// dimension set, and forgets it. Called after every invocation.
#[inline(never)] // a phase of its own in bench/lambda-path's profile
pub fn flush() {
    let Some(emitter) = EMITTER.get() else { return };
    let samples = match emitter.samples.lock() {
        Ok(mut samples) => std::mem::take(&mut *samples),
        Err(_) => return,
    };
    let timestamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let lines = lines(&emitter.namespace, emitter.function, timestamp, &samples);
    // Best effort: a metric is never worth failing a request for.
    let _ = std::io::stdout().lock().write_all(&lines);
}

/// The EMF documents for `samples`, one line each: one per dimension set;
/// a metric recorded more than once is an array of values (at most 100
/// each, as the format allows). Written straight from the samples, in one
/// buffer for one write (a `serde_json::Value` tree, then `Display`, cost
/// most of the metrics' instructions; measured in 01ad79c).
fn lines(namespace: &str, function: &str, timestamp: u64, samples: &[Sample]) -> Vec<u8> {
    let mut sets: Vec<Dimension> = Vec::new();
    for sample in samples {
        if !sets.contains(&sample.dimension) {
            sets.push(sample.dimension);
        }
    }
    let mut lines = Vec::with_capacity(256 * sets.len());
    for dimension in sets {
        let document = Document {
            namespace,
            function,
            timestamp,
            dimension,
            samples,
        };
        if serde_json::to_writer(&mut lines, &document).is_ok() {
            lines.push(b'\n');
        }
    }
    lines
}

/// One EMF document: the metrics of one dimension set.
struct Document<'a> {
    namespace: &'a str,
    function: &'a str,
    timestamp: u64,
    dimension: Dimension,
    samples: &'a [Sample],
}

impl Serialize for Document<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let samples = || {
            self.samples
                .iter()
                .filter(|s| s.dimension == self.dimension)
        };
        let mut metrics: Vec<Definition> = Vec::new();
        for sample in samples() {
            if !metrics.iter().any(|m| m.name == sample.name) {
                metrics.push(Definition {
                    name: sample.name,
                    unit: sample.unit.as_str(),
                });
            }
        }
        let mut document = s.serialize_map(None)?;
        // A labelled metric (`cause`, `reason`) is not split by function:
        // every dimension set is a billed custom metric. `function` is
        // still in the line, as a property.
        document.serialize_entry("function", self.function)?;
        let key = match self.dimension {
            Some((key, value)) => {
                document.serialize_entry(key, value)?;
                key
            }
            None => "function",
        };
        for metric in &metrics {
            let values: Vec<f64> = samples()
                .filter(|s| s.name == metric.name)
                .map(|s| s.value)
                .take(100)
                .collect();
            document.serialize_entry(metric.name, &values)?;
        }
        let directive = Directive {
            namespace: self.namespace,
            dimensions: [[key]],
            metrics,
        };
        document.serialize_entry(
            "_aws",
            &Aws {
                timestamp: self.timestamp,
                cloud_watch_metrics: [directive],
            },
        )?;
        document.end()
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Aws<'a> {
    timestamp: u64,
    cloud_watch_metrics: [Directive<'a>; 1],
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Directive<'a> {
    namespace: &'a str,
    dimensions: [[&'a str; 1]; 1],
    metrics: Vec<Definition>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Definition {
    name: &'static str,
    unit: &'static str,
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn documents(
        namespace: &str,
        function: &str,
        timestamp: u64,
        samples: &[Sample],
    ) -> Vec<Value> {
        let lines = lines(namespace, function, timestamp, samples);
        let lines = String::from_utf8(lines).expect("UTF-8");
        lines
            .lines()
            .map(|line| serde_json::from_str(line).expect("a JSON line"))
            .collect()
    }

    fn sample(name: &'static str, value: f64, dimension: Dimension) -> Sample {
        Sample {
            name,
            unit: Unit::Count,
            dimension,
            value,
        }
    }

    #[test]
    fn one_document_per_dimension_set_with_every_value() {
        let samples = [
            sample(name::DB_STATEMENT, 1.5, None),
            sample(name::UNAVAILABLE, 1.0, Some(("cause", "database"))),
            sample(name::DB_STATEMENT, 2.5, None),
        ];
        let docs = documents("ns", "get-task", 42, &samples);
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[0]["db_statement"], json!([1.5, 2.5]));
        assert_eq!(
            docs[0]["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["function"]])
        );
        assert_eq!(docs[0]["function"], "get-task");
        assert_eq!(docs[1]["cause"], "database");
        assert_eq!(
            docs[1]["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["cause"]])
        );
        assert_eq!(docs[1]["function"], "get-task", "a property there");
        assert_eq!(
            docs[1]["_aws"]["CloudWatchMetrics"][0]["Metrics"],
            json!([{ "Name": "unavailable", "Unit": "Count" }])
        );
        assert_eq!(docs[1]["_aws"]["Timestamp"], 42);
    }

    #[test]
    fn a_metric_holds_at_most_100_values() {
        let samples: Vec<Sample> = (0..150).map(|i| sample("x", i as f64, None)).collect();
        let docs = documents("ns", "f", 0, &samples);
        assert_eq!(docs[0]["x"].as_array().map(Vec::len), Some(100));
    }
}
