//! The window's engine part: the engine of the chosen model, what the choice is made from, the
//! ONNX Runtime library search, and the open recording's analysis handed to its view.

use std::path::PathBuf;

use crate::jobs::model_choice::choose_model;
use crate::jobs::references::collection_voices;
use crate::jobs::{Job, JobPanicked, Notify};
use crate::model::runtime::{self, RuntimeError, RuntimeLibrary};
use crate::project::{Collection, Project};

use super::engine::Engine;
use super::recording::RecordingState;

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
            engine: Engine::new(
                crate::model::shipped_model_path(),
                Vec::new(),
                cache_dir.clone(),
            ),
            runtime,
            runtime_job: runtime_job.ok(),
            model_override: None,
            cache_dir,
        }
    }

    /// A new engine for `project` (and its `collection`): the model asked for, else the
    /// project's, else the shipped one.
    pub fn restart(&mut self, project: Option<&Project>, collection: &Collection) {
        let model =
            choose_model(self.model_override.as_deref(), project).unwrap_or_else(|missing| {
                tracing::warn!("{missing}; using the shipped model");
                crate::model::shipped_model_path()
            });
        self.engine = Engine::new(
            model,
            collection_voices(collection, true),
            self.cache_dir.clone(),
        );
    }

    /// Uses `model` from now on, over the project's.
    pub fn set_model(
        &mut self,
        model: PathBuf,
        project: Option<&Project>,
        collection: &Collection,
    ) {
        self.model_override = Some(model);
        self.restart(project, collection);
    }

    /// Uses the project's model from now on (over any chosen before).
    pub fn use_project_model(&mut self, project: Option<&Project>, collection: &Collection) {
        self.model_override = None;
        self.restart(project, collection);
    }

    /// Keeps analyses in `folder` (`None`: no cache).
    pub fn set_cache_dir(
        &mut self,
        folder: Option<PathBuf>,
        project: Option<&Project>,
        collection: &Collection,
    ) {
        self.cache_dir = folder;
        self.restart(project, collection);
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

    /// Hands the open recording its analysis: tells the running one which span the view shows,
    /// passes on the results so far, then the complete analysis (or why there is none). Returns
    /// whether a complete analysis arrived (its enhanced track is then ready to play).
    pub fn deliver_to(&mut self, recording: Option<&mut RecordingState>) -> bool {
        let Some(recording) = recording else {
            // Finished jobs are still collected (and the model's status refreshed).
            let _ = self.engine.poll();
            return false;
        };
        if self.engine.analysing() == Some(recording.index) {
            let timeline = &recording.timeline;
            self.engine.set_focus(timeline.start_s..timeline.end_s());
            if let Some(partial) = self.engine.take_partial() {
                recording.set_partial(partial);
            }
        }
        let Some((index, result)) = self.engine.poll() else {
            return false;
        };
        if recording.index != index {
            return false;
        }
        match result {
            Ok(analysis) => {
                let hash = self.engine.status.as_ref().map(|s| s.hash.clone());
                recording.set_analysis(analysis, hash);
                return true;
            }
            Err(error) if error.is_cancelled() => {
                tracing::info!("analysis of {} cancelled", recording.path.display());
            }
            Err(error) => {
                tracing::warn!("analysis failed: {error}");
                recording.analysis_error = Some(error);
            }
        }
        recording.partial = None;
        false
    }

    #[must_use]
    pub fn is_busy(&self) -> bool {
        self.runtime_job.is_some() || self.engine.is_busy()
    }
}
