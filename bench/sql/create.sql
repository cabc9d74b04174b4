-- POST /api/bench-new/tasks: TaskRepository::create (the user upsert folded in)
WITH owner AS (
    INSERT INTO users AS u (id, change_seq) VALUES ('bench-new', CASE WHEN 0 < 2000000000 THEN 1 ELSE 0 END) ON CONFLICT (id) DO UPDATE
        SET change_seq = u.change_seq + CASE WHEN u.task_count < 2000000000 THEN 1 ELSE 0 END
    RETURNING u.task_count, u.change_seq
), new AS (
    INSERT INTO tasks (id, user_id, title, description, due_date, due_at, time_zone,
        priority, labels, title_words, description_words, seq)
    SELECT gen_random_uuid(), 'bench-new', 'Benchmark task', NULL, NULL::date, NULL::timestamptz, 'UTC', 0::smallint, '{}'::text[],
        array_to_tsvector('{benchmark,task}'::text[]), array_to_tsvector('{}'::text[]), change_seq
    FROM owner WHERE task_count < 2000000000
    RETURNING id, user_id, title, description, completed, created_at, updated_at, due_date, due_at, time_zone, due_by, priority, labels, seq
), hist AS (
    INSERT INTO task_history (user_id, task_id, seq, at, action, changes) SELECT user_id, id, seq, updated_at, 'created', jsonb_build_object(
        'title', jsonb_build_object('from', NULL, 'to', title),
        'completed', jsonb_build_object('from', NULL, 'to', completed),
        'time_zone', jsonb_build_object('from', NULL, 'to', time_zone),
        'priority', jsonb_build_object('from', NULL, 'to', priority),
        'labels', jsonb_build_object('from', NULL, 'to', labels))
    || CASE WHEN description IS NULL THEN '{}' ELSE jsonb_build_object('description',
        jsonb_build_object('from', NULL, 'to', description)) END
    || CASE WHEN due_date IS NULL AND due_at IS NULL THEN '{}' ELSE jsonb_build_object('due',
        jsonb_build_object('from', NULL, 'to', COALESCE(to_char(due_date, 'YYYY-MM-DD'), to_char(due_at AT TIME ZONE 'UTC', E'YYYY-MM-DD"T"HH24\x3aMI\x3aSS.US"Z"')))) END FROM new
)
SELECT id, user_id, title, description, completed, created_at, updated_at, due_date, due_at, time_zone, due_by, priority, labels FROM new;
