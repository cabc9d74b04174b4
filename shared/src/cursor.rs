//! The opaque listing cursor: a position in one order of one query.
//!
//! It carries the sort, a fingerprint of the search and filters it was made
//! with (a cursor used with others is refused), the sort key exactly as the
//! database returned it for the last task of the page, and that task's id.
//! The key is never recomputed in Rust: a title lower-cased by the database
//! and by Rust may differ on the newest Unicode characters, and a walk must
//! not skip or repeat a task for it.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use tokio_postgres::types::{FromSql, IsNull, ToSql, Type, to_sql_checked};
use uuid::Uuid;

use crate::sort::{Sort, SortField};

/// A sort key as PostgreSQL sent it, in its binary form: a `timestamptz`
/// (microseconds since 2000-01-01, `±infinity` as `i64::MAX`/`MIN`: the
/// `due_by` key of a task without a due), a `smallint` or a `text`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SortValue {
    Time(i64),
    Small(i16),
    Text(String),
}

/// A position in an order: list tasks strictly after it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cursor {
    pub sort: Sort,
    /// The search and filters it belongs to (`ListQuery::fingerprint`);
    /// `None` for a cursor of the first format (before sorts and filters),
    /// which is a position in the default order, bound to nothing.
    pub fingerprint: Option<u64>,
    pub key: SortValue,
    pub id: Uuid,
}

/// The fingerprint of the trash list's cursors (`repository::trash`):
/// the list's own format, in the default sort's shape (a time, then an
/// id: `deleted_at`), bound to the trash by a value no `/tasks` query's
/// `Filters::fingerprint` is but by a 2^-64 chance, so that a cursor of
/// one list is a 400 on the other.
pub const TRASH_FINGERPRINT: u64 = u64::from_be_bytes(*b"trash:dt");

impl Cursor {
    /// Whether it is a position in the trash list.
    pub fn is_of_trash(&self) -> bool {
        self.fingerprint == Some(TRASH_FINGERPRINT)
            && self.sort == Sort::default()
            && matches!(self.key, SortValue::Time(_))
    }
}

/// The first format's 24 bytes: creation time in microseconds since 1970,
/// then the id.
const FIRST_FORMAT_BYTES: usize = 24;
const FORMAT: u8 = 1;
/// 2000-01-01 (PostgreSQL's epoch) in Unix microseconds.
const PG_EPOCH_UNIX_MICROS: i64 = 946_684_800_000_000;
/// Years 1–9999 in PostgreSQL microseconds: a finite key outside is
/// clamped there (the server refuses to compare with some of them, and no
/// task lies beyond).
const MIN_MICROS: i64 = -62_135_596_800_000_000 - PG_EPOCH_UNIX_MICROS;
const MAX_MICROS: i64 = 253_402_300_799_999_999 - PG_EPOCH_UNIX_MICROS;
/// A title key is at most 255 characters, lower-cased (which can double
/// one), of at most 4 bytes.
const MAX_TEXT_KEY_BYTES: usize = 2 * 255 * 4;

