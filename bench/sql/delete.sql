-- DELETE /api/bench-del/tasks/{id}: TaskRepository::delete (trash::sql::TRASH),
-- each client moving its own run of seeded tasks to the trash (-D base=... -D n=0)
\set n :n + 1
\set i :base + :client_id * 100000 + :n
WITH old AS (
    SELECT * FROM tasks
    WHERE user_id = 'bench-del' AND id = ('00000000-0000-7000-9000-' || lpad(:i::text, 12, '0'))::uuid AND (NULL::timestamptz[]::timestamptz[] IS NULL OR updated_at = ANY(NULL::timestamptz[]))
    FOR UPDATE
), bump AS (
    UPDATE users SET change_seq = change_seq + 1
    WHERE id = 'bench-del' AND EXISTS (SELECT FROM old)
    RETURNING change_seq
), gone AS (
    DELETE FROM tasks t USING bump WHERE t.user_id = 'bench-del' AND t.id = ('00000000-0000-7000-9000-' || lpad(:i::text, 12, '0'))::uuid
), trashed AS (
    INSERT INTO trashed_tasks (id, user_id, title, description, completed, created_at,
        updated_at, due_date, due_at, time_zone, due_by, priority, labels, title_words,
        description_words, seq, deleted_at, purge_after)
    SELECT o.id, o.user_id, o.title, o.description, o.completed, o.created_at,
        o.updated_at, o.due_date, o.due_at, o.time_zone, o.due_by, o.priority, o.labels,
        o.title_words, o.description_words, b.change_seq, d.at, d.at + interval '720 hours'
    FROM old o, bump b,
        LATERAL (SELECT GREATEST(clock_timestamp(), o.updated_at + interval '1 microsecond') AS at) d
    RETURNING user_id, id, seq, deleted_at
), hist AS (
    INSERT INTO task_history (user_id, task_id, seq, at, action, changes)
    SELECT user_id, id, seq, deleted_at, 'deleted', '{}' FROM trashed
)
SELECT id FROM trashed;
