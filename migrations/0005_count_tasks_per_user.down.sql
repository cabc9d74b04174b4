DROP TRIGGER tasks_count_per_user ON tasks;
DROP FUNCTION tasks_count_per_user();
ALTER TABLE users DROP COLUMN task_count;
