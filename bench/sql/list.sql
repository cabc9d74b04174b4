-- GET /api/bench-1/tasks: TaskRepository::list, the default sort, no filter, no cursor, limit 1000 (+1 to see if more follow)
SELECT id, user_id, title, description, completed, created_at, updated_at, due_date, due_at, time_zone, due_by, priority, labels, created_at AS sort_key
FROM tasks
WHERE user_id = 'bench-1'
ORDER BY created_at DESC, id DESC
LIMIT 1001;
