//! The database under stress: concurrent writers, transient failures made
//! by a real PostgreSQL, a database lost and restarted, the migrations, and
//! prepared statements (through poolers with and without support).

mod concurrency;
mod migrations;
mod prepared;
mod resilience;
mod transient;
