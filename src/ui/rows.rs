//! The browser's rows without drawing them: search over file, speaker and labels, the status
//! filter, and sorting by any column (the review queue included).

use crate::annotation::AnnotationStore;
use crate::annotation::consensus::consensus;
use crate::annotation::queue::{QueueOrder, review_order_by};
use crate::jobs::scan::FileCheck;
use crate::project::{Collection, PassCombine, TraceScheme};

use super::engine::{Engine, Prediction};
use super::labelling::queue_items;
use super::problems::{FileProblem, HeaderCheck};

/// What the status column says about a recording.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    Reading,
    Unanalysed,
    Analysed,
    Failed,
    Broken,
    /// Labelled by the current annotator.
    Reviewed,
}

impl Status {
    pub const ALL: [Self; 5] = [
        Self::Reading,
        Self::Unanalysed,
        Self::Analysed,
        Self::Failed,
        Self::Broken,
    ];

    #[must_use]
    pub fn of(
        check: Option<&Result<FileCheck, FileProblem>>,
        prediction: Option<&Prediction>,
        reviewed: bool,
    ) -> Self {
        match (check, prediction) {
            (Some(Err(_)), _) => Self::Broken,
            _ if reviewed => Self::Reviewed,
            (_, Some(Prediction::Failed(_))) => Self::Failed,
            (_, Some(Prediction::Analysed { .. })) => Self::Analysed,
            (Some(Ok(_)), None) => Self::Unanalysed,
            (None, _) => Self::Reading,
        }
    }

    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Reading => "reading…",
            Self::Unanalysed => "unanalysed",
            Self::Analysed => "analysed",
            Self::Failed => "failed",
            Self::Broken => "broken",
            Self::Reviewed => "reviewed",
        }
    }
}

/// The column the browser is sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortColumn {
    #[default]
    Listed,
    Duration,
    Speaker,
    Label,
    Prediction,
    Status,
    /// Most worth a human look first (the review queue).
    Queue,
}

/// How the browser shows the collection: search text, status filter, sort column and direction.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BrowserView {
    pub search: String,
    pub status: Option<Status>,
    pub sort: SortColumn,
    pub descending: bool,
    /// Which order the review queue takes.
    pub queue_order: QueueOrder,
}

/// What a search can look at in one row.
struct Fields<'a> {
    file: &'a str,
    speaker: Option<&'a str>,
    split: Option<&'a str>,
    label: Option<&'a str>,
    predicted: Option<&'a str>,
    /// Every comment's text, lower-case (gathered only when the query asks for `comment:`).
    comments: Option<String>,
}

/// Every word of the (lower-case) query must match: `speaker:`, `split:`, `label:`, `predicted:`
/// and `comment:` words match that field (`comment:` alone: has a comment); other words match the
/// file, speaker or label.
fn matches_query(query: &str, fields: &Fields<'_>) -> bool {
    let has =
        |value: Option<&str>, word: &str| value.is_some_and(|v| v.to_lowercase().contains(word));
    query
        .split_whitespace()
        .all(|word| match word.split_once(':') {
            Some(("speaker", value)) => has(fields.speaker, value),
            Some(("split", value)) => has(fields.split, value),
            Some(("label" | "class", value)) => has(fields.label, value),
            Some(("predicted", value)) => has(fields.predicted, value),
            Some(("comment" | "comments", value)) => has(fields.comments.as_deref(), value),
            _ => {
                has(Some(fields.file), word) || has(fields.speaker, word) || has(fields.label, word)
            }
        })
}

/// Whether the current annotator has labelled recording `index`.
#[must_use]
pub fn is_reviewed(collection: &Collection, annotations: &AnnotationStore, index: usize) -> bool {
    let Some(me) = annotations.annotator() else {
        return false;
    };
    collection
        .recordings
        .get(index)
        .and_then(|r| annotations.label(&r.listed_path, me))
        .is_some_and(|l| !l.is_empty())
}

/// What the browser's row order depends on: the view, the predictions' generation, how many
/// headers are read, how many recordings there are, and the current annotator's journal position
/// (a label or comment edit changes what `label:`, `comment:` and the status filter find).
type RowsKey = (BrowserView, u64, usize, usize, Option<u64>);

/// Everything the row order is computed from.
pub struct RowSources<'a> {
    pub collection: &'a Collection,
    pub checks: &'a [HeaderCheck],
    pub annotations: &'a AnnotationStore,
    /// Where the predictions come from.
    pub engine: &'a Engine,
    /// The project's traceable dimensions and how passes combine (for the trace queue orders).
    pub traces: (&'a [TraceScheme], PassCombine),
}

/// The browser: how it shows the collection, and the rows that gives (kept until something they
/// depend on changes: filtering and sorting 100,000 rows is too slow for every frame).
#[derive(Default)]
pub struct Browser {
    pub view: BrowserView,
    rows: Vec<usize>,
    key: Option<RowsKey>,
}

