//! The agreement part: how well the project's annotators agree, computed as a background job
//! from a snapshot of the journals (bootstrap intervals over thousands of recordings take a
//! while): the classes and attributes as `merit-studio agreement` reports them, and each traced
//! dimension's CCC, Krippendorff's and Cronbach's alpha, with the model's proxy trace scored
//! against the human mean on the traced recordings (analysed through the window's engine, so
//! cached analyses cost nothing).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::annotation::agreement::{AgreementReport, report};
use crate::annotation::trace::{
    ClassTrajectory, DimensionReport, Labelled, dimension_reports, traced_files,
};
use crate::annotation::{AnnotationStore, Label};
use crate::jobs::batch::AnalyzeError;
use crate::jobs::{Job, JobContext, JobPanicked, Notify, Progress};
use crate::model::analysis::SignalAnalysis;
use crate::project::Project;

/// The figures the agreement window shows.
#[derive(Debug, Clone)]
pub struct AgreementFigures {
    pub labels: AgreementReport,
    pub traces: BTreeMap<String, DimensionReport>,
    /// Traced recordings the model could not analyse (their proxy is left out).
    pub proxy_failures: usize,
}

/// What the agreement window asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgreementAction {
    Show(bool),
    /// Compute again from the journals as they are now.
    Recompute,
}

/// The window's agreement part.
#[derive(Default)]
pub struct AgreementState {
    pub open: bool,
    job: Option<Job<AgreementFigures>>,
    pub figures: Option<Result<AgreementFigures, JobPanicked>>,
}

impl AgreementState {
    /// Computes the figures of `project` from `store` as it is now, in the background;
    /// `recordings`: (collection index, listed name, path) of the collection; `analyse` analyses
    /// one of them on the job's thread (for the model proxy).
    pub fn start(
        &mut self,
        project: &Project,
        store: &AnnotationStore,
        recordings: Vec<(usize, String, PathBuf)>,
        analyse: impl Fn(usize, &Path, &JobContext) -> Result<SignalAnalysis, AnalyzeError>
        + Send
        + 'static,
        notify: Option<Notify>,
    ) {
        if let Some(job) = self.job.take() {
            job.cancel();
        }
        let project = project.clone();
        let snapshot: Vec<(String, BTreeMap<String, Label>)> = store
            .iter()
            .map(|(file, by)| (file.clone(), by.clone()))
            .collect();
        let job = Job::spawn("agreement", notify, move |context: &JobContext| {
            figures(&project, &snapshot, &recordings, &analyse, context)
        });
        match job {
            Ok(job) => self.job = Some(job),
            Err(error) => tracing::warn!("cannot compute agreement in the background: {error}"),
        }
    }

    /// Takes the figures once the job is done.
    pub fn poll(&mut self) {
        if let Some(result) = self.job.as_mut().and_then(Job::try_take) {
            self.job = None;
            self.figures = Some(result);
        }
    }

    #[must_use]
    pub fn progress(&self) -> Option<Progress> {
        self.job.as_ref().map(Job::progress)
    }

    #[must_use]
    pub fn is_busy(&self) -> bool {
        self.job.is_some()
    }
}

fn figures(
    project: &Project,
    snapshot: &[(String, BTreeMap<String, Label>)],
    recordings: &[(usize, String, PathBuf)],
    analyse: &impl Fn(usize, &Path, &JobContext) -> Result<SignalAnalysis, AnalyzeError>,
    context: &JobContext,
) -> AgreementFigures {
    let labelled: Vec<Labelled<'_>> = snapshot.iter().map(|(f, by)| (f.as_str(), by)).collect();
    let attributes = project.file.label_scheme.attribute_ids();
    let labels = report(snapshot.iter().map(|(_, by)| by), &attributes);
    let traced = traced_files(project, &labelled);
    context.set_total(traced.len() as u64);
    let mut trajectories = BTreeMap::new();
    let mut proxy_failures = 0;
    for (index, listed, path) in recordings {
        if context.is_cancelled() {
            break;
        }
        if traced.binary_search(listed).is_err() {
            continue;
        }
        match analyse(*index, path, context) {
            Ok(analysis) => {
                trajectories.insert(
                    listed.clone(),
                    ClassTrajectory {
                        classes: analysis.classes,
                        times_s: analysis.trajectory.times_s,
                        probs: analysis.trajectory.probs,
                    },
                );
            }
            Err(error) => {
                tracing::warn!("no model proxy for {listed}: {error}");
                proxy_failures += 1;
            }
        }
        context.advance(1);
    }
    AgreementFigures {
        labels,
        traces: dimension_reports(project, &labelled, None, Some(&trajectories)),
        proxy_failures,
    }
}
