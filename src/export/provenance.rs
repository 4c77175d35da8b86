//! Who made an export, from what, and when: the record written beside every export.

use std::collections::BTreeSet;
use std::path::PathBuf;

use serde::Serialize;

use crate::project::Project;

use super::{ExportRow, Format, Selection};

/// Who made an export, from what, and when: written beside every export.
#[derive(Debug, Clone, Serialize)]
pub struct Provenance {
    pub project: String,
    pub project_root: PathBuf,
    pub format: String,
    pub selection: String,
    pub annotators: Vec<String>,
    pub model_hash: Option<String>,
    /// UTC, ISO 8601.
    pub exported_at: String,
    pub studio_version: String,
    pub recordings: usize,
}

/// Now, as ISO 8601 in UTC, to the second.
pub(super) fn now_iso8601() -> String {
    exported_at(jiff::Timestamp::now())
}

/// `ms` milliseconds since the Unix epoch as ISO 8601 in UTC, to the second (a comment's time).
pub(super) fn iso8601_from_ms(ms: u64) -> String {
    i64::try_from(ms)
        .ok()
        .and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok())
        .map_or_else(|| format!("{ms} ms since 1970"), exported_at)
}

/// `at` as ISO 8601 in UTC, to the second (`2026-11-26T16:14:34Z`).
fn exported_at(at: jiff::Timestamp) -> String {
    at.round(jiff::Unit::Second)
        .map_or_else(|_| at.to_string(), |rounded| rounded.to_string())
}

/// The provenance record for an export of `rows`.
#[must_use]
pub fn provenance(
    project: &Project,
    rows: &[ExportRow],
    format: Format,
    selection: &Selection,
    model_hash: Option<String>,
) -> Provenance {
    let annotators: BTreeSet<String> = rows
        .iter()
        .flat_map(|r| r.annotators.iter().cloned())
        .collect();
    Provenance {
        project: project.file.name.clone(),
        project_root: project.root.clone(),
        format: format!("{format:?}").to_lowercase(),
        selection: match selection {
            Selection::Consensus => "consensus".into(),
            Selection::Annotator(name) => format!("annotator {name}"),
        },
        annotators: annotators.into_iter().collect(),
        model_hash,
        exported_at: now_iso8601(),
        studio_version: env!("CARGO_PKG_VERSION").into(),
        recordings: rows.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_read_as_iso_8601() {
        let at = |seconds| exported_at(jiff::Timestamp::from_second(seconds).unwrap());
        assert_eq!(at(0), "1970-01-01T00:00:00Z");
        assert_eq!(at(1_795_709_674), "2026-11-26T16:14:34Z");
        assert_eq!(at(951_782_400), "2000-02-29T00:00:00Z");
    }
}
