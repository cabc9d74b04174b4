//! The database under stress: concurrent writers, transient failures made
//! by a real PostgreSQL, a database lost and restarted, the migrations, and
//! prepared statements (through poolers with and without support), the
//! list statements' plans at 100,000 tasks, the change feed's guarantee
//! under concurrent writers through PgBouncer, and the per-user task count
//! on every path.

mod concurrency;
mod migrations;
mod plans;
mod prepared;
mod resilience;
mod sync;
mod task_count;
mod transient;
