//! The API's behaviour over real HTTP, against local-api's router on a
//! database of each test's own: routes, tokens, validation, versions,
//! retries, listing (sort, search, filters), the trash, isolation, CORS, hostile
//! requests, the due, priority and label fields with their search words,
//! and random
//! operation sequences checked against a model.

mod auth;
mod batch;
mod caching;
mod changes;
mod conditional;
mod cors;
mod fields;
mod finding;
mod fuzz;
mod history;
mod history_writes;
mod hostile;
mod idempotency;
mod isolation;
mod jwks;
mod listing;
mod model;
mod routes;
mod trash;
mod validation;
