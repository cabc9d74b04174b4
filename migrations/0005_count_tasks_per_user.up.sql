-- How many tasks each user stores, for the per-user limit without a
-- count(*) per insert. A trigger keeps it, so every path that adds or
-- removes a task (a create, a delete, a user's cascade, SQL by hand) keeps
-- it exact; a create reads it under the user row's lock (repository::sql).
ALTER TABLE users ADD COLUMN task_count integer NOT NULL DEFAULT 0 CHECK (task_count >= 0);
UPDATE users SET task_count = (SELECT count(*) FROM tasks WHERE tasks.user_id = users.id);

CREATE FUNCTION tasks_count_per_user() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        UPDATE users SET task_count = task_count - 1 WHERE id = OLD.user_id;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        UPDATE users SET task_count = task_count + 1 WHERE id = NEW.user_id;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER tasks_count_per_user
    AFTER INSERT OR DELETE OR UPDATE OF user_id ON tasks
    FOR EACH ROW EXECUTE FUNCTION tasks_count_per_user();