impl Cursor {
    /// `[format][sort][fingerprint: 8][id: 16][key]`, base64url.
    pub fn encode(&self) -> String {
        let mut bytes = Vec::with_capacity(34);
        bytes.push(FORMAT);
        bytes.push(self.sort.code());
        bytes.extend_from_slice(&self.fingerprint.unwrap_or_default().to_be_bytes());
        bytes.extend_from_slice(self.id.as_bytes());
        match &self.key {
            SortValue::Time(micros) => bytes.extend_from_slice(&micros.to_be_bytes()),
            SortValue::Small(n) => bytes.extend_from_slice(&n.to_be_bytes()),
            SortValue::Text(text) => bytes.extend_from_slice(text.as_bytes()),
        }
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// Any well-formed cursor is a position (a client may only page through
    /// its own tasks); `None` when it is not one.
    pub fn decode(raw: &str) -> Option<Self> {
        let bytes = URL_SAFE_NO_PAD.decode(raw).ok()?;
        if bytes.len() == FIRST_FORMAT_BYTES {
            let unix = i64::from_be_bytes(bytes[..8].try_into().ok()?);
            return Some(Self {
                sort: Sort::default(),
                fingerprint: None,
                key: SortValue::Time(clamp(unix.saturating_sub(PG_EPOCH_UNIX_MICROS))),
                id: Uuid::from_slice(&bytes[8..]).ok()?,
            });
        }
        let (&[FORMAT, sort], rest) = bytes.split_first_chunk::<2>()? else {
            return None;
        };
        let sort = Sort::from_code(sort)?;
        let (fingerprint, rest) = rest.split_first_chunk::<8>()?;
        let (id, key) = rest.split_first_chunk::<16>()?;
        let key = match sort.field {
            SortField::CreatedAt | SortField::UpdatedAt | SortField::DueBy => {
                let micros = i64::from_be_bytes(key.try_into().ok()?);
                SortValue::Time(if matches!(micros, i64::MIN | i64::MAX) {
                    micros
                } else {
                    clamp(micros)
                })
            }
            SortField::Priority => SortValue::Small(i16::from_be_bytes(key.try_into().ok()?)),
            SortField::Title => {
                let text = std::str::from_utf8(key).ok()?;
                // PostgreSQL text holds no NUL: such a key is no position.
                if text.is_empty() || text.len() > MAX_TEXT_KEY_BYTES || text.contains('\0') {
                    return None;
                }
                SortValue::Text(text.to_owned())
            }
        };
        Some(Self {
            sort,
            fingerprint: Some(u64::from_be_bytes(*fingerprint)),
            key,
            id: Uuid::from_bytes(*id),
        })
    }
}

fn clamp(micros: i64) -> i64 {
    micros.clamp(MIN_MICROS, MAX_MICROS)
}

/// Whether a time read from a client's token is one PostgreSQL can bind:
/// within its timestamp range, or one of the two infinities. Outside it
/// the statement would fail (22008), a 500 for a forged token.
pub(crate) fn time_in_range(micros: i64) -> bool {
    matches!(micros, i64::MIN | i64::MAX) || (MIN_MICROS..=MAX_MICROS).contains(&micros)
}

/// The history cursor's format byte.
const HISTORY_FORMAT: u8 = 1;

/// A position in one task's history: entries older than `before` (a seq)
/// follow. `[1][task id: 16][seq: 8]`, base64url.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HistoryCursor {
    pub task: Uuid,
    pub before: i64,
}

impl HistoryCursor {
    pub fn encode(&self) -> String {
        let mut bytes = Vec::with_capacity(25);
        bytes.push(HISTORY_FORMAT);
        bytes.extend_from_slice(self.task.as_bytes());
        bytes.extend_from_slice(&self.before.to_be_bytes());
        URL_SAFE_NO_PAD.encode(bytes)
    }

    pub fn decode(raw: &str) -> Option<Self> {
        let bytes = URL_SAFE_NO_PAD.decode(raw).ok()?;
        let (&[HISTORY_FORMAT], rest) = bytes.split_first_chunk::<1>()? else {
            return None;
        };
        let (task, before) = rest.split_first_chunk::<16>()?;
        let before: [u8; 8] = before.try_into().ok()?;
        Some(Self {
            task: Uuid::from_bytes(*task),
            before: i64::from_be_bytes(before),
        })
    }
}

impl<'a> FromSql<'a> for SortValue {
    fn from_sql(
        ty: &Type,
        raw: &'a [u8],
    ) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(match *ty {
            Type::TIMESTAMPTZ => Self::Time(i64::from_be_bytes(raw.try_into()?)),
            Type::INT2 => Self::Small(i16::from_be_bytes(raw.try_into()?)),
            _ => Self::Text(std::str::from_utf8(raw)?.to_owned()),
        })
    }

    fn accepts(ty: &Type) -> bool {
        matches!(*ty, Type::TIMESTAMPTZ | Type::INT2 | Type::TEXT)
    }
}