impl Browser {
    /// The rows to show, in order (as of the last [`Browser::refresh`]).
    #[must_use]
    pub fn rows(&self) -> &[usize] {
        &self.rows
    }

    /// Recomputes the rows if anything they depend on changed.
    pub fn refresh(&mut self, sources: &RowSources<'_>) {
        let key = (
            self.view.clone(),
            sources.engine.predictions_generation(),
            sources.checks.iter().filter(|c| c.is_some()).count(),
            sources.collection.recordings.len(),
            sources.annotations.next_seq(),
        );
        if self.key.as_ref() != Some(&key) {
            self.rows = visible_rows(&self.view, sources);
            self.key = Some(key);
        }
    }
}

/// The rows to show, in order.
fn visible_rows(view: &BrowserView, sources: &RowSources<'_>) -> Vec<usize> {
    let RowSources {
        collection,
        checks,
        annotations,
        engine,
        traces,
    } = sources;
    let needle = view.search.to_lowercase();
    let recordings = &collection.recordings;
    let predictions = engine.predictions();
    let check = |i: usize| checks.get(i).and_then(Option::as_ref);
    let reviewed = |i: usize| is_reviewed(collection, annotations, i);
    let mut rows: Vec<usize> = (0..recordings.len())
        .filter(|&i| {
            let r = &recordings[i];
            if needle.is_empty() {
                return true;
            }
            let predicted = match &predictions[i] {
                Some(Prediction::Analysed { class, .. }) => Some(class.as_str()),
                _ => None,
            };
            let labels = annotations.labels_of(&r.listed_path);
            let label = labels
                .and_then(|by| consensus(by.values()).class)
                .or_else(|| r.reference.as_ref().and_then(|l| l.class.clone()));
            let comments = needle.contains("comment").then(|| {
                labels.map(|by| {
                    by.values()
                        .flat_map(|l| l.comments.iter().map(|c| c.text.to_lowercase()))
                        .collect::<Vec<_>>()
                        .join("\n")
                })
            });
            matches_query(
                &needle,
                &Fields {
                    file: &r.listed_path,
                    speaker: r.speaker.as_deref(),
                    split: r.split.as_deref(),
                    label: label.as_deref(),
                    predicted,
                    comments: comments.flatten().filter(|c| !c.is_empty()),
                },
            )
        })
        .filter(|&i| {
            view.status
                .is_none_or(|s| Status::of(check(i), predictions[i].as_ref(), reviewed(i)) == s)
        })
        .collect();
    let duration = |i: usize| {
        check(i)
            .and_then(|c| c.as_ref().ok()?.duration_secs())
            .unwrap_or(-1.0)
    };
    let confidence = |i: usize| match &predictions[i] {
        Some(Prediction::Analysed {
            class, confidence, ..
        }) => (class.clone(), *confidence),
        _ => (String::new(), -1.0),
    };
    match view.sort {
        SortColumn::Listed => {}
        SortColumn::Duration => rows.sort_by(|&a, &b| duration(a).total_cmp(&duration(b))),
        SortColumn::Speaker => rows.sort_by_key(|&i| recordings[i].speaker.clone()),
        SortColumn::Label => {
            rows.sort_by_key(|&i| {
                recordings[i]
                    .reference
                    .as_ref()
                    .and_then(|l| l.class.clone())
            });
        }
        SortColumn::Prediction => rows.sort_by(|&a, &b| {
            let ((ca, pa), (cb, pb)) = (confidence(a), confidence(b));
            ca.cmp(&cb).then(pa.total_cmp(&pb))
        }),
        SortColumn::Status => {
            rows.sort_by_key(|&i| Status::of(check(i), predictions[i].as_ref(), reviewed(i)));
        }
        SortColumn::Queue => {
            let items = queue_items(collection, annotations, &predictions, *traces);
            let order = review_order_by(&items, view.queue_order);
            let mut rank = vec![0; recordings.len()];
            for (position, &index) in order.iter().enumerate() {
                rank[index] = position;
            }
            rows.sort_by_key(|&i| rank[i]);
        }
    }
    if view.descending {
        rows.reverse();
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_words_filter_their_field_and_all_words_must_match() {
        let fields = Fields {
            file: "audio/sad_f1.flac",
            speaker: Some("f1"),
            split: Some("test"),
            label: Some("sad"),
            predicted: Some("angry"),
            comments: Some("is this laughter?\nno, a cough".into()),
        };
        assert!(matches_query("", &fields));
        assert!(matches_query("sad", &fields));
        assert!(matches_query("split:test predicted:angry", &fields));
        assert!(!matches_query("split:train", &fields));
        assert!(!matches_query("label:angry", &fields));
        assert!(matches_query("speaker:f1 flac", &fields));
        assert!(!matches_query("speaker:f1 mp3", &fields));
        assert!(matches_query("comment:cough", &fields));
        assert!(matches_query("comment:", &fields), "has a comment");
        assert!(!matches_query("comment:sneeze", &fields));
        let silent = Fields {
            comments: None,
            ..fields
        };
        assert!(!matches_query("comment:", &silent));
    }
}
