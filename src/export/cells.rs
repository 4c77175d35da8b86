//! CSV cells safe from spreadsheet formula injection, and back.

/// Neutralises spreadsheet formula injection: a text cell starting with `=`, `+`, `-`, `@`, tab or
/// carriage return gets a leading apostrophe (which spreadsheets show as text, not a formula).
#[must_use]
pub fn safe_cell(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_owned()
    }
}

/// Undoes [`safe_cell`] when reading our own CSVs back.
#[must_use]
pub fn unsafe_cell(text: &str) -> &str {
    match text.strip_prefix('\'') {
        Some(rest) if rest.starts_with(['=', '+', '-', '@', '\t', '\r']) => rest,
        _ => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_cells_are_neutralised_and_restored() {
        for text in ["=SUM(A1)", "+1", "-cmd", "@x", "\tx"] {
            let safe = safe_cell(text);
            assert!(safe.starts_with('\''));
            assert_eq!(unsafe_cell(&safe), text);
        }
        assert_eq!(safe_cell("angry, very"), "angry, very");
        assert_eq!(unsafe_cell("'quoted"), "'quoted");
    }
}
