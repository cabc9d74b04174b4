-- DELETE /api/bench-del/tasks/{id}: TaskRepository::delete, each client
-- deleting its own run of seeded tasks (-D base=... -D n=0)
\set n :n + 1
\set i :base + :client_id * 100000 + :n
DELETE FROM tasks WHERE user_id = 'bench-del' AND id = ('00000000-0000-7000-9000-' || lpad(:i::text, 12, '0'))::uuid
  AND (NULL::timestamptz[]::timestamptz[] IS NULL OR updated_at = ANY(NULL::timestamptz[]))
RETURNING id;
