-- PUT /api/bench-3/tasks/{id} {"title": "Renamed"}: TaskRepository::update
\set u 3
\set i random(0, 999)
WITH old AS (
    SELECT title, description, completed, due_date, due_at, time_zone, priority, labels
    FROM tasks
    WHERE user_id = 'bench-3' AND id = ('00000000-0000-7000-800' || :u || '-000000000' || lpad(:i::text, 3, '0'))::uuid
      AND (NULL::timestamptz[]::timestamptz[] IS NULL OR updated_at = ANY(NULL::timestamptz[]))
    FOR UPDATE
), bump AS (
    UPDATE users SET change_seq = change_seq + 1 WHERE id = 'bench-3' AND EXISTS (SELECT FROM old) RETURNING change_seq
), new AS (
    UPDATE tasks SET
        title = COALESCE('Renamed', title),
        description = CASE WHEN false THEN NULL ELSE description END,
        completed = COALESCE(NULL, completed),
        due_date = CASE WHEN false THEN NULL::date ELSE due_date END,
        due_at = CASE WHEN false THEN NULL::timestamptz ELSE due_at END,
        time_zone = COALESCE(NULL::text, time_zone),
        priority = COALESCE(NULL::smallint, priority),
        labels = COALESCE(NULL::text[], labels),
        title_words = CASE WHEN 'Renamed' IS NULL THEN title_words
            ELSE array_to_tsvector('{renamed}'::text[]) END,
        description_words = CASE WHEN false THEN array_to_tsvector('{}'::text[])
            ELSE description_words END,
        seq = bump.change_seq, updated_at = GREATEST(clock_timestamp(), updated_at + interval '1 microsecond') FROM bump
    WHERE user_id = 'bench-3' AND id = ('00000000-0000-7000-800' || :u || '-000000000' || lpad(:i::text, 3, '0'))::uuid
    RETURNING id, user_id, title, description, completed, created_at, updated_at, due_date, due_at, time_zone, due_by, priority, labels, seq
), hist AS (
    INSERT INTO task_history (user_id, task_id, seq, at, action, changes) SELECT n.user_id, n.id, n.seq, n.updated_at,
        CASE WHEN NULL IS NOT NULL AND c.changes - 'completed' = '{}'
            THEN CASE WHEN n.completed THEN 'completed' ELSE 'reopened' END
            ELSE 'updated' END,
        c.changes
    FROM new n, old o, LATERAL (SELECT CASE WHEN o.title IS DISTINCT FROM n.title THEN jsonb_build_object('title', jsonb_build_object('from', o.title, 'to', n.title)) ELSE '{}' END || CASE WHEN o.description IS DISTINCT FROM n.description THEN jsonb_build_object('description', jsonb_build_object('from', o.description, 'to', n.description)) ELSE '{}' END || CASE WHEN o.completed IS DISTINCT FROM n.completed THEN jsonb_build_object('completed', jsonb_build_object('from', o.completed, 'to', n.completed)) ELSE '{}' END || CASE WHEN (o.due_date, o.due_at) IS DISTINCT FROM (n.due_date, n.due_at)
        THEN jsonb_build_object('due', jsonb_build_object('from', COALESCE(to_char(o.due_date, 'YYYY-MM-DD'), to_char(o.due_at AT TIME ZONE 'UTC', E'YYYY-MM-DD"T"HH24\x3aMI\x3aSS.US"Z"')), 'to', COALESCE(to_char(n.due_date, 'YYYY-MM-DD'), to_char(n.due_at AT TIME ZONE 'UTC', E'YYYY-MM-DD"T"HH24\x3aMI\x3aSS.US"Z"')))) ELSE '{}' END || CASE WHEN o.time_zone IS DISTINCT FROM n.time_zone THEN jsonb_build_object('time_zone', jsonb_build_object('from', o.time_zone, 'to', n.time_zone)) ELSE '{}' END || CASE WHEN o.priority IS DISTINCT FROM n.priority THEN jsonb_build_object('priority', jsonb_build_object('from', o.priority, 'to', n.priority)) ELSE '{}' END || CASE WHEN o.labels IS DISTINCT FROM n.labels THEN jsonb_build_object('labels', jsonb_build_object('from', o.labels, 'to', n.labels)) ELSE '{}' END AS changes) c
)
SELECT id, user_id, title, description, completed, created_at, updated_at, due_date, due_at, time_zone, due_by, priority, labels FROM new;
