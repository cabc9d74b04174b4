-- `Idempotency-Key` on POST: the first 201 for a (user, key), remembered
-- for 24 hours. The replay is rebuilt from this row and the retried
-- request (whose fingerprint must match): on creation a task's
-- `updated_at` is its `created_at`, which is this row's `created_at` too.
-- No foreign key to `tasks`: a retry after a delete still replays the
-- original answer, as it would from a stored response.
CREATE TABLE idempotency_keys (
    user_id      text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    key          text NOT NULL CHECK (char_length(key) BETWEEN 1 AND 255),
    -- SHA-256 of the validated title and description.
    fingerprint  bytea NOT NULL CHECK (octet_length(fingerprint) = 32),
    task_id      uuid NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, key)
);

-- Serves the purge of expired keys that every keyed POST does.
CREATE INDEX idempotency_keys_created_at_idx ON idempotency_keys (created_at);
