DROP INDEX tasks_labels_idx, tasks_words_idx, tasks_user_id_title_key_id_idx,
    tasks_user_id_priority_id_idx, tasks_user_id_due_by_desc_idx,
    tasks_user_id_due_by_asc_idx, tasks_user_id_updated_at_id_idx;
ALTER TABLE tasks
    DROP CONSTRAINT tasks_one_due,
    DROP COLUMN description_words, DROP COLUMN title_words, DROP COLUMN labels,
    DROP COLUMN priority, DROP COLUMN due_by, DROP COLUMN time_zone,
    DROP COLUMN due_at, DROP COLUMN due_date;
DROP FUNCTION task_labels_valid(text[]);
DROP FUNCTION task_due_by(date, timestamptz, text);
DROP TABLE time_zones;
