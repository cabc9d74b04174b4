-- PUT /api/bench-3/tasks/{id} {"title": "Renamed"}: TaskRepository::update
\set u 3
\set i random(0, 999)
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
    updated_at = GREATEST(clock_timestamp(), updated_at + interval '1 microsecond')
WHERE user_id = 'bench-3' AND id = ('00000000-0000-7000-800' || :u || '-000000000' || lpad(:i::text, 3, '0'))::uuid
  AND (NULL::timestamptz[]::timestamptz[] IS NULL OR updated_at = ANY(NULL::timestamptz[]))
RETURNING id, user_id, title, description, completed, created_at, updated_at, due_date, due_at, time_zone, due_by, priority, labels;
