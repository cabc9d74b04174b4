//! The orders a list can be in.

/// What a list is sorted by (`id` breaks ties, in the same direction).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SortField {
    CreatedAt,
    UpdatedAt,
    DueBy,
    Priority,
    Title,
}

/// `sort=[-]field`. The default is `-created_at`, newest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sort {
    pub field: SortField,
    pub descending: bool,
}

impl Default for Sort {
    fn default() -> Self {
        Self {
            field: SortField::CreatedAt,
            descending: true,
        }
    }
}

const SORT_FIELDS: [(&str, SortField); 5] = [
    ("created_at", SortField::CreatedAt),
    ("updated_at", SortField::UpdatedAt),
    ("due_by", SortField::DueBy),
    ("priority", SortField::Priority),
    ("title", SortField::Title),
];

impl Sort {
    /// `title`, `-title`, …; `None` for anything else.
    pub fn parse(raw: &str) -> Option<Self> {
        let (descending, name) = match raw.strip_prefix('-') {
            Some(name) => (true, name),
            None => (false, raw),
        };
        let field = SORT_FIELDS.iter().find(|(n, _)| *n == name)?.1;
        Some(Self { field, descending })
    }

    /// Its byte in a cursor: the field's place, doubled, plus 1 if descending.
    pub fn code(self) -> u8 {
        let place = SORT_FIELDS.iter().position(|(_, f)| *f == self.field);
        place.unwrap_or_default() as u8 * 2 + u8::from(self.descending)
    }

    pub fn from_code(code: u8) -> Option<Self> {
        let field = SORT_FIELDS.get(usize::from(code / 2))?.1;
        Some(Self {
            field,
            descending: code % 2 == 1,
        })
    }
}
