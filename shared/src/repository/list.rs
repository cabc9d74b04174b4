//! The list statement: one text per sort, direction and set of filters
//! present, so that no `$n IS NULL OR …` is left for a plan to carry. The
//! SQL is built here from the fragments below, always in the same order
//! (the same query shape is the same text).
//!
//! Every sort has the same keyset shape, `(K, id) < ($k, $id) ORDER BY K
//! DESC, id DESC` (or `>` and `ASC`), each K the key of an index
//! `(user_id, K, id)` (migration 0003). `due_by`'s K is `COALESCE(due_by,
//! ±infinity)`, one index per direction, so that tasks without a due come
//! last both ways with no NULL branch. With `sort=±due_by`, the due filters
//! are also written on K, so that they bound the index range instead of
//! filtering a walk. K is returned as `sort_key` (the last column): the
//! cursor carries it as the database computed it.

use tokio_postgres::types::{ToSql, Type};

use crate::{cursor::Cursor, input::ListQuery, repository::task_columns, sort::SortField};

/// A list statement and its parameters.
pub struct ListStatement {
    pub sql: String,
    pub params: Vec<(Box<dyn ToSql + Sync + Send>, Type)>,
    /// Whether a filter beyond `completed` is present: such a statement
    /// must be planned with its values every time (see `TaskRepository::list`).
    pub selective: bool,
}

/// The key of each sort, and the index that holds it.
fn key(field: SortField, descending: bool) -> &'static str {
    match (field, descending) {
        (SortField::CreatedAt, _) => "created_at",
        (SortField::UpdatedAt, _) => "updated_at",
        (SortField::DueBy, false) => "COALESCE(due_by, 'infinity'::timestamptz)",
        (SortField::DueBy, true) => "COALESCE(due_by, '-infinity'::timestamptz)",
        (SortField::Priority, _) => "priority",
        // Unicode default lower-casing (ICU root), compared by code point.
        (SortField::Title, _) => r#"lower(title COLLATE "und-x-icu") COLLATE "C""#,
    }
}

fn key_type(field: SortField) -> Type {
    match field {
        SortField::CreatedAt | SortField::UpdatedAt | SortField::DueBy => Type::TIMESTAMPTZ,
        SortField::Priority => Type::INT2,
        SortField::Title => Type::TEXT,
    }
}

struct Builder {
    sql: String,
    params: Vec<(Box<dyn ToSql + Sync + Send>, Type)>,
}

impl Builder {
    /// Adds a parameter; its placeholder.
    fn param(&mut self, value: impl ToSql + Sync + Send + 'static, ty: Type) -> String {
        self.params.push((Box::new(value), ty));
        format!("${}", self.params.len())
    }

    fn and(&mut self, condition: &str) {
        self.sql.push_str("\n  AND ");
        self.sql.push_str(condition);
    }
}

