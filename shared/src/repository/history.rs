//! The SQL fragments every write statement shares to take its change
//! number and record its history entry in that same statement: the
//! counter's bump, the entry's insert, and the `changes` a write makes
//! (field-level `from`/`to`, as the API answers the fields). Macros, so
//! that the statements built from them stay `&'static str`s made at
//! compile time (`concat!`).
//!
//! Lock order, for every write (docs/design.md): the task rows first
//! (`FOR UPDATE`, with the `If-Match` in their `WHERE`), then the user
//! row, whose lock orders one user's seqs. A refused write (no task row)
//! never reaches the counter: it takes no seq and writes no entry.

/// Takes the next seq of user `$user` (a parameter, e.g. `"$1"`) only when
/// the task row the statement locked in `$locked` (a CTE) exists: a 404 or
/// 412 bumps nothing. The filter is a one-time one (an InitPlan run
/// first), so the user row is locked after the task row.
macro_rules! bump_seq_when {
    ($user:literal, $locked:literal) => {
        concat!(
            "UPDATE users SET change_seq = change_seq + 1 WHERE id = ",
            $user,
            " AND EXISTS (SELECT FROM ",
            $locked,
            ") RETURNING change_seq"
        )
    };
}
pub(crate) use bump_seq_when;

/// The head of the insert of history entries; the caller's `SELECT` gives
/// the values in this order.
macro_rules! insert_history {
    () => {
        "INSERT INTO task_history (user_id, task_id, seq, at, action, changes) "
    };
}
pub(crate) use insert_history;

/// A row's `due` as the API answers it, as JSON text or SQL NULL: a date
/// as `YYYY-MM-DD`, a moment in UTC with six fraction digits and `Z`.
/// `$row` is the columns' qualifier with its dot (`"o."`), or `""`.
/// The colons are written `\x3a`: pgbench, which runs `bench/sql/` copies
/// of these statements, reads `:MI` as one of its variables.
macro_rules! due_text {
    ($row:literal) => {
        concat!(
            "COALESCE(to_char(",
            $row,
            "due_date, 'YYYY-MM-DD'), to_char(",
            $row,
            "due_at AT TIME ZONE 'UTC', E'YYYY-MM-DD\"T\"HH24\\x3aMI\\x3aSS.US\"Z\"'))"
        )
    };
}
pub(crate) use due_text;

/// The `changes` of a `created` entry, from the new row's columns
/// (unqualified): each writable field whose value is not null, `from`
/// null. (`title`, `completed`, `time_zone`, `priority` and `labels` are
/// never null.)
macro_rules! created_changes {
    () => {
        concat!(
            "jsonb_build_object(
                'title', jsonb_build_object('from', NULL, 'to', title),
                'completed', jsonb_build_object('from', NULL, 'to', completed),
                'time_zone', jsonb_build_object('from', NULL, 'to', time_zone),
                'priority', jsonb_build_object('from', NULL, 'to', priority),
                'labels', jsonb_build_object('from', NULL, 'to', labels))
            || CASE WHEN description IS NULL THEN '{}' ELSE jsonb_build_object('description',
                jsonb_build_object('from', NULL, 'to', description)) END
            || CASE WHEN due_date IS NULL AND due_at IS NULL THEN '{}' ELSE jsonb_build_object('due',
                jsonb_build_object('from', NULL, 'to', ",
            due_text!(""),
            ")) END"
        )
    };
}
pub(crate) use created_changes;

/// One field's change between the old row `o` and the new row `n`: `{}`
/// when its value did not change.
macro_rules! field_change {
    ($field:literal) => {
        concat!(
            "CASE WHEN o.",
            $field,
            " IS DISTINCT FROM n.",
            $field,
            " THEN jsonb_build_object('",
            $field,
            "', jsonb_build_object('from', o.",
            $field,
            ", 'to', n.",
            $field,
            ")) ELSE '{}' END"
        )
    };
}
pub(crate) use field_change;

/// The `changes` of a write from the old row `o` (the values it locked)
/// to the new row `n`: every writable field whose value changed, `{}` when
/// none did. `due` is one field over two columns.
macro_rules! updated_changes {
    () => {
        concat!(
            field_change!("title"),
            " || ",
            field_change!("description"),
            " || ",
            field_change!("completed"),
            " || CASE WHEN (o.due_date, o.due_at) IS DISTINCT FROM (n.due_date, n.due_at)
                THEN jsonb_build_object('due', jsonb_build_object('from', ",
            due_text!("o."),
            ", 'to', ",
            due_text!("n."),
            ")) ELSE '{}' END || ",
            field_change!("time_zone"),
            " || ",
            field_change!("priority"),
            " || ",
            field_change!("labels")
        )
    };
}
pub(crate) use updated_changes;
