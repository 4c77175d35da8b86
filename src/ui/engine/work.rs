//! The engine's analysis jobs: what each needs (the shared session, the cache, the collection's
//! speakers), the open recording's live part, and the predictions they record.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use super::Prediction;
use crate::jobs::JobContext;
use crate::jobs::batch::{AnalyzeError, Recording, analyze_recording};
use crate::jobs::cache::AnalysisCache;
use crate::jobs::contain_panic;
use crate::jobs::references::{CollectionReferences, StatisticsPass, StatisticsSource};
use crate::model::analysis::{AnalysisParams, PartialAnalysis, SignalAnalysis, Steering};
use crate::model::reference::Voice;
use crate::model::{MeritSession, SessionOptions};

pub(super) type SharedSession = Arc<Mutex<Option<MeritSession>>>;
pub(super) type AnalysisResult = Result<SignalAnalysis, AnalyzeError>;

/// The collection's recordings (path, voice) by index: a speaker-relative model's references
/// come from the same speaker's other recordings, or from the gender.
pub(super) type Voices = Arc<[(PathBuf, Voice)]>;

/// What an analysis job needs from the engine: the shared session, the model, the cache, the
/// collection's voices, and where predictions go.
pub(super) struct JobWork {
    pub(super) session: SharedSession,
    pub(super) model: PathBuf,
    pub(super) params: AnalysisParams,
    pub(super) cache: Option<Arc<AnalysisCache>>,
    pub(super) voices: Voices,
    pub(super) predictions: Arc<Mutex<Predictions>>,
}

impl JobWork {
    /// The speaker references of the collection (of the recording at `index` alone: its
    /// speaker's), for a speaker-relative model: from the cache's summaries, analysing (without a
    /// reference) the recordings it lacks when `source` says so.
    pub(super) fn references(
        &self,
        session: &mut MeritSession,
        (source, index): (StatisticsSource, Option<usize>),
        context: &JobContext,
    ) -> CollectionReferences {
        let speaker = index
            .and_then(|i| self.voices.get(i))
            .map(|(_, voice)| &voice.speaker);
        let recordings: Vec<(PathBuf, Voice)> = self
            .voices
            .iter()
            .filter(|(_, voice)| speaker.is_none_or(|speaker| voice.speaker == *speaker))
            .cloned()
            .collect();
        StatisticsPass::plan(session, &recordings).run(
            session,
            (&self.params, self.cache.as_deref()),
            source,
            Some(context.cancel_flag()),
            || {},
        )
    }

    /// Analyses recording `index` (through the cache) against its speaker reference from
    /// `references`, or from the cache's summaries without them, and records its prediction;
    /// with `live`, the part in view first and the results so far handed over as they come.
    pub(super) fn analyze(
        &self,
        (index, path): (usize, &Path),
        decoded: Option<&[f32]>,
        references: Option<&CollectionReferences>,
        context: &JobContext,
        live: Option<&LiveAnalysis>,
    ) -> Result<SignalAnalysis, AnalyzeError> {
        let result = with_session(&self.session, &self.model, |session| {
            let recalled;
            let references = match references {
                Some(references) => references,
                None => {
                    recalled = self.references(
                        session,
                        (StatisticsSource::Recalled, Some(index)),
                        context,
                    );
                    &recalled
                }
            };
            let reference = references.for_path(path);
            let recording = Recording {
                path,
                decoded,
                reference: reference.as_ref(),
            };
            // One recording's bug must not end the collection job (nor poison the session).
            contain_panic(path, || {
                let focus = || live.and_then(LiveAnalysis::focus);
                let mut hand_over = |partial: PartialAnalysis| {
                    if let Some(live) = live {
                        live.hand_over(partial, context);
                    }
                };
                let steering = Steering {
                    cancel: Some(context.cancel_flag()),
                    focus: live.is_some().then_some(&focus as _),
                    partial: live.is_some().then_some(&mut hand_over as _),
                    partial_every: PARTIAL_EVERY,
                };
                analyze_recording(
                    session,
                    &recording,
                    &self.params,
                    self.cache.as_deref(),
                    steering,
                )
            })
            .unwrap_or_else(|panicked| Err(AnalyzeError::Internal(panicked)))
            .map(|(analysis, _)| analysis)
        });
        if let Some(prediction) = Prediction::of(&result) {
            self.predictions
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .set(index, prediction);
        }
        result
    }
}

/// The open recording's analysis while it runs: the span the window shows (analysed first) and
/// the results so far, until the window takes them.
#[derive(Default)]
pub(super) struct LiveAnalysis {
    pub(super) focus: Mutex<Option<Range<f64>>>,
    pub(super) partial: Mutex<Option<PartialAnalysis>>,
}

/// The open recording's results so far reach the window at most this often: a fast model's
/// analysis is done before the first, a slow one's long recording shows as it goes.
pub(super) const PARTIAL_EVERY: Duration = Duration::from_millis(500);

/// Progress units of the open recording's analysis (a partial result reports its fraction).
pub(super) const LIVE_PROGRESS_UNITS: u64 = 1_000;

impl LiveAnalysis {
    pub(super) fn focus(&self) -> Option<Range<f64>> {
        self.focus
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub(super) fn hand_over(&self, partial: PartialAnalysis, context: &JobContext) {
        let units = (partial.done_fraction * LIVE_PROGRESS_UNITS as f64) as u64;
        *self.partial.lock().unwrap_or_else(PoisonError::into_inner) = Some(partial);
        // The job's progress is the fraction done; setting it also wakes the window.
        context.set_done(units);
    }
}

/// Predictions by collection index, with a counter that changes whenever one does (so views that
/// sort by them know when to sort again).
#[derive(Debug, Default)]
pub(super) struct Predictions {
    pub(super) by_index: Vec<Option<Prediction>>,
    pub(super) generation: u64,
    pub(super) analysed: usize,
}

impl Predictions {
    pub(super) fn set(&mut self, index: usize, prediction: Prediction) {
        if let Some(slot) = self.by_index.get_mut(index) {
            if slot.is_none() {
                self.analysed += 1;
            }
            *slot = Some(prediction);
            self.generation += 1;
        }
    }
}

/// Runs `work` with the session, loading the model first if needed.
pub(super) fn with_session<T>(
    session: &SharedSession,
    model: &Path,
    work: impl FnOnce(&mut MeritSession) -> Result<T, AnalyzeError>,
) -> Result<T, AnalyzeError> {
    let mut guard = session.lock().unwrap_or_else(PoisonError::into_inner);
    let session = match &mut *guard {
        Some(loaded) => loaded,
        None => guard.insert(MeritSession::load(model, SessionOptions::default())?),
    };
    work(session)
}
