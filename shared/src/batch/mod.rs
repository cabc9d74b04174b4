//! `POST /tasks/batch`: up to 100 operations in one request, run in order
//! on one transaction, each answered as its single-task route would
//! answer it. Parsing and validation (`parse`), running them (`run`).

mod parse;
mod run;

pub use parse::{Batch, MAX_BATCH_BODY_BYTES, MAX_OPERATIONS, Operation, batch};
pub use run::{Answer, Reply, run};
