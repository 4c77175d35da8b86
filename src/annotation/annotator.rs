//! Annotator names: the name a person signs their work with, in any script, stored NFC-normalised.
//!
//! The rule (documented in the README): after trimming and NFC normalisation, letters and digits
//! of any script (with their combining marks), spaces, apostrophes, hyphens, underscores and dots;
//! 1 to 64 characters and at most 200 bytes of UTF-8; no leading or trailing dot; not a device name
//! Windows reserves. Every such name is a safe file name on Linux, macOS and Windows, so a journal
//! is named after its annotator as is (`<name>.jsonl`, well under 255 bytes): the mapping is the
//! identity, trivially reversible, and journals of the older ASCII-only rule keep their names.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

use super::AnnotationError;

pub const MAX_CHARS: usize = 64;
/// `<name>.snapshot.json`, the longest file derived from a name, stays under 255 bytes.
pub const MAX_BYTES: usize = 200;

const RESERVED_ON_WINDOWS: [&str; 22] = [
    "con", "prn", "aux", "nul", "com1", "com2", "com3", "com4", "com5", "com6", "com7", "com8",
    "com9", "lpt1", "lpt2", "lpt3", "lpt4", "lpt5", "lpt6", "lpt7", "lpt8", "lpt9",
];

fn allowed(c: char) -> bool {
    c.is_alphanumeric() || is_combining_mark(c) || matches!(c, ' ' | '\'' | '’' | '-' | '_' | '.')
}

/// The name as stored: trimmed and NFC-normalised, if it follows the rule.
///
/// # Errors
/// [`AnnotationError::BadAnnotator`] with the name as given.
pub fn normalise_annotator(raw: &str) -> Result<String, AnnotationError> {
    let name: String = raw.trim().nfc().collect();
    let chars = name.chars().count();
    let valid = (1..=MAX_CHARS).contains(&chars)
        && name.len() <= MAX_BYTES
        && !name.starts_with('.')
        && !name.ends_with('.')
        && name.chars().all(allowed)
        && !RESERVED_ON_WINDOWS.contains(&name.to_lowercase().as_str());
    if valid {
        Ok(name)
    } else {
        Err(AnnotationError::BadAnnotator(raw.to_owned()))
    }
}

/// Whether two names would share a journal on a case-insensitive file system.
#[must_use]
pub fn same_but_for_case(a: &str, b: &str) -> bool {
    a != b && a.to_lowercase() == b.to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_in_any_script_are_stored_normalised() {
        assert_eq!(normalise_annotator("  zoë ").unwrap(), "zoë");
        // "e" + combining diaeresis becomes the precomposed "ë".
        assert_eq!(normalise_annotator("zoe\u{308}").unwrap(), "zoë");
        for name in [
            "José",
            "王芳",
            "O'Brien",
            "Anne-Marie D. Smith",
            "देवनागरी",
            "Ελένη",
            "alice_2",
            "a.b",
        ] {
            assert_eq!(normalise_annotator(name).unwrap(), name, "{name}");
        }
    }

    #[test]
    fn names_that_would_make_bad_file_names_are_refused() {
        let too_long = "a".repeat(MAX_CHARS + 1);
        let too_many_bytes = "𠀀".repeat(MAX_CHARS);
        for name in [
            "",
            "   ",
            "no/slashes",
            "back\\slash",
            "tab\there",
            "line\nbreak",
            ".hidden",
            "trailing.",
            "nul",
            "COM1",
            "a:b",
            "a*b",
            "bell\u{7}",
            &too_long,
            &too_many_bytes,
        ] {
            assert!(
                matches!(
                    normalise_annotator(name),
                    Err(AnnotationError::BadAnnotator(_))
                ),
                "{name:?}"
            );
        }
    }

    #[test]
    fn case_twins_are_recognised() {
        assert!(same_but_for_case("Zoë", "zoë"));
        assert!(!same_but_for_case("zoë", "zoë"));
        assert!(!same_but_for_case("zoë", "zoe"));
    }
}
