-- Due dates with time zones, priority, labels, and the search words the
-- API makes (issue 27). Each choice is measured in docs/design.md.

-- IANA zone names as PostgreSQL's tz database spells them, checked by a
-- foreign key (an index probe), not by pg_timezone_names (60-260 ms a call).
CREATE TABLE time_zones (name text PRIMARY KEY);
INSERT INTO time_zones (name)
SELECT name FROM pg_timezone_names
-- CET, EET, MET and WET are zones with summer time, but `AT TIME ZONE`
-- reads those four as the fixed abbreviations first: they are left out
-- (Europe/Paris, Europe/Athens, ... say the same without the ambiguity).
WHERE name !~ '^(posix|right)/'
  AND name NOT IN ('Factory', 'posixrules', 'localtime', 'CET', 'EET', 'MET', 'WET')
ON CONFLICT DO NOTHING;
INSERT INTO time_zones (name) VALUES ('UTC') ON CONFLICT DO NOTHING;

-- When a task falls due. A date ends at the first instant at or after the
-- next day's 00:00 in `zone`. `timestamp AT TIME ZONE` reads a skipped
-- midnight with the offset before the jump (= the first instant after the
-- gap) but a repeated midnight (America/Havana, Atlantic/Azores) with the
-- offset after it (the later instant): the earlier reading, with the offset
-- of a day before, wins when it is a real reading of that midnight.
-- Arithmetic on UTC `timestamp`s only (timestamptz +/- interval would read
-- the session's TimeZone). PL/pgSQL: measured cheaper per statement than the
-- same in SQL (inlined: +50-150 us; with a sub-SELECT: +200 us).
-- IMMUTABLE as PostgreSQL's own timezone() is: a tzdata update that moves a
-- rule needs the stored values recomputed (UPDATE ... SET time_zone = time_zone).
CREATE FUNCTION task_due_by(due_date date, due_at timestamptz, zone text)
RETURNS timestamptz LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
-- `AT TIME ZONE` reads a name as an abbreviation first, by the session's
-- abbreviation set: pinned, so that no session changes what a zone means.
SET timezone_abbreviations = 'Default' AS $$
DECLARE
    midnight timestamp := (due_date + 1)::timestamp;
    later timestamp;
    earlier timestamp;
BEGIN
    IF due_at IS NOT NULL OR due_date IS NULL THEN
        RETURN due_at;
    END IF;
    later := timezone('UTC', midnight AT TIME ZONE zone);
    earlier := midnight - (timezone(zone, (later - interval '1 day') AT TIME ZONE 'UTC')
                           - (later - interval '1 day'));
    IF earlier < later AND timezone(zone, earlier AT TIME ZONE 'UTC') = midnight THEN
        RETURN earlier AT TIME ZONE 'UTC';
    END IF;
    RETURN later AT TIME ZONE 'UTC';
END
$$;

-- The API's label rules (trimming is the API's: btrim only checks spaces),
-- so that no path around it stores what it refuses. PL/pgSQL for the same
-- per-statement cost reason as above.
CREATE FUNCTION task_labels_valid(labels text[]) RETURNS boolean
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    label text;
BEGIN
    IF COALESCE(array_ndims(labels), 1) <> 1 OR cardinality(labels) > 20 THEN
        RETURN false;
    END IF;
    FOREACH label IN ARRAY labels LOOP
        IF label IS NULL OR char_length(label) NOT BETWEEN 1 AND 50
           OR strpos(label, ',') > 0 OR label <> btrim(label) THEN
            RETURN false;
        END IF;
    END LOOP;
    RETURN cardinality(labels) = (SELECT count(DISTINCT l) FROM unnest(labels) l);
END
$$;

ALTER TABLE tasks
    -- `due`: nothing, a date (answered as sent) or a moment; never both.
    ADD COLUMN due_date date CHECK (due_date BETWEEN '0001-01-01' AND '9999-12-30'),
    ADD COLUMN due_at timestamptz
        CHECK (due_at BETWEEN '0001-01-01T00:00:00Z' AND '9999-12-31T23:59:59.999999Z'),
    ADD COLUMN time_zone text NOT NULL DEFAULT 'UTC' REFERENCES time_zones (name),
    -- Computed by every write statement that touches a row; read-only.
    ADD COLUMN due_by timestamptz
        GENERATED ALWAYS AS (task_due_by(due_date, due_at, time_zone)) STORED,
    ADD COLUMN priority smallint NOT NULL DEFAULT 0 CHECK (priority BETWEEN 0 AND 3),
    ADD COLUMN labels text[] NOT NULL DEFAULT '{}' CHECK (task_labels_valid(labels)),
    -- Search words made by the API (lower-cased runs of letters and digits,
    -- each cut to 200 characters, no positions), one column per field so that
    -- a PUT of one field rewrites only its own.
    ADD COLUMN title_words tsvector NOT NULL DEFAULT '',
    ADD COLUMN description_words tsvector NOT NULL DEFAULT '',
    ADD CONSTRAINT tasks_one_due CHECK (due_date IS NULL OR due_at IS NULL);

-- Every sort, both directions (a B-tree reads backwards as cheaply), `id`
-- the tie-breaker. due_by: NULLs last both ways, as +/-infinity, one index
-- per direction, so that every sort has the same keyset shape.
CREATE INDEX tasks_user_id_updated_at_id_idx ON tasks (user_id, updated_at, id);
CREATE INDEX tasks_user_id_due_by_asc_idx
    ON tasks (user_id, COALESCE(due_by, 'infinity'::timestamptz), id);
CREATE INDEX tasks_user_id_due_by_desc_idx
    ON tasks (user_id, COALESCE(due_by, '-infinity'::timestamptz), id);
CREATE INDEX tasks_user_id_priority_id_idx ON tasks (user_id, priority, id);
-- Unicode default lower-casing (ICU root locale), compared by code point.
CREATE INDEX tasks_user_id_title_key_id_idx
    ON tasks (user_id, (lower(title COLLATE "und-x-icu") COLLATE "C"), id);
-- Search and labels: GIN finds the matches; the sort comes from above.
CREATE INDEX tasks_words_idx ON tasks USING gin ((title_words || description_words));
CREATE INDEX tasks_labels_idx ON tasks USING gin (labels);
