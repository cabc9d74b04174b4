//! Housekeeping without a scheduler: the purges of what expires (keys,
//! trash, tombstones, old history, remembered batches) run now and then
//! inside requests. Each purge removes up to 100 rows and a call adds at
//! most one, so more go than come (100 / 16 > 1). Not every time: a purge
//! costs about as much as the call that carries it.

use std::sync::atomic::{AtomicU32, Ordering};

/// Counts the calls that may purge, per execution environment (one
/// process) when `static`, or per owner when held in an `Arc`.
pub struct NowAndThen(AtomicU32);

impl NowAndThen {
    /// One call in this many purges.
    pub const EVERY: u32 = 16;

    /// Due on the 1st call, then every 16th (17th, 33rd, ...).
    pub const fn from_the_first() -> Self {
        Self(AtomicU32::new(0))
    }

    /// Due on the 16th call, then every 16th: a cold environment's first
    /// answer is slow enough already.
    pub const fn after_the_first() -> Self {
        Self(AtomicU32::new(1))
    }

    /// Whether this call is the one to purge.
    pub fn due(&self) -> bool {
        self.0
            .fetch_add(1, Ordering::Relaxed)
            .is_multiple_of(Self::EVERY)
    }
}

impl Default for NowAndThen {
    fn default() -> Self {
        Self::from_the_first()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn due_calls(counter: &NowAndThen, calls: u32) -> Vec<u32> {
        (1..=calls).filter(|_| counter.due()).collect()
    }

    #[test]
    fn from_the_first_is_due_on_calls_1_17_33() {
        assert_eq!(due_calls(&NowAndThen::from_the_first(), 40), [1, 17, 33]);
    }

    #[test]
    fn after_the_first_is_due_on_calls_16_32() {
        assert_eq!(due_calls(&NowAndThen::after_the_first(), 40), [16, 32]);
    }
}
