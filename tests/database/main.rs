//! The database under stress: concurrent writers, transient failures made
//! by a real PostgreSQL, a database lost and restarted, the migrations, and
//! prepared statements (through poolers with and without support), and the
//! list statements' plans at 100,000 tasks.

mod concurrency;
mod migrations;
mod plans;
mod prepared;
mod resilience;
mod transient;
