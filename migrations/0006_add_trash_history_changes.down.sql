-- Tasks in the trash, tombstones and history are gone for good with this;
-- live tasks stay.
DROP TABLE task_history, task_tombstones, trashed_tasks;
DROP INDEX tasks_user_id_seq_idx;
ALTER TABLE tasks DROP COLUMN seq;
ALTER TABLE users DROP COLUMN purged_seq, DROP COLUMN change_seq;
