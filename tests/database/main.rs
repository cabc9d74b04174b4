//! The database under stress: concurrent writers, transient failures made
//! by a real PostgreSQL, a database lost and restarted, and the migrations.

mod concurrency;
mod migrations;
mod resilience;
mod transient;
