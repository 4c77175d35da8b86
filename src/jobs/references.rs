//! Speaker references for a collection analysed with a speaker-relative model. A recording's
//! reference is the mean statistics of its speaker's other recordings, so those recordings'
//! statistics come first: from the analysis cache's summary index where they were analysed before
//! (no audio read), else by analysing them without a reference (that analysis is cached too).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use super::batch::analyze_path;
use super::cache::AnalysisCache;
use crate::model::MeritSession;
use crate::model::analysis::AnalysisParams;
use crate::model::reference::{MIN_OTHER_RECORDINGS, SpeakerReference, SpeakerStatistics};
use crate::project::Collection;

/// The references of a collection's recordings, by path.
#[derive(Debug, Default)]
pub struct CollectionReferences {
    statistics: SpeakerStatistics<PathBuf>,
    speakers: HashMap<PathBuf, String>,
}

impl CollectionReferences {
    /// The reference of the recording at `path`, if its speaker has enough other recordings.
    #[must_use]
    pub fn for_path(&self, path: &Path) -> Option<SpeakerReference> {
        let speaker = self.speakers.get(path)?;
        self.statistics.reference_for(&path.to_path_buf(), speaker)
    }
}

/// The recordings whose statistics could make a reference: those of speakers with more than
/// [`MIN_OTHER_RECORDINGS`] recordings, in the given order.
fn recordings_needing_statistics(
    recordings: &[(PathBuf, Option<String>)],
) -> Vec<(PathBuf, String)> {
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for speaker in recordings.iter().filter_map(|(_, s)| s.as_deref()) {
        *counts.entry(speaker).or_default() += 1;
    }
    recordings
        .iter()
        .filter_map(|(path, speaker)| {
            let speaker = speaker.as_deref()?;
            (counts[speaker] > MIN_OTHER_RECORDINGS).then(|| (path.clone(), speaker.to_owned()))
        })
        .collect()
}

/// Where [`StatisticsPass::run`] may take a recording's statistics from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatisticsSource {
    /// The cache's summary index only: nothing is analysed (the window's open recording).
    Recalled,
    /// The summary index, else an analysis without a reference.
    RecalledOrAnalysed,
}

/// The statistics a collection's speaker references are made of, still to gather: those of the
/// recordings of speakers with enough recordings, and none for a model that is not
/// speaker-relative (its analyses have no statistics and take no reference).
pub struct StatisticsPass {
    recordings: Vec<(PathBuf, String)>,
}

impl StatisticsPass {
    /// The pass for `recordings` (path, speaker) and `session`'s model.
    #[must_use]
    pub fn plan(session: &MeritSession, recordings: &[(PathBuf, Option<String>)]) -> Self {
        Self {
            recordings: if session.statistics_size().is_some() {
                recordings_needing_statistics(recordings)
            } else {
                Vec::new()
            },
        }
    }

    /// How many recordings' statistics the pass gathers (one progress unit each).
    #[must_use]
    pub fn len(&self) -> usize {
        self.recordings.len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.recordings.is_empty()
    }

    /// Gathers the statistics, calling `progress` once per recording. A recording that cannot be
    /// analysed is left out (its error appears when it is analysed for its own results).
    pub fn run(
        self,
        session: &mut MeritSession,
        (params, cache): (&AnalysisParams, Option<&AnalysisCache>),
        source: StatisticsSource,
        cancel: Option<&AtomicBool>,
        mut progress: impl FnMut(),
    ) -> CollectionReferences {
        let mut references = CollectionReferences::default();
        if self.is_empty() {
            return references;
        }
        let paths: Vec<PathBuf> = self
            .recordings
            .iter()
            .map(|(path, _)| path.clone())
            .collect();
        let indexed = cache.map_or_else(
            || vec![None; paths.len()],
            |cache| cache.recall(session.model_hash(), params, &paths),
        );
        for ((path, speaker), summary) in self.recordings.into_iter().zip(indexed) {
            if cancel.is_some_and(|c| c.load(std::sync::atomic::Ordering::Relaxed)) {
                break;
            }
            let statistics = match summary.and_then(|s| s.statistics) {
                Some(statistics) => Some(statistics),
                None if source == StatisticsSource::Recalled => None,
                None => match analyze_path(session, &path, None, params, cache, cancel) {
                    Ok((analysis, _)) => analysis.statistics,
                    Err(error) => {
                        tracing::info!("no speaker statistics for {}: {error}", path.display());
                        None
                    }
                },
            };
            if let Some(statistics) = statistics {
                references
                    .statistics
                    .add(path.clone(), &speaker, statistics);
            }
            references.speakers.insert(path, speaker);
            progress();
        }
        references
    }
}

/// The references of a project's recordings (speakers from its manifests), for the commands that
/// analyse recordings of a project one by one.
pub fn collection_references(
    session: &mut MeritSession,
    collection: &Collection,
    params: &AnalysisParams,
    cache: Option<&AnalysisCache>,
) -> CollectionReferences {
    let recordings: Vec<(PathBuf, Option<String>)> = collection
        .recordings
        .iter()
        .filter(|r| !r.missing)
        .map(|r| (r.path.clone(), r.speaker.clone()))
        .collect();
    StatisticsPass::plan(session, &recordings).run(
        session,
        (params, cache),
        StatisticsSource::RecalledOrAnalysed,
        None,
        || {},
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_speakers_with_enough_recordings_need_statistics() {
        let recording =
            |path: &str, speaker: Option<&str>| (PathBuf::from(path), speaker.map(str::to_owned));
        let recordings = [
            recording("a1", Some("ann")),
            recording("b1", Some("bob")),
            recording("a2", Some("ann")),
            recording("x", None),
            recording("b2", Some("bob")),
            recording("a3", Some("ann")),
        ];
        let needed: Vec<String> = recordings_needing_statistics(&recordings)
            .into_iter()
            .map(|(path, _)| path.display().to_string())
            .collect();
        assert_eq!(needed, ["a1", "a2", "a3"]);
    }
}
