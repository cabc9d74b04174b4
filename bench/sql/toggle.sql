-- PATCH /api/bench-4/tasks/{id}/complete: TaskRepository::toggle_completed
\set u 4
\set i random(0, 999)
WITH old AS (
    SELECT completed FROM tasks
    WHERE user_id = 'bench-4' AND id = ('00000000-0000-7000-800' || :u || '-000000000' || lpad(:i::text, 3, '0'))::uuid
      AND (NULL::timestamptz[]::timestamptz[] IS NULL OR updated_at = ANY(NULL::timestamptz[]))
    FOR UPDATE
), bump AS (
    UPDATE users SET change_seq = change_seq + 1 WHERE id = 'bench-4' AND EXISTS (SELECT FROM old) RETURNING change_seq
), new AS (
    UPDATE tasks SET completed = NOT completed, seq = bump.change_seq, updated_at = GREATEST(clock_timestamp(), updated_at + interval '1 microsecond') FROM bump
    WHERE user_id = 'bench-4' AND id = ('00000000-0000-7000-800' || :u || '-000000000' || lpad(:i::text, 3, '0'))::uuid
    RETURNING id, user_id, title, description, completed, created_at, updated_at, due_date, due_at, time_zone, due_by, priority, labels, seq
), hist AS (
    INSERT INTO task_history (user_id, task_id, seq, at, action, changes) SELECT n.user_id, n.id, n.seq, n.updated_at,
        CASE WHEN n.completed THEN 'completed' ELSE 'reopened' END,
        jsonb_build_object('completed',
            jsonb_build_object('from', o.completed, 'to', n.completed))
    FROM new n, old o
)
SELECT id, user_id, title, description, completed, created_at, updated_at, due_date, due_at, time_zone, due_by, priority, labels FROM new;
