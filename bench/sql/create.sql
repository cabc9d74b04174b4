-- POST /api/bench-new/tasks: TaskRepository::create (the user upsert folded in)
WITH owner AS (
    INSERT INTO users (id) VALUES ('bench-new') ON CONFLICT (id) DO NOTHING
)
INSERT INTO tasks (id, user_id, title, description)
VALUES (gen_random_uuid(), 'bench-new', 'Benchmark task', NULL)
RETURNING id, user_id, title, description, completed, created_at, updated_at;
