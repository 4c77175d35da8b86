//! Speaker references for a collection analysed with a speaker-relative model. A recording's
//! reference is the mean statistics of its speaker's other recordings, so those recordings'
//! statistics come first: from the analysis cache's summary index where they were analysed before
//! (no audio read), else by analysing them without a reference (that analysis is cached too). A
//! recording whose speaker has too few gets the model's reference of its gender, if both are known.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use super::batch::analyze_path;
use super::cache::AnalysisCache;
use crate::model::MeritSession;
use crate::model::analysis::AnalysisParams;
use crate::model::reference::{
    Gender, GenderReferences, MIN_OTHER_RECORDINGS, SpeakerReference, SpeakerStatistics, Voice,
};
use crate::project::{Collection, Recording};

/// The references of a collection's recordings, by path.
#[derive(Debug, Default)]
pub struct CollectionReferences {
    statistics: SpeakerStatistics<PathBuf>,
    speakers: HashMap<PathBuf, String>,
    genders: HashMap<PathBuf, Gender>,
    by_gender: GenderReferences,
}

impl CollectionReferences {
    /// The reference of the recording at `path`: its speaker's, if the speaker has enough other
    /// recordings, else its gender's, if the collection gives it and the model has one.
    #[must_use]
    pub fn for_path(&self, path: &Path) -> Option<SpeakerReference> {
        let by_speaker = self
            .speakers
            .get(path)
            .and_then(|speaker| self.statistics.reference_for(&path.to_path_buf(), speaker));
        by_speaker.or_else(|| self.by_gender.reference_for(*self.genders.get(path)?))
    }
}

/// The recordings whose statistics could make a reference: those of speakers with more than
/// [`MIN_OTHER_RECORDINGS`] recordings, in the given order.
fn recordings_needing_statistics(recordings: &[(PathBuf, Voice)]) -> Vec<(PathBuf, String)> {
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for (_, voice) in recordings {
        if let Some(speaker) = voice.speaker.as_deref() {
            *counts.entry(speaker).or_default() += 1;
        }
    }
    recordings
        .iter()
        .filter_map(|(path, voice)| {
            let speaker = voice.speaker.as_deref()?;
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
    genders: HashMap<PathBuf, Gender>,
}

impl StatisticsPass {
    /// The pass for `recordings` and `session`'s model.
    #[must_use]
    pub fn plan(session: &MeritSession, recordings: &[(PathBuf, Voice)]) -> Self {
        if session.statistics_size().is_none() {
            return Self {
                recordings: Vec::new(),
                genders: HashMap::new(),
            };
        }
        Self {
            recordings: recordings_needing_statistics(recordings),
            genders: recordings
                .iter()
                .filter_map(|(path, voice)| Some((path.clone(), voice.gender?)))
                .collect(),
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
        let mut references = CollectionReferences {
            genders: self.genders,
            by_gender: GenderReferences::from_card(&session.card().gender_references),
            ..CollectionReferences::default()
        };
        if self.recordings.is_empty() {
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

/// What the manifest says of a recording's voice.
#[must_use]
pub fn voice_of(recording: &Recording) -> Voice {
    Voice {
        speaker: recording.speaker.clone(),
        gender: recording.gender.as_deref().and_then(Gender::parse),
    }
}

/// Every recording's path and voice, in collection order; without the missing ones unless asked.
#[must_use]
pub fn collection_voices(collection: &Collection, with_missing: bool) -> Vec<(PathBuf, Voice)> {
    collection
        .recordings
        .iter()
        .filter(|r| with_missing || !r.missing)
        .map(|r| (r.path.clone(), voice_of(r)))
        .collect()
}

/// The references of a project's recordings (speakers from its manifests), for the commands that
/// analyse recordings of a project one by one.
pub fn collection_references(
    session: &mut MeritSession,
    collection: &Collection,
    params: &AnalysisParams,
    cache: Option<&AnalysisCache>,
) -> CollectionReferences {
    StatisticsPass::plan(session, &collection_voices(collection, false)).run(
        session,
        (params, cache),
        StatisticsSource::RecalledOrAnalysed,
        None,
        || {},
    )
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::model::reference::ReferenceNote;

    #[test]
    fn a_speaker_reference_comes_first_then_the_gender_reference() {
        let card = BTreeMap::from([("female".to_owned(), vec![5.0, 5.0])]);
        let mut references = CollectionReferences {
            by_gender: GenderReferences::from_card(&card),
            ..CollectionReferences::default()
        };
        for (path, values) in [("a1", 1.0), ("a2", 3.0), ("a3", 5.0)] {
            let path = PathBuf::from(path);
            references
                .statistics
                .add(path.clone(), "ann", vec![values; 2]);
            references.speakers.insert(path, "ann".into());
        }
        for (path, gender) in [
            ("a1", Gender::Female),
            ("b1", Gender::Female),
            ("c1", Gender::Male),
        ] {
            references.genders.insert(PathBuf::from(path), gender);
        }
        let reference = |path: &str| references.for_path(Path::new(path));
        // Ann has two other recordings: her own voice, though her gender is known too.
        let ann = reference("a1").unwrap();
        assert_eq!(ann.values, vec![4.0, 4.0]);
        assert!(matches!(
            ann.note(),
            ReferenceNote::Speaker { recordings: 2, .. }
        ));
        // No speaker: the gender's reference.
        let female = reference("b1").unwrap();
        assert_eq!(female.values, vec![5.0, 5.0]);
        assert_eq!(
            female.note(),
            ReferenceNote::Gender {
                gender: Gender::Female
            }
        );
        // The model has no reference for this gender, or nothing is known: the population's.
        assert!(reference("c1").is_none());
        assert!(reference("d1").is_none());
    }

    #[test]
    fn only_speakers_with_enough_recordings_need_statistics() {
        let recording = |path: &str, speaker: Option<&str>| {
            let voice = Voice {
                speaker: speaker.map(str::to_owned),
                gender: None,
            };
            (PathBuf::from(path), voice)
        };
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
