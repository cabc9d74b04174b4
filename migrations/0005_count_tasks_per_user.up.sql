-- How many tasks each user stores, kept by the statements that create and
-- delete tasks (in the same statement, under the user row's lock), so that
-- the per-user limit costs no count(*) per insert and holds under
-- concurrency and behind a transaction-mode pooler.
ALTER TABLE users ADD COLUMN task_count integer NOT NULL DEFAULT 0 CHECK (task_count >= 0);
UPDATE users SET task_count = (SELECT count(*) FROM tasks WHERE tasks.user_id = users.id);
