-- `Idempotency-Key` on POST /tasks/batch: the first answer of a batch
-- that wrote something, remembered for 24 hours and replayed as it was
-- sent (a batch's answer carries statuses and tasks as they were then: it
-- cannot be rebuilt from the retry, as a single POST's is). A table of
-- its own: a key names one batch or one task, and neither reads the other.
CREATE TABLE idempotent_batches (
    user_id      text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    key          text NOT NULL CHECK (char_length(key) BETWEEN 1 AND 255),
    -- SHA-256 of the batch as sent, canonical (docs/design.md).
    fingerprint  bytea NOT NULL CHECK (octet_length(fingerprint) = 32),
    -- The 200's body, as sent.
    response     text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, key)
);

-- Serves the purge of expired keys that every keyed batch does.
CREATE INDEX idempotent_batches_created_at_idx ON idempotent_batches (created_at);

GRANT SELECT, INSERT, UPDATE, DELETE ON idempotent_batches TO task_api_app;
