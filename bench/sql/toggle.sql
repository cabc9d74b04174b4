-- PATCH /api/bench-4/tasks/{id}/complete: TaskRepository::toggle_completed
\set u 4
\set i random(0, 999)
UPDATE tasks SET completed = NOT completed, updated_at = GREATEST(clock_timestamp(), updated_at + interval '1 microsecond')
WHERE user_id = 'bench-4' AND id = ('00000000-0000-7000-800' || :u || '-000000000' || lpad(:i::text, 3, '0'))::uuid
  AND (NULL::timestamptz[]::timestamptz[] IS NULL OR updated_at = ANY(NULL::timestamptz[]))
RETURNING id, user_id, title, description, completed, created_at, updated_at, due_date, due_at, time_zone, due_by, priority, labels;
