"""Instructions of one callgrind dump (bench/lambda-path, run with
--separate-callers) by phase of a warm Lambda invocation, per invocation.

Each cost is charged to a function together with the chain of callers it
ran under, so a phase is read from the chain, whatever the optimiser
inlined: the first rule below that matches any function of the chain
wins (logging inside the handler is logging, the handler's JSON is JSON).
    python3 bench/lambda-phases.py CALLGRIND_FILE INVOCATIONS  -> one JSON object"""
import collections, json, re, sys

from callgrind import exclusive_costs

PHASES = [
    # The one log line per request and the span that names the request.
    ("logging", r"tracing_core::event::Event::dispatch|tracing::span::Span::new|tracing_subscriber|"
                r"drop_in_place<tracing::span::Span>|tracing::span::Span::(enter|exit|drop)"),
    ("metrics", r"shared::metrics::"),
    # Verifying the JWT (signature, claims) and checking the path's owner.
    ("auth", r"jsonwebtoken::|shared::auth::"),
    # The handler's JSON: the task or page written, its ETag.
    # (SHA-256 outside the JWT's HMAC: the page's ETag.)
    ("JSON", r"shared::task::|shared::response::json|<shared::task::Task as serde|shared::error::.*into_response|"
             r"shared::response::tagged_json|Task::etag|page_etag|sha2::"),
    # The statement: taking a pooled connection, sending, reading rows.
    ("query", r"tokio_postgres::|deadpool|postgres_protocol::|postgres_types::|shared::repository::|shared::db::"),
    # The rest of the handler: routing, validation, headers.
    ("handler (rest)", r"shared::endpoint::|shared::validation::|_tasks::handler|_task::handler|health::handler"),
    # Turning the handler's response into the Lambda response document
    # (any JSON written outside the handler, logging and metrics).
    ("response serialisation", r"shared::lambda::document|lambda_http::response::|LambdaResponse|"
                               r"TransformResponse|IntoResponse|requests::EventCompletionRequest|"
                               r"serde_json::ser::|IntoRequest"),
    # The API Gateway event read and turned into a request.
    ("event parse", r"LambdaRequest|ApiGatewayV2httpRequest|shared::lambda::request|lambda_http::request::|"
                    r"serde_json::de::|serde_path_to_error|aws_lambda_events::|lambda_runtime::deserializer"),
]
# Everything else: fetching the next event and POSTing the answer (hyper,
# lambda_runtime's loop), and the scheduler around them.
REST = "runtime client"

cost = exclusive_costs(sys.argv[1])
rules = [(phase, re.compile(pattern)) for phase, pattern in PHASES]
by_phase = collections.Counter()
for chain, n in cost.items():
    by_phase[next((phase for phase, rule in rules if rule.search(chain)), REST)] += n
invocations = int(sys.argv[2])
total = sum(by_phase.values())
order = [phase for phase, _ in PHASES] + [REST]
print(json.dumps({"total": round(total / invocations),
                  "phases": {p: round(by_phase[p] / invocations) for p in order}}))
