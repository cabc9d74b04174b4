//! Safe retries of POST: the `Idempotency-Key` header and the fingerprint
//! of the task sent with it (`header`), and the keys remembered for 24
//! hours, claimed and replayed (`store`).

pub mod batches;
mod header;
mod store;

pub use header::{HEADER, IdempotencyKey, MAX_KEY_CHARS, REPLAYED, fingerprint, key};
pub use store::{Creation, IdempotencyStore, sql};
