//! The window's side of the analysis engine: one model session shared by background jobs that
//! analyse the open recording or the whole collection, through the analysis cache.

mod work;

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use work::{
    AnalysisResult, JobWork, LIVE_PROGRESS_UNITS, LiveAnalysis, Predictions, SharedSession, Voices,
    with_session,
};

use crate::jobs::batch::AnalyzeError;
use crate::jobs::cache::{AnalysisCache, default_folder};
use crate::jobs::references::StatisticsSource;
use crate::jobs::{Job, JobContext, JobPanicked, Notify, Progress};
use crate::model::analysis::{AnalysisParams, PartialAnalysis, SignalAnalysis};
use crate::model::reference::Voice;
use crate::model::session::model_digest;

pub use super::prediction::Prediction;
use crate::model::{ModelCard, Provider};

/// Why the window has no analysis of a recording.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("cannot start the analysis: {0}")]
    Spawn(std::io::Error),
    #[error(transparent)]
    Panicked(#[from] JobPanicked),
    #[error(transparent)]
    Analysis(#[from] AnalyzeError),
}

impl EngineError {
    /// Whether the analysis stopped because the user cancelled it (not a failure).
    #[must_use]
    pub fn is_cancelled(&self) -> bool {
        matches!(self, Self::Analysis(error) if error.is_cancelled())
    }
}

/// What the window knows about the loaded model.
#[derive(Debug, Clone)]
pub struct ModelStatus {
    pub card: ModelCard,
    pub provider: Provider,
    pub hash: String,
    /// The file that runs: the model chosen, or its CPU variant.
    pub running: PathBuf,
}

impl ModelStatus {
    /// Where and how the model runs, e.g. `CPU` or `CPU · int8`.
    #[must_use]
    pub fn runs_on(&self) -> String {
        let provider = self.provider.to_string().to_uppercase();
        match &self.card.precision {
            Some(precision) => format!("{provider} · {precision}"),
            None => provider,
        }
    }
}

pub struct Engine {
    pub model_path: PathBuf,
    session: SharedSession,
    pub status: Option<ModelStatus>,
    pub model_error: Option<Arc<EngineError>>,
    params: AnalysisParams,
    cache: Option<Arc<AnalysisCache>>,
    /// Analysis of one recording (by collection index), with its live part.
    current: Option<(usize, Job<Result<SignalAnalysis, AnalyzeError>>)>,
    live: Arc<LiveAnalysis>,
    collection: Option<Job<()>>,
    voices: Voices,
    /// Reading the cache's summaries of the collection (see [`Engine::recall_cached`]).
    recall: Option<Job<()>>,
    /// Per-recording predictions, filled in as the collection job goes.
    predictions: Arc<Mutex<Predictions>>,
}

impl Engine {
    /// An engine for a collection of `recordings` (path, voice), in collection order.
    #[must_use]
    pub fn new(
        model_path: PathBuf,
        recordings: Vec<(PathBuf, Voice)>,
        cache: Option<PathBuf>,
    ) -> Self {
        let count = recordings.len();
        Self {
            model_path,
            session: Arc::default(),
            status: None,
            model_error: None,
            params: AnalysisParams::default(),
            cache: cache.map(|folder| Arc::new(AnalysisCache::new(folder))),
            current: None,
            live: Arc::default(),
            collection: None,
            voices: recordings.into(),
            recall: None,
            predictions: Arc::new(Mutex::new(Predictions {
                by_index: vec![None; count],
                ..Predictions::default()
            })),
        }
    }

    /// The default analysis cache folder, shared with `merit-studio analyze`.
    #[must_use]
    pub fn default_cache() -> Option<PathBuf> {
        Some(default_folder())
    }

    /// Analyses recording `index` in the background; `decoded`, its 16 kHz signal when the window
    /// already has it, spares decoding the file again.
    pub fn analyze_one(
        &mut self,
        index: usize,
        path: PathBuf,
        decoded: Option<Arc<[f32]>>,
        notify: Option<Notify>,
    ) {
        let work = self.job_work();
        // A fresh live part, so nothing of an earlier recording's analysis shows for this one.
        self.live = Arc::default();
        let live = self.live.clone();
        let job = Job::spawn("analyse-recording", notify, move |context: &JobContext| {
            context.set_total(LIVE_PROGRESS_UNITS);
            work.analyze(
                (index, &path),
                decoded.as_deref(),
                None,
                context,
                Some(&live),
            )
        });
        match job {
            Ok(job) => self.current = Some((index, job)),
            Err(error) => self.model_error = Some(Arc::new(EngineError::Spawn(error))),
        }
    }

    /// Analyses every recording in `paths` (collection order) in the background; a
    /// speaker-relative model first gathers the statistics its speaker references are made of.
    pub fn analyze_all(&mut self, paths: Vec<PathBuf>, notify: Option<Notify>) {
        let work = self.job_work();
        let job = Job::spawn("analyse-collection", notify, move |context: &JobContext| {
            context.set_total(paths.len() as u64);
            let references = with_session(&work.session, &work.model, |session| {
                Ok(work.references(
                    session,
                    (StatisticsSource::RecalledOrAnalysed, None),
                    context,
                ))
            })
            .unwrap_or_default();
            for (index, path) in paths.iter().enumerate() {
                if context.is_cancelled() {
                    break;
                }
                // The prediction is recorded inside; the full analysis is not kept.
                let _ = work.analyze((index, path), None, Some(&references), context, None);
                context.advance(1);
            }
        });
        match job {
            Ok(job) => self.collection = Some(job),
            Err(error) => self.model_error = Some(Arc::new(EngineError::Spawn(error))),
        }
    }

    /// Analysis of one recording on another job's thread, with the shared session and the cache.
    pub fn analyser(
        &self,
    ) -> impl Fn(usize, &Path, &JobContext) -> AnalysisResult + Send + 'static {
        let work = self.job_work();
        move |index, path, context| work.analyze((index, path), None, None, context, None)
    }

    /// Shows what the analysis cache already knows of `paths` (unchanged files) without reading
    /// any audio, so a reopened project's browser has its predictions at once.
    pub fn recall_cached(&mut self, paths: Vec<PathBuf>, notify: Option<Notify>) {
        let (Some(cache), work) = (self.cache.clone(), self.job_work()) else {
            return;
        };
        let job = Job::spawn("recall-predictions", notify, move |_: &JobContext| {
            let Ok(model_hash) = model_digest(&work.model) else {
                return;
            };
            let found = cache.recall(&model_hash, &work.params, &paths);
            let mut predictions = work
                .predictions
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            for (index, summary) in found.into_iter().enumerate() {
                if let Some(summary) = summary
                    && predictions.by_index.get(index).is_some_and(Option::is_none)
                {
                    predictions.set(index, summary.into());
                }
            }
        });
        self.recall = job.ok();
    }

    fn job_work(&self) -> JobWork {
        JobWork {
            session: self.session.clone(),
            model: self.model_path.clone(),
            params: self.params,
            cache: self.cache.clone(),
            voices: self.voices.clone(),
            predictions: self.predictions.clone(),
        }
    }

    pub fn cancel(&mut self) {
        if let Some((_, job)) = &self.current {
            job.cancel();
        }
        if let Some(job) = &self.collection {
            job.cancel();
        }
    }

    /// Tells the running analysis of the open recording which span (seconds) the window shows,
    /// so that part is analysed first.
    pub fn set_focus(&self, span: Range<f64>) {
        *self
            .live
            .focus
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(span);
    }

    /// Takes the newest partial analysis of the recording being analysed ([`Engine::analysing`]).
    pub fn take_partial(&self) -> Option<PartialAnalysis> {
        self.live
            .partial
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }

    /// Takes a finished analysis of one recording: `(index, result)`.
    pub fn poll(&mut self) -> Option<(usize, Result<SignalAnalysis, Arc<EngineError>>)> {
        if self.collection.as_ref().is_some_and(Job::is_finished) {
            self.collection = None;
            self.refresh_status();
        }
        if self.recall.as_ref().is_some_and(Job::is_finished) {
            self.recall = None;
        }
        let (_, job) = self.current.as_mut()?;
        let result = job.try_take()?;
        let index = self.current.take().map_or(0, |(index, _)| index);
        self.refresh_status();
        let result = match result {
            Ok(Ok(analysis)) => Ok(analysis),
            Ok(Err(error)) => Err(Arc::new(EngineError::from(error))),
            Err(panicked) => Err(Arc::new(EngineError::from(panicked))),
        };
        if let Err(error) = &result
            && self.status.is_none()
            && !error.is_cancelled()
        {
            self.model_error = Some(error.clone());
        }
        Some((index, result))
    }

    fn refresh_status(&mut self) {
        if let Ok(guard) = self.session.try_lock()
            && let Some(session) = guard.as_ref()
        {
            self.status = Some(ModelStatus {
                card: session.card().clone(),
                provider: session.provider(),
                hash: session.model_hash().to_owned(),
                running: session.path().to_path_buf(),
            });
            self.model_error = None;
        }
    }

    fn locked_predictions(&self) -> std::sync::MutexGuard<'_, Predictions> {
        self.predictions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    #[must_use]
    pub fn prediction(&self, index: usize) -> Option<Prediction> {
        self.locked_predictions()
            .by_index
            .get(index)
            .cloned()
            .flatten()
    }

    /// All predictions, in collection order.
    #[must_use]
    pub fn predictions(&self) -> Vec<Option<Prediction>> {
        self.locked_predictions().by_index.clone()
    }

    /// Changes whenever a prediction does.
    #[must_use]
    pub fn predictions_generation(&self) -> u64 {
        self.locked_predictions().generation
    }

    /// How many recordings have a prediction (or a failure).
    #[must_use]
    pub fn analysed_count(&self) -> usize {
        self.locked_predictions().analysed
    }

    /// Whether recording `index` is being analysed on its own.
    #[must_use]
    pub fn analysing(&self) -> Option<usize> {
        self.current.as_ref().map(|(index, _)| *index)
    }

    /// Progress of the whole-collection analysis, while it runs.
    #[must_use]
    pub fn collection_progress(&self) -> Option<Progress> {
        self.collection.as_ref().map(Job::progress)
    }

    #[must_use]
    pub fn is_busy(&self) -> bool {
        self.current.is_some() || self.collection.is_some() || self.recall.is_some()
    }
}