/// The statement for `query`'s page of `user`'s tasks, one row more than
/// the page (to tell whether another follows).
pub fn statement(user_id: &str, query: &ListQuery) -> ListStatement {
    let sort = query.sort;
    let k = key(sort.field, sort.descending);
    let due_sort = sort.field == SortField::DueBy;
    let f = &query.filters;
    let mut b = Builder {
        sql: String::with_capacity(640),
        params: Vec::with_capacity(12),
    };
    b.sql.push_str(concat!("SELECT ", task_columns!(), ", "));
    b.sql.push_str(k);
    b.sql.push_str(" AS sort_key\nFROM tasks\nWHERE user_id = ");
    let user = b.param(user_id.to_owned(), Type::TEXT);
    b.sql.push_str(&user);

    if let Some(completed) = f.completed {
        let p = b.param(completed, Type::BOOL);
        b.and(&format!("completed = {p}"));
    }
    if let Some(priority) = f.priority {
        let p = b.param(priority, Type::INT2);
        b.and(&format!("priority = {p}"));
    }
    if !f.labels.is_empty() {
        let p = b.param(f.labels.clone(), Type::TEXT_ARRAY);
        b.and(&format!("labels @> {p}"));
    }
    // The due filters are written on a `due_by` index key (the sort's
    // own with `sort=±due_by`, else the ascending one), so that they can
    // bound an index range rather than filter a walk; `due_by` itself
    // where the key's ±infinity (no due) would pass.
    let dk = if due_sort {
        k
    } else {
        key(SortField::DueBy, false)
    };
    let nulls_low = due_sort && sort.descending;
    if let Some(before) = f.due_before {
        let p = b.param(before, Type::TIMESTAMPTZ);
        if nulls_low {
            b.and(&format!("due_by < {p}"));
        }
        b.and(&format!("{dk} < {p}"));
    }
    if let Some(after) = f.due_after {
        let p = b.param(after, Type::TIMESTAMPTZ);
        if !nulls_low {
            b.and(&format!("due_by >= {p}"));
        }
        b.and(&format!("{dk} >= {p}"));
    }
    match f.overdue {
        Some(true) => {
            // now(): the statement's time; a later page may find more.
            b.and("NOT completed AND due_by < now()");
            b.and(&format!("{dk} < now()"));
        }
        Some(false) => b.and("(completed OR due_by IS NULL OR due_by >= now())"),
        None => {}
    }
    // No due is the key's infinity: a range either way.
    let (no_due, has_due) = if nulls_low {
        ("'-infinity'", ">")
    } else {
        ("'infinity'", "<")
    };
    match f.has_due {
        Some(true) => b.and(&format!("{dk} {has_due} {no_due}::timestamptz")),
        Some(false) => b.and(&format!("{dk} = {no_due}::timestamptz")),
        None => {}
    }
    if !f.words.is_empty() {
        // Each word the start of a word: `'w1':* & 'w2':*`. Words are
        // letters and digits (`search::words`): nothing to escape, but
        // quotes are doubled all the same.
        let tsquery = f
            .words
            .iter()
            .map(|w| format!("'{}':*", w.replace('\\', "\\\\").replace('\'', "''")))
            .collect::<Vec<_>>()
            .join(" & ");
        let p = b.param(tsquery, Type::TEXT);
        b.and(&format!(
            "(title_words || description_words) @@ {p}::tsquery"
        ));
    }
    let (compare, order) = if sort.descending {
        ("<", "DESC")
    } else {
        (">", "ASC")
    };
    if let Some(Cursor { key: at, id, .. }) = &query.after {
        let pk = b.param(at.clone(), key_type(sort.field));
        let pid = b.param(*id, Type::UUID);
        b.and(&format!("({k}, id) {compare} ({pk}, {pid})"));
    }
    let fetch = b.param(query.limit as i64 + 1, Type::INT8);
    if f.due_before.is_some() && f.due_after.is_some() && !due_sort {
        // A due window under another sort: its tasks through the due index,
        // then sorted. Walking the sort's index instead, betting on finding
        // a page's worth early, loses when dues follow creation (they do):
        // measured, 57,600 rows read for a page of a 30-day window. The
        // fence (OFFSET 0) keeps the planner from taking that bet.
        b.sql.insert_str(0, "SELECT * FROM (");
        b.sql.push_str(&format!(
            "\nOFFSET 0) AS window_tasks\nORDER BY sort_key {order}, id {order}\nLIMIT {fetch}"
        ));
    } else {
        b.sql.push_str(&format!(
            "\nORDER BY {k} {order}, id {order}\nLIMIT {fetch}"
        ));
    }
    ListStatement {
        sql: b.sql,
        params: b.params,
        selective: !query.filters.only_completed(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{input::Filters, sort::Sort};

    fn sql(sort: &str, filters: Filters) -> String {
        let query = ListQuery {
            sort: Sort::parse(sort).unwrap(),
            filters,
            ..ListQuery::default()
        };
        statement("u", &query).sql
    }

    #[test]
    fn no_statement_carries_an_optional_predicate() {
        let all = Filters {
            completed: Some(true),
            priority: Some(1),
            labels: vec!["a".into()],
            due_before: Some(chrono::Utc::now()),
            due_after: Some(chrono::Utc::now()),
            overdue: Some(true),
            has_due: Some(true),
            words: vec!["milk".into()],
        };
        for sort in [
            "created_at",
            "-updated_at",
            "due_by",
            "-due_by",
            "priority",
            "-title",
        ] {
            for filters in [Filters::default(), all.clone()] {
                let text = sql(sort, filters);
                assert!(!text.contains("IS NULL OR"), "{text}");
            }
        }
    }

    #[test]
    fn the_plain_list_is_sql_list() {
        let plain = statement("u", &ListQuery::default());
        assert_eq!(plain.sql, crate::repository::sql::LIST);
        let types: Vec<Type> = plain.params.iter().map(|(_, t)| t.clone()).collect();
        assert_eq!(types, [Type::TEXT, Type::INT8]);
        assert!(!plain.selective);
    }

    #[test]
    fn due_sorts_bound_their_key() {
        let filters = Filters {
            due_before: Some(chrono::Utc::now()),
            overdue: Some(true),
            has_due: Some(false),
            ..Filters::default()
        };
        let asc = sql("due_by", filters.clone());
        assert!(
            asc.contains("COALESCE(due_by, 'infinity'::timestamptz) < $2"),
            "{asc}"
        );
        assert!(!asc.contains("due_by < $2"), "{asc}");
        assert!(
            asc.contains("COALESCE(due_by, 'infinity'::timestamptz) = 'infinity'"),
            "{asc}"
        );
        let desc = sql("-due_by", filters);
        assert!(desc.contains("\n  AND due_by < $2"), "{desc}");
        assert!(
            desc.contains("COALESCE(due_by, '-infinity'::timestamptz) < $2"),
            "{desc}"
        );
        assert!(desc.contains("ORDER BY COALESCE(due_by, '-infinity'::timestamptz) DESC, id DESC"));
    }
}
