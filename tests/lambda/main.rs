//! The functions as Lambda runs them: each handler called with its
//! `events/` fixture, the real binaries under a Lambda runtime (cargo
//! lambda's emulator, or a Runtime API of our own), their logs and
//! metrics, and Lambda's response size limit.

mod handlers;
mod limits;
mod metrics;
mod runtime;
