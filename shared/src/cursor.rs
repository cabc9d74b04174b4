//! The opaque listing cursor: a position in the newest-first order.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use uuid::Uuid;

/// A position in the newest-first order: list tasks strictly after it.
/// Opaque to clients: base64url of the creation time in microseconds and
/// the id, the same pair the index is sorted by.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Cursor {
    pub created_at: DateTime<Utc>,
    pub id: Uuid,
}

impl Cursor {
    pub fn encode(&self) -> String {
        let mut bytes = [0u8; 24];
        bytes[..8].copy_from_slice(&self.created_at.timestamp_micros().to_be_bytes());
        bytes[8..].copy_from_slice(self.id.as_bytes());
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// Any 24 bytes are a position. A time outside years 1–9999 is clamped
    /// there: PostgreSQL cannot compare with it, and no task lies beyond.
    pub fn decode(raw: &str) -> Option<Self> {
        const MIN_MICROS: i64 = -62_135_596_800_000_000; // 0001-01-01T00:00:00Z
        const MAX_MICROS: i64 = 253_402_300_799_999_999; // 9999-12-31T23:59:59.999999Z
        let bytes: [u8; 24] = URL_SAFE_NO_PAD.decode(raw).ok()?.try_into().ok()?;
        let micros = i64::from_be_bytes(bytes[..8].try_into().ok()?).clamp(MIN_MICROS, MAX_MICROS);
        Some(Self {
            created_at: DateTime::from_timestamp_micros(micros)?,
            id: Uuid::from_slice(&bytes[8..]).ok()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Datelike;

    #[test]
    fn cursor_round_trips_and_rejects_garbage() {
        let c = Cursor {
            created_at: DateTime::from_timestamp_micros(1_770_000_000_123_456).unwrap(),
            id: Uuid::now_v7(),
        };
        assert_eq!(Cursor::decode(&c.encode()), Some(c));
        for bad in [
            "",
            "abc",
            "!!!!",
            &c.encode()[1..],
            &format!("{}A", c.encode()),
        ] {
            assert_eq!(Cursor::decode(bad), None, "{bad}");
        }
    }

    #[test]
    fn any_24_bytes_are_a_position_within_years_1_to_9999() {
        for (micros, year) in [
            (i64::MIN, 1),
            (-(1 << 62), 1),
            (1 << 62, 9999),
            (i64::MAX, 9999),
        ] {
            let mut bytes = [1u8; 24];
            bytes[..8].copy_from_slice(&micros.to_be_bytes());
            let cursor = Cursor::decode(&URL_SAFE_NO_PAD.encode(bytes)).unwrap();
            assert_eq!(cursor.created_at.year(), year, "{micros}");
        }
    }
}
