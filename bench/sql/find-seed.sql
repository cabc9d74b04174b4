-- 100,000 tasks for `big`, 10 each for small1..small50: words from a
-- small vocabulary (one word, `zanzibar`, rare), 40 % with a due (dates and
-- moments), half completed, priorities 60/20/15/5 %, half with labels.
-- Each column from its own hash of the row number (independent, as a
-- random seed would be, but the same on every run); dues fall within 90
-- days of creation, as real ones do. Used by tests/database/plans.rs and
-- bench/run's "find" part.
-- The per-user count (migration 0005) is set once at the end, not by
-- 100,000 trigger runs on one row.
ALTER TABLE tasks DISABLE TRIGGER tasks_count_per_user;
INSERT INTO users (id) SELECT 'big' UNION ALL SELECT 'small' || u FROM generate_series(1, 50) u;
CREATE FUNCTION pg_temp.h(g int, k int) RETURNS int LANGUAGE sql IMMUTABLE
    AS $$ SELECT abs(hashint4(g * 31 + k)) $$;
CREATE TEMP TABLE vocab AS SELECT string_to_array(
  'buy milk call email send review fix write update check meeting report plan book pay order clean schedule prepare draft read test deploy team project client invoice budget doctor school bread eggs coffee car tax bank rent garden dog gym yoga train flight hotel visa gift party dinner mom dad friend boss slides notes agenda contract design code bug release backup server été école',
  ' ') AS w;
INSERT INTO tasks (id, user_id, title, description, completed, created_at, updated_at,
                   due_date, due_at, time_zone, priority, labels, title_words, description_words)
SELECT gen_random_uuid(), user_id, title, description, pg_temp.h(g, 1) % 2 = 0, created_at,
       created_at + pg_temp.h(g, 2) * interval '1 second',
       CASE WHEN pg_temp.h(g, 3) % 5 = 2 THEN (created_at + pg_temp.h(g, 4) % 90 * interval '1 day')::date END,
       CASE WHEN pg_temp.h(g, 3) % 5 IN (0, 1) THEN created_at + pg_temp.h(g, 4) % 90 * interval '1 day' END,
       CASE WHEN pg_temp.h(g, 5) % 3 = 0 THEN 'Europe/Berlin' ELSE 'UTC' END,
       CASE WHEN pg_temp.h(g, 6) % 20 < 12 THEN 0 WHEN pg_temp.h(g, 6) % 20 < 16 THEN 1
            WHEN pg_temp.h(g, 6) % 20 < 19 THEN 2 ELSE 3 END,
       CASE WHEN pg_temp.h(g, 7) % 2 = 0 THEN '{}'::text[]
            WHEN pg_temp.h(g, 7) % 3 = 0 THEN ARRAY['label' || pg_temp.h(g, 8) % 30, 'label' || pg_temp.h(g, 9) % 7 + 30]
            ELSE ARRAY['label' || pg_temp.h(g, 8) % 30] END,
       array_to_tsvector(string_to_array(lower(title), ' ')),
       COALESCE(array_to_tsvector(string_to_array(description, ' ')), '')
FROM (
  SELECT s.*, initcap(w[1 + pg_temp.h(g, 10) % cardinality(w)]) || ' ' || w[1 + pg_temp.h(g, 11) % cardinality(w)]
              || ' ' || w[1 + pg_temp.h(g, 12) % cardinality(w)]
              || CASE WHEN pg_temp.h(g, 13) % 700 = 0 THEN ' zanzibar' ELSE '' END AS title,
         CASE WHEN pg_temp.h(g, 14) % 2 = 1
              THEN w[1 + pg_temp.h(g, 15) % cardinality(w)] || ' ' || w[1 + pg_temp.h(g, 16) % cardinality(w)] END
           AS description
  FROM vocab, (
    SELECT 'big'::text AS user_id, g, timestamptz '2026-06-01' - g * interval '15 minutes' AS created_at
    FROM generate_series(1, 100000) g
    UNION ALL
    SELECT 'small' || u, u * 10 + g, timestamptz '2026-06-01' - (u * 10 + g) * interval '17 minutes'
    FROM generate_series(1, 50) u, generate_series(1, 10) g
  ) s
) t;
ALTER TABLE tasks ENABLE TRIGGER tasks_count_per_user;
UPDATE users SET task_count = (SELECT count(*) FROM tasks WHERE tasks.user_id = users.id)
WHERE id = 'big' OR id LIKE 'small%';
