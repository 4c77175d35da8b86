//! The window's side of the analysis engine: one model session shared by background jobs that
//! analyse the open recording or the whole collection, through the analysis cache.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use crate::jobs::batch::{AnalyzeError, analyze_recording};
use crate::jobs::cache::{AnalysisCache, default_folder};
use crate::jobs::contain_panic;
use crate::jobs::model_choice::choose_model;
use crate::jobs::{Job, JobContext, JobPanicked, Notify, Progress};
use crate::model::analysis::{AnalysisParams, SignalAnalysis};
use crate::model::runtime::{self, RuntimeError, RuntimeLibrary};
use crate::model::session::model_digest;

pub use super::prediction::Prediction;
use crate::model::{MeritSession, ModelCard, Provider, SessionOptions};
use crate::project::Project;

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
}

type SharedSession = Arc<Mutex<Option<MeritSession>>>;
type AnalysisResult = Result<SignalAnalysis, AnalyzeError>;

/// What an analysis job needs from the engine: the shared session, the model, the cache, and
/// where predictions go.
struct JobWork {
    session: SharedSession,
    model: PathBuf,
    params: AnalysisParams,
    cache: Option<Arc<AnalysisCache>>,
    predictions: Arc<Mutex<Predictions>>,
}

impl JobWork {
    /// Analyses recording `index` (through the cache) and records its prediction.
    fn analyze(
        &self,
        index: usize,
        path: &Path,
        decoded: Option<&[f32]>,
        context: &JobContext,
    ) -> Result<SignalAnalysis, AnalyzeError> {
        let result = with_session(&self.session, &self.model, |session| {
            // One recording's bug must not end the collection job (nor poison the session).
            contain_panic(path, || {
                analyze_recording(
                    session,
                    path,
                    decoded,
                    &self.params,
                    self.cache.as_deref(),
                    Some(context.cancel_flag()),
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

pub struct Engine {
    pub model_path: PathBuf,
    session: SharedSession,
    pub status: Option<ModelStatus>,
    pub model_error: Option<Arc<EngineError>>,
    params: AnalysisParams,
    cache: Option<Arc<AnalysisCache>>,
    /// Analysis of one recording (by collection index).
    current: Option<(usize, Job<Result<SignalAnalysis, AnalyzeError>>)>,
    collection: Option<Job<()>>,
    /// Reading the cache's summaries of the collection (see [`Engine::recall_cached`]).
    recall: Option<Job<()>>,
    /// Per-recording predictions, filled in as the collection job goes.
    predictions: Arc<Mutex<Predictions>>,
}

/// Predictions by collection index, with a counter that changes whenever one does (so views that
/// sort by them know when to sort again).
#[derive(Debug, Default)]
struct Predictions {
    by_index: Vec<Option<Prediction>>,
    generation: u64,
    analysed: usize,
}

impl Predictions {
    fn set(&mut self, index: usize, prediction: Prediction) {
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
fn with_session<T>(
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

impl Engine {
    #[must_use]
    pub fn new(model_path: PathBuf, recordings: usize, cache: Option<PathBuf>) -> Self {
        Self {
            model_path,
            session: Arc::default(),
            status: None,
            model_error: None,
            params: AnalysisParams::default(),
            cache: cache.map(|folder| Arc::new(AnalysisCache::new(folder))),
            current: None,
            collection: None,
            recall: None,
            predictions: Arc::new(Mutex::new(Predictions {
                by_index: vec![None; recordings],
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
        let job = Job::spawn("analyse-recording", notify, move |context: &JobContext| {
            work.analyze(index, &path, decoded.as_deref(), context)
        });
        match job {
            Ok(job) => self.current = Some((index, job)),
            Err(error) => self.model_error = Some(Arc::new(EngineError::Spawn(error))),
        }
    }

    /// Analyses every recording in `paths` (collection order) in the background.
    pub fn analyze_all(&mut self, paths: Vec<PathBuf>, notify: Option<Notify>) {
        let work = self.job_work();
        let job = Job::spawn("analyse-collection", notify, move |context: &JobContext| {
            context.set_total(paths.len() as u64);
            for (index, path) in paths.iter().enumerate() {
                if context.is_cancelled() {
                    break;
                }
                // The prediction is recorded inside; the full analysis is not kept.
                let _ = work.analyze(index, path, None, context);
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
        move |index, path, context| work.analyze(index, path, None, context)
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

/// Why the window has no ONNX Runtime library.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeSearchError {
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    #[error(transparent)]
    Panicked(#[from] JobPanicked),
}

/// The window's engine part: the engine of the chosen model, what the choice is made from, and
/// the ONNX Runtime library (looked for in the background: it may ask the system's Python).
pub struct EngineState {
    pub engine: Engine,
    /// `None` while the search runs.
    pub runtime: Option<Result<RuntimeLibrary, RuntimeSearchError>>,
    runtime_job: Option<Job<Result<RuntimeLibrary, RuntimeError>>>,
    /// The model chosen on the command line or in the window, over the project's.
    model_override: Option<PathBuf>,
    cache_dir: Option<PathBuf>,
}

impl EngineState {
    #[must_use]
    pub fn new(notify: Option<Notify>) -> Self {
        let cache_dir = Engine::default_cache();
        let runtime_job = Job::spawn("runtime-discovery", notify, |_| runtime::locate());
        let runtime = match &runtime_job {
            Ok(_) => None,
            // No thread to search on: search here, once.
            Err(error) => {
                tracing::warn!("cannot search for ONNX Runtime in the background: {error}");
                Some(runtime::locate().map_err(Into::into))
            }
        };
        Self {
            engine: Engine::new(crate::model::shipped_model_path(), 0, cache_dir.clone()),
            runtime,
            runtime_job: runtime_job.ok(),
            model_override: None,
            cache_dir,
        }
    }

    /// A new engine for `project` (and its `recordings`): the model asked for, else the
    /// project's, else the shipped one.
    pub fn restart(&mut self, project: Option<&Project>, recordings: usize) {
        let model =
            choose_model(self.model_override.as_deref(), project).unwrap_or_else(|missing| {
                tracing::warn!("{missing}; using the shipped model");
                crate::model::shipped_model_path()
            });
        self.engine = Engine::new(model, recordings, self.cache_dir.clone());
    }

    /// Uses `model` from now on, over the project's.
    pub fn set_model(&mut self, model: PathBuf, project: Option<&Project>, recordings: usize) {
        self.model_override = Some(model);
        self.restart(project, recordings);
    }

    /// Uses the project's model from now on (over any chosen before).
    pub fn use_project_model(&mut self, project: Option<&Project>, recordings: usize) {
        self.model_override = None;
        self.restart(project, recordings);
    }

    /// Keeps analyses in `folder` (`None`: no cache).
    pub fn set_cache_dir(
        &mut self,
        folder: Option<PathBuf>,
        project: Option<&Project>,
        recordings: usize,
    ) {
        self.cache_dir = folder;
        self.restart(project, recordings);
    }

    /// Takes the runtime search's result once it is done.
    pub fn poll_runtime(&mut self) {
        if let Some(result) = self.runtime_job.as_mut().and_then(Job::try_take) {
            self.runtime_job = None;
            self.runtime = Some(match result {
                Ok(found) => found.map_err(Into::into),
                Err(panicked) => Err(panicked.into()),
            });
        }
    }

    #[must_use]
    pub fn is_busy(&self) -> bool {
        self.runtime_job.is_some() || self.engine.is_busy()
    }
}
