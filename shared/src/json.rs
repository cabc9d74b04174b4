//! JSON text written straight into a buffer where building serde_json's
//! tree first would cost more than the text itself (a task, a log line).

use std::fmt::Write;

/// `text` as a JSON string. Text without a quote, backslash or control
/// character (most titles, ids and log fields) is copied between quotes;
/// the rest takes serde_json's escaper, whose output this is in both cases.
pub fn write_string(out: &mut impl Write, text: &str) -> std::fmt::Result {
    let plain = text.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\');
    if plain {
        out.write_char('"')?;
        out.write_str(text)?;
        return out.write_char('"');
    }
    // Serialising a `str` cannot fail.
    out.write_str(&serde_json::to_string(text).map_err(|_| std::fmt::Error)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_what_serde_json_writes() {
        for text in [
            "",
            "plain",
            "a\"b",
            "back\\slash",
            "line\nbreak",
            "\u{1b}[31m",
            "\u{7f}é😀",
            "\t\r\u{0}",
        ] {
            let mut out = String::new();
            write_string(&mut out, text).unwrap();
            assert_eq!(out, serde_json::to_string(text).unwrap(), "{text:?}");
        }
    }
}