impl ToSql for SortValue {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut bytes::BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match (self, ty) {
            (Self::Time(micros), &Type::TIMESTAMPTZ) => {
                out.extend_from_slice(&micros.to_be_bytes())
            }
            (Self::Small(n), &Type::INT2) => out.extend_from_slice(&n.to_be_bytes()),
            (Self::Text(text), &Type::TEXT) => out.extend_from_slice(text.as_bytes()),
            _ => return Err(format!("a sort key {self:?} is not a {ty}").into()),
        }
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        <Self as FromSql>::accepts(ty)
    }

    to_sql_checked!();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cursor(sort: &str, key: SortValue) -> Cursor {
        Cursor {
            sort: Sort::parse(sort).unwrap(),
            fingerprint: Some(0x0123_4567_89ab_cdef),
            key,
            id: Uuid::now_v7(),
        }
    }

    #[test]
    fn cursors_round_trip_for_every_sort_and_reject_garbage() {
        for c in [
            cursor("-created_at", SortValue::Time(1_234_567)),
            cursor("updated_at", SortValue::Time(-5)),
            cursor("due_by", SortValue::Time(i64::MAX)),
            cursor("-due_by", SortValue::Time(i64::MIN)),
            cursor("priority", SortValue::Small(3)),
            cursor("-title", SortValue::Text("été ☃ i\u{307}".into())),
        ] {
            assert_eq!(Cursor::decode(&c.encode()).as_ref(), Some(&c));
            for bad in ["", "abc", "!!!!", &c.encode()[1..]] {
                assert_eq!(Cursor::decode(bad), None, "{bad}");
            }
            // A title key is as long as the title: only fixed-size keys
            // have a length to be wrong.
            if !matches!(c.key, SortValue::Text(_)) {
                let longer = format!("{}AA", c.encode());
                assert_eq!(Cursor::decode(&longer), None, "{longer}");
                let shorter = &c.encode()[..c.encode().len() - 2];
                assert_eq!(Cursor::decode(shorter), None, "{shorter}");
            }
        }
        let nul = cursor("title", SortValue::Text("a\0b".into()));
        assert_eq!(Cursor::decode(&nul.encode()), None);
        let empty = cursor("title", SortValue::Text(String::new()));
        assert_eq!(Cursor::decode(&empty.encode()), None);
        let mut unknown_sort = URL_SAFE_NO_PAD
            .decode(cursor("priority", SortValue::Small(1)).encode())
            .unwrap();
        unknown_sort[1] = 99;
        assert_eq!(Cursor::decode(&URL_SAFE_NO_PAD.encode(unknown_sort)), None);
    }

    #[test]
    fn a_first_format_cursor_is_a_position_in_the_default_order() {
        let id = Uuid::now_v7();
        let mut bytes = [0u8; 24];
        bytes[..8].copy_from_slice(&1_770_000_000_123_456i64.to_be_bytes());
        bytes[8..].copy_from_slice(id.as_bytes());
        let c = Cursor::decode(&URL_SAFE_NO_PAD.encode(bytes)).unwrap();
        assert_eq!(c.sort, Sort::default());
        assert_eq!(c.fingerprint, None);
        assert_eq!(
            c.key,
            SortValue::Time(1_770_000_000_123_456 - PG_EPOCH_UNIX_MICROS)
        );
        assert_eq!(c.id, id);
    }

    #[test]
    fn finite_times_are_clamped_to_years_1_to_9999_and_infinities_kept() {
        for (micros, expected) in [
            (i64::MIN + 1, MIN_MICROS),
            (-(1 << 62), MIN_MICROS),
            (1 << 62, MAX_MICROS),
            (i64::MAX - 1, MAX_MICROS),
            (i64::MAX, i64::MAX),
            (i64::MIN, i64::MIN),
        ] {
            let c = cursor("due_by", SortValue::Time(micros));
            let decoded = Cursor::decode(&c.encode()).unwrap();
            assert_eq!(decoded.key, SortValue::Time(expected), "{micros}");
        }
        // The first format clamps as it did.
        let mut bytes = [1u8; 24];
        bytes[..8].copy_from_slice(&i64::MAX.to_be_bytes());
        let c = Cursor::decode(&URL_SAFE_NO_PAD.encode(bytes)).unwrap();
        assert_eq!(c.key, SortValue::Time(MAX_MICROS));
    }

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let c = HistoryCursor {
            task: Uuid::now_v7(),
            before: 42,
        };
        assert_eq!(HistoryCursor::decode(&c.encode()), Some(c));
        let raw = c.encode();
        for bad in [
            "",
            "abc",
            "!!!",
            &raw[1..],
            &raw[..raw.len() - 2],
            &format!("{raw}AA"),
        ] {
            assert_eq!(HistoryCursor::decode(bad), None, "{bad}");
        }
    }
}
