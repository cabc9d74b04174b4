-- The per-user task count (0005) kept once per statement instead of once
-- per row: a batch's run of 100 creates, or a purge, updates each owner's
-- row once, not once per task (one row version each time). Transition
-- tables allow one event per trigger and no column list, so a change of a
-- task's owner (UPDATE OF user_id, which no route runs) keeps 0005's row
-- trigger: a statement trigger on every UPDATE would run on every edit.
CREATE FUNCTION tasks_count_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE users u SET task_count = u.task_count + n.tasks
    FROM (SELECT user_id, count(*)::integer AS tasks FROM inserted_tasks GROUP BY user_id) n
    WHERE u.id = n.user_id;
    RETURN NULL;
END
$$;

CREATE FUNCTION tasks_count_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE users u SET task_count = u.task_count - n.tasks
    FROM (SELECT user_id, count(*)::integer AS tasks FROM deleted_tasks GROUP BY user_id) n
    WHERE u.id = n.user_id;
    RETURN NULL;
END
$$;

DROP TRIGGER tasks_count_per_user ON tasks;
CREATE TRIGGER tasks_count_per_user
    AFTER UPDATE OF user_id ON tasks
    FOR EACH ROW EXECUTE FUNCTION tasks_count_per_user();
CREATE TRIGGER tasks_count_inserted
    AFTER INSERT ON tasks REFERENCING NEW TABLE AS inserted_tasks
    FOR EACH STATEMENT EXECUTE FUNCTION tasks_count_inserted();
CREATE TRIGGER tasks_count_deleted
    AFTER DELETE ON tasks REFERENCING OLD TABLE AS deleted_tasks
    FOR EACH STATEMENT EXECUTE FUNCTION tasks_count_deleted();
