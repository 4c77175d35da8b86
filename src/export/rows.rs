//! The rows of an export: one per recording, the consensus or one annotator's label, and
//! speaker-disjoint seeded train/dev/test splits.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;

use crate::annotation::consensus::{Consensus, consensus};
use crate::annotation::{AnnotationStore, ClassSource, Comment, Label};
use crate::project::Collection;

use super::{ExportOptions, Selection};

/// How recordings are split into train/dev/test: by speaker (no speaker in two splits), seeded.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SplitPlan {
    pub dev: f64,
    pub test: f64,
    pub seed: u64,
}

/// What an export says about one recording.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExportRow {
    /// As the project lists it.
    pub file: String,
    pub path: PathBuf,
    pub speaker: Option<String>,
    pub gender: Option<String>,
    pub split: Option<String>,
    pub label: Option<String>,
    /// Votes as fractions (one annotator: 1.0 for their class).
    pub soft_label: BTreeMap<String, f64>,
    pub attributes: BTreeMap<String, f64>,
    /// human, accepted_model, or none.
    pub source: &'static str,
    pub annotators: Vec<String>,
    /// Each annotator's label (for the detailed and per-tier formats).
    #[serde(skip)]
    pub by_annotator: BTreeMap<String, Label>,
    /// Each selected annotator's comments on the recording, also of those who only commented
    /// (a reply is part of a thread though its writer labelled nothing).
    #[serde(skip)]
    pub comments: BTreeMap<String, Vec<Comment>>,
}

pub(super) fn source_of<'a>(labels: impl IntoIterator<Item = &'a Label>) -> &'static str {
    let mut any = false;
    let mut human = false;
    for label in labels {
        if label.class.is_some() {
            any = true;
            human |= label.source == ClassSource::Human;
        }
    }
    match (any, human) {
        (false, _) => "none",
        (true, true) => "human",
        (true, false) => "accepted_model",
    }
}

/// The rows an export writes, in collection order (labelled recordings only, unless asked).
#[must_use]
pub fn rows(
    collection: &Collection,
    store: &AnnotationStore,
    options: &ExportOptions,
) -> Vec<ExportRow> {
    let mut rows: Vec<ExportRow> = collection
        .recordings
        .iter()
        .filter_map(|recording| {
            let all = store
                .labels_of(&recording.listed_path)
                .cloned()
                .unwrap_or_default();
            let by_annotator: BTreeMap<String, Label> = match &options.selection {
                Selection::Consensus => all,
                Selection::Annotator(name) => {
                    all.into_iter().filter(|(who, _)| who == name).collect()
                }
            };
            let comments: BTreeMap<String, Vec<Comment>> = by_annotator
                .iter()
                .filter(|(_, l)| !l.comments.is_empty())
                .map(|(who, l)| (who.clone(), l.comments.clone()))
                .collect();
            let by_annotator: BTreeMap<String, Label> = by_annotator
                .into_iter()
                .map(|(who, mut label)| {
                    if options.human_only && label.source == ClassSource::AcceptedModel {
                        label.class = None;
                    }
                    (who, label)
                })
                .filter(|(_, l)| !l.is_empty())
                .collect();
            if by_annotator.is_empty() && !options.include_unlabelled {
                return None;
            }
            let summary = consensus(by_annotator.values());
            let soft_label = summary.distribution();
            let Consensus {
                class, attributes, ..
            } = summary;
            Some(ExportRow {
                file: recording.listed_path.clone(),
                path: recording.path.clone(),
                speaker: recording.speaker.clone(),
                gender: recording.gender.clone(),
                split: recording.split.clone(),
                label: class,
                soft_label,
                attributes,
                source: source_of(by_annotator.values()),
                annotators: by_annotator.keys().cloned().collect(),
                by_annotator,
                comments,
            })
        })
        .collect();
    if let Some(plan) = options.splits {
        assign_splits(&mut rows, plan);
    }
    rows
}

/// Speaker-disjoint train/dev/test: speakers (recordings without one count as their own speaker)
/// shuffled with `seed`, then dealt out until each split has its share of recordings.
pub fn assign_splits(rows: &mut [ExportRow], plan: SplitPlan) {
    let speaker_of = |row: &ExportRow| {
        row.speaker
            .clone()
            .unwrap_or_else(|| format!("\u{0}{}", row.file))
    };
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for row in rows.iter() {
        *counts.entry(speaker_of(row)).or_default() += 1;
    }
    let mut speakers: Vec<(String, usize)> = counts.into_iter().collect();
    fastrand::Rng::with_seed(plan.seed).shuffle(&mut speakers);
    let total = rows.len() as f64;
    let mut assigned: BTreeMap<String, &'static str> = BTreeMap::new();
    let (mut test, mut dev) = (0.0, 0.0);
    for (speaker, n) in speakers {
        let split = if test < plan.test * total {
            test += n as f64;
            "test"
        } else if dev < plan.dev * total {
            dev += n as f64;
            "dev"
        } else {
            "train"
        };
        assigned.insert(speaker, split);
    }
    for row in rows.iter_mut() {
        row.split = assigned.get(&speaker_of(row)).map(|s| (*s).to_owned());
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    fn row(file: &str, speaker: Option<&str>) -> ExportRow {
        ExportRow {
            file: file.into(),
            path: file.into(),
            speaker: speaker.map(Into::into),
            gender: None,
            split: None,
            label: None,
            soft_label: BTreeMap::new(),
            attributes: BTreeMap::new(),
            source: "none",
            annotators: Vec::new(),
            by_annotator: BTreeMap::new(),
            comments: BTreeMap::new(),
        }
    }

    #[test]
    fn splits_keep_speakers_apart_and_are_reproducible() {
        let mut rows: Vec<ExportRow> = (0..200)
            .map(|i| row(&format!("{i}.wav"), Some(&format!("spk{}", i % 20))))
            .collect();
        let plan = SplitPlan {
            dev: 0.1,
            test: 0.2,
            seed: 3,
        };
        assign_splits(&mut rows, plan);
        let mut by_speaker: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for r in &rows {
            by_speaker
                .entry(r.speaker.clone().unwrap())
                .or_default()
                .insert(r.split.clone().unwrap());
        }
        assert!(by_speaker.values().all(|splits| splits.len() == 1));
        let count = |name: &str| {
            rows.iter()
                .filter(|r| r.split.as_deref() == Some(name))
                .count()
        };
        assert_eq!((count("test"), count("dev"), count("train")), (40, 20, 140));
        let mut again: Vec<ExportRow> = rows
            .iter()
            .map(|r| row(&r.file, r.speaker.as_deref()))
            .collect();
        assign_splits(&mut again, plan);
        assert!(rows.iter().zip(&again).all(|(a, b)| a.split == b.split));
    }
}
