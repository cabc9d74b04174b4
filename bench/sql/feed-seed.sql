-- The feed part's user (bench/run): 1000 tasks, half of them changed
-- since their creation in random order, so that seq order (a sync page's)
-- is not the heap's order (a list page's).
SET session_replication_role = replica;
INSERT INTO users (id) VALUES ('bench-feed');
INSERT INTO tasks (id, user_id, title, description, created_at, updated_at, seq)
SELECT ('00000000-0000-7000-a000-' || lpad(i::text, 12, '0'))::uuid, 'bench-feed',
       'Task number ' || i, 'Some description of task ' || i,
       now() - (1000 - i) * interval '1 second', now() - (1000 - i) * interval '1 second', i
FROM generate_series(1, 1000) i;
UPDATE tasks t SET seq = 1000 + s.n, updated_at = now()
FROM (SELECT id, row_number() OVER (ORDER BY random()) AS n
      FROM tasks WHERE user_id = 'bench-feed' AND id::text < '00000000-0000-7000-a000-000000000500') s
WHERE t.id = s.id;
UPDATE users SET task_count = 1000,
    change_seq = (SELECT max(seq) FROM tasks WHERE user_id = 'bench-feed')
WHERE id = 'bench-feed';
RESET session_replication_role;
VACUUM ANALYZE tasks;
