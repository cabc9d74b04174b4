-- GET /api/bench-2/tasks/{id}: TaskRepository::get
\set u 2
\set i random(0, 999)
SELECT id, user_id, title, description, completed, created_at, updated_at, due_date, due_at, time_zone, due_by, priority, labels FROM tasks WHERE user_id = 'bench-2' AND id = ('00000000-0000-7000-800' || :u || '-000000000' || lpad(:i::text, 3, '0'))::uuid;
