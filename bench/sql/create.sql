-- POST /api/bench-new/tasks: TaskRepository::create (the user upsert folded in)
WITH owner AS (
    INSERT INTO users AS u (id) VALUES ('bench-new')
    ON CONFLICT (id) DO UPDATE SET task_count = u.task_count
    RETURNING u.task_count
)
INSERT INTO tasks (id, user_id, title, description, due_date, due_at, time_zone,
    priority, labels, title_words, description_words)
SELECT gen_random_uuid(), 'bench-new', 'Benchmark task', NULL, NULL::date, NULL::timestamptz, 'UTC',
    0::smallint, '{}'::text[],
    array_to_tsvector('{benchmark,task}'::text[]), array_to_tsvector('{}'::text[])
FROM owner WHERE task_count < 2000000000
RETURNING id, user_id, title, description, completed, created_at, updated_at, due_date, due_at, time_zone, due_by, priority, labels;
