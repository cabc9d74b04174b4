-- Remembered batches are forgotten: a retry within 24 hours runs again.
DROP TABLE idempotent_batches;
