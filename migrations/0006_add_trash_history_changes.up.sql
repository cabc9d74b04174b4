-- Trash, history and the change feed.

-- The change feed's clock: one counter per user, bumped by every write in
-- its own statement, after it has locked the task rows it changes. The
-- user row's lock, held to commit, orders one user's writes, so one
-- user's seqs commit (and become visible) in seq order: a reader that has
-- seen seq n has seen every seq below it (docs/design.md).
-- purged_seq: the newest seq of a tombstone purged after 90 days; a sync
-- token below it may have missed a change and is a 410.
ALTER TABLE users
    ADD COLUMN change_seq bigint NOT NULL DEFAULT 0 CHECK (change_seq >= 0),
    ADD COLUMN purged_seq bigint NOT NULL DEFAULT 0 CHECK (purged_seq >= 0);

-- The seq of a live task's latest change. Tasks from before this
-- migration are numbered per user in updated_at order. Every API write
-- sets it; 0 is for a row written by hand (a seed, an operator's SQL): a
-- full sync has it, an incremental one has it after its next API write.
ALTER TABLE tasks ADD COLUMN seq bigint NOT NULL DEFAULT 0 CHECK (seq >= 0);
UPDATE tasks t SET seq = s.seq
FROM (SELECT id, row_number() OVER (PARTITION BY user_id ORDER BY updated_at, id) AS seq
      FROM tasks) s
WHERE t.id = s.id;
UPDATE users u SET change_seq = c.seq
FROM (SELECT user_id, max(seq) AS seq FROM tasks GROUP BY user_id) c
WHERE u.id = c.user_id;
CREATE INDEX tasks_user_id_seq_idx ON tasks (user_id, seq);

-- Tasks in the trash: the row moves here whole (due_by as a plain copy),
-- so no /tasks statement or index ever sees it; seq is its deletion's.
-- `LIKE tasks`: a later migration that adds a column to tasks adds it here
-- too (a test compares the two).
CREATE TABLE trashed_tasks (
    LIKE tasks INCLUDING DEFAULTS,
    deleted_at timestamptz NOT NULL,
    -- deleted_at + 720 hours (not '30 days', which would depend on the
    -- session's TimeZone across a DST change). Its own column, never
    -- sorted on by the trash list, so that the planner cannot pick the
    -- purge's index for the list (measured: 2,611 buffers against 9).
    purge_after timestamptz NOT NULL,
    PRIMARY KEY (id)
);
CREATE INDEX trashed_tasks_user_id_deleted_at_id_idx
    ON trashed_tasks (user_id, deleted_at DESC, id DESC);
CREATE INDEX trashed_tasks_user_id_seq_idx ON trashed_tasks (user_id, seq);
CREATE INDEX trashed_tasks_purge_after_idx ON trashed_tasks (purge_after);

-- Tasks gone for good, for the change feed: kept 90 days after
-- deleted_at. seq is the deletion's: going for good changes nothing a
-- client holds (it already has the tombstone).
CREATE TABLE task_tombstones (
    user_id     text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    id          uuid PRIMARY KEY,
    seq         bigint NOT NULL,
    deleted_at  timestamptz NOT NULL
);
CREATE INDEX task_tombstones_user_id_seq_idx ON task_tombstones (user_id, seq);
CREATE INDEX task_tombstones_deleted_at_idx ON task_tombstones (deleted_at);

-- One entry per successful write, keyed by that write's seq (unique per
-- user, increasing in commit order: newest first is seq DESC). It goes
-- with the task when the task is gone for good, in that statement. No
-- foreign keys: the task moves between tasks and trashed_tasks, and the
-- check on users cost 60 us per write (measured); deleting a user by hand
-- deletes these rows too (docs/operations.md).
CREATE TABLE task_history (
    user_id  text NOT NULL,
    task_id  uuid NOT NULL,
    seq      bigint NOT NULL,
    at       timestamptz NOT NULL,
    action   text NOT NULL
        CHECK (action IN ('created', 'updated', 'completed', 'reopened', 'deleted', 'restored')),
    changes  jsonb NOT NULL,
    PRIMARY KEY (user_id, task_id, seq)
);
-- Entries are written in time order, so a BRIN index on `at` is nearly
-- free to keep and finds the old ones for the age bound's purge.
CREATE INDEX task_history_at_idx ON task_history USING brin (at);

GRANT SELECT, INSERT, UPDATE, DELETE ON trashed_tasks, task_tombstones, task_history
    TO task_api_app;
