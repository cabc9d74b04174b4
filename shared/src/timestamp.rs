//! Timestamps as the API writes them: RFC 3339, UTC, six fraction digits,
//! `Z` — written at fixed width (two per task, the hot path of a list).

use chrono::{DateTime, Datelike, SecondsFormat, Timelike, Utc};

/// `2026-02-03T12:00:00.123456Z`: always six digits, always `Z`.
pub struct Rfc3339Micros(pub DateTime<Utc>);

impl Rfc3339Micros {
    /// Appends the text (without quotes: it never needs escaping in JSON).
    pub fn write(&self, out: &mut String) {
        match self.fixed_width() {
            Some(text) => out.push_str(text.as_str()),
            None => out.push_str(&self.0.to_rfc3339_opts(SecondsFormat::Micros, true)),
        }
    }

    /// The text at fixed width, for years 0–9999 outside leap seconds;
    /// `None` for the rest, which chrono writes itself.
    fn fixed_width(&self) -> Option<FixedWidth> {
        let t = self.0.naive_utc(); // once: each field of a DateTime converts again
        let micros = t.nanosecond() / 1000;
        if !(0..=9999).contains(&t.year()) || micros > 999_999 {
            return None;
        }
        // Chrono's fields written at fixed width into a buffer on the stack,
        // not `to_rfc3339_opts` (a String and the formatting machinery):
        // a tenth of a list's instructions (measured in 9b317bd).
        let mut text = *b"0000-00-00T00:00:00.000000Z";
        for (range, value) in [
            (0..4, t.year().unsigned_abs()),
            (5..7, t.month()),
            (8..10, t.day()),
            (11..13, t.hour()),
            (14..16, t.minute()),
            (17..19, t.second()),
            (20..26, micros),
        ] {
            let mut value = value;
            for digit in text[range].iter_mut().rev() {
                *digit = b'0' + (value % 10) as u8;
                value /= 10;
            }
        }
        Some(FixedWidth(text))
    }
}

#[cfg(test)]
impl Rfc3339Micros {
    /// The text on its own (tests here and the task writer's reference).
    pub(crate) fn text(&self) -> String {
        let mut out = String::new();
        self.write(&mut out);
        out
    }
}

/// `YYYY-MM-DDTHH:MM:SS.ffffffZ`: digits and ASCII punctuation only.
struct FixedWidth([u8; 27]);

impl FixedWidth {
    fn as_str(&self) -> &str {
        debug_assert!(self.0.is_ascii());
        // SAFETY: `fixed_width` writes ASCII digits into an ASCII template,
        // so the bytes are UTF-8. (Checking took a third as many
        // instructions as writing: two timestamps per task in a list.)
        unsafe { std::str::from_utf8_unchecked(&self.0) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_have_six_digits_and_z() {
        for (micros, text) in [
            (1_770_120_000_000_000, "2026-02-03T12:00:00.000000Z"),
            (1_770_120_000_123_456, "2026-02-03T12:00:00.123456Z"),
            (-62_135_596_800_000_000, "0001-01-01T00:00:00.000000Z"),
        ] {
            let t = DateTime::from_timestamp_micros(micros).unwrap();
            let json = Rfc3339Micros(t).text();
            assert_eq!(json, text);
        }
    }

    /// The fixed-width writer says what chrono says, from PostgreSQL's
    /// first timestamp (4713 BC) to chrono's last (outside years 0–9999
    /// chrono itself writes the text).
    #[test]
    fn timestamps_are_written_as_chrono_writes_them() {
        let (first, last) = (
            -210_866_803_200_000_000_i64,
            DateTime::<Utc>::MAX_UTC.timestamp_micros(),
        );
        let step = last / 200_003 - first / 200_003;
        let edges = [
            -62_167_219_200_000_001, // 0000-01-01 minus 1 µs
            -62_167_219_200_000_000, // 0000-01-01
            253_402_300_799_999_999, // 9999-12-31T23:59:59.999999
            253_402_300_800_000_000, // 10000-01-01
            951_782_400_000_000,     // 2000-02-29
            0,
        ];
        for micros in (0..=200_003)
            .map(|i| first + i * step + i % 1_000_000)
            .chain(edges)
        {
            let t = DateTime::from_timestamp_micros(micros).unwrap();
            let json = Rfc3339Micros(t).text();
            assert_eq!(
                json,
                t.to_rfc3339_opts(SecondsFormat::Micros, true),
                "{micros}"
            );
        }
    }
}
