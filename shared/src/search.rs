//! The words a task is found by: the contract's "a word is a run of letters
//! and digits", ignoring case but not accents. One function makes both the
//! stored words (`title_words`, `description_words`) and the query's words,
//! so both sides split and lower-case alike, whatever the database's locale.

/// The longest word kept, in characters: the longest `q` is 200 characters,
/// so a cut word still matches every prefix a query can ask for, and 200
/// characters of at most 4 bytes stay under a tsvector lexeme's 2,046 bytes.
pub const MAX_WORD_CHARS: usize = 200;

/// `text`'s words in order of first appearance: runs of
/// `char::is_alphanumeric`, lower-cased by `str::to_lowercase` (Unicode
/// default lower-casing, accents kept), each cut to [`MAX_WORD_CHARS`],
/// without duplicates. Never an empty word (`array_to_tsvector` refuses one).
pub fn words(text: &str) -> Vec<String> {
    let mut words: Vec<String> = Vec::new();
    for run in text.split(|c: char| !c.is_alphanumeric()) {
        if run.is_empty() {
            continue;
        }
        let word: String = run.to_lowercase().chars().take(MAX_WORD_CHARS).collect();
        if !words.contains(&word) {
            words.push(word);
        }
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_on_everything_but_letters_and_digits() {
        assert_eq!(words("3.14"), ["3", "14"]);
        assert_eq!(words("foo@bar.com"), ["foo", "bar", "com"]);
        assert_eq!(words("e-mail co-op"), ["e", "mail", "co", "op"]);
        assert_eq!(words("snake_case don't"), ["snake", "case", "don", "t"]);
        assert_eq!(words("x—y a’b"), ["x", "y", "a", "b"]);
        assert_eq!(words("v2 q3 2026"), ["v2", "q3", "2026"]);
        assert_eq!(words("²nd ٣"), ["²nd", "٣"]);
    }

    #[test]
    fn lower_cases_and_keeps_accents() {
        assert_eq!(words("été"), ["été"]);
        assert_eq!(words("ÉTÉ"), ["été"]);
        assert_eq!(words("Ölwechsel ÉCOLE"), ["ölwechsel", "école"]);
        assert_eq!(words("Straße STRASSE"), ["straße", "strasse"]);
        assert_eq!(words("ΟΔΟΣ"), ["οδος"]);
        // `İ` lower-cases to two characters, `i` and a combining dot.
        assert_eq!(words("İ"), ["i\u{307}"]);
    }

    #[test]
    fn drops_empty_and_duplicate_words_keeping_the_first() {
        assert!(words("").is_empty());
        assert!(words("  -- ... !!").is_empty());
        assert_eq!(words("Buy milk, buy MILK now"), ["buy", "milk", "now"]);
    }

    #[test]
    fn cuts_each_word_to_200_characters() {
        let long = "É".repeat(250);
        let cut = words(&format!("{long} x"));
        assert_eq!(cut.len(), 2);
        assert_eq!(cut[0], "é".repeat(200));
        assert_eq!(cut[1], "x");
        // Two words that differ only after the cut are one word.
        let a = format!("{}a {}b", "w".repeat(200), "w".repeat(200));
        assert_eq!(words(&a), ["w".repeat(200)]);
    }

    #[test]
    fn a_decomposed_accent_splits_the_word() {
        // U+0301 is a mark, not a letter: as the contract's letter says.
        assert_eq!(words("e\u{301}te"), ["e", "te"]);
    }
}
