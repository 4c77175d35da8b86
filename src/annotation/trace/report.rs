//! Agreement of a project's traces, one report per traced dimension (what `agreement` prints and
//! the window's agreement view shows), and of one recording's (the trace pane's line). The model
//! proxy is scored against the human mean only where the caller hands over the model's class
//! trajectories: running the model is the caller's business (the CLI analyses, the window uses
//! its engine), so this stays pure.

use std::collections::BTreeMap;

use super::{
    TraceAgreement, TraceSeries, ccc, human_mean, mean_pairwise_ccc, pair_cccs, proxy_series,
    recording_series, trace_agreement,
};
use crate::annotation::Label;
use crate::project::{PassCombine, Project, TraceScheme};

/// A recording as the store lists it: its name and its labels by annotator.
pub type Labelled<'a> = (&'a str, &'a BTreeMap<String, Label>);

/// The model's class trajectory of one recording: class names, frame times, and each frame's
/// probabilities over the classes.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassTrajectory {
    pub classes: Vec<String>,
    pub times_s: Vec<f64>,
    pub probs: Vec<Vec<f32>>,
}

/// Agreement of one traced dimension, with the model proxy's CCC against the human mean.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DimensionReport {
    #[serde(flatten)]
    pub agreement: TraceAgreement,
    /// Mean over recordings of the CCC between the model's proxy trace and the human mean (a
    /// circumplex stand-in, not a model output); only when trajectories were handed over.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model_proxy_ccc: Option<f64>,
}

/// Every recording's traces of `scheme`'s dimension, by annotator, with its listed name, in name
/// order (recordings nobody traced are left out).
fn traced(
    labelled: &[Labelled<'_>],
    scheme: &TraceScheme,
    combine: PassCombine,
) -> Vec<(String, BTreeMap<String, TraceSeries>)> {
    let mut recordings: Vec<(String, BTreeMap<String, TraceSeries>)> = labelled
        .iter()
        .map(|&(file, by)| {
            let series = recording_series(by, &scheme.dimension, combine, scheme.rate_hz);
            (file.to_owned(), series)
        })
        .filter(|(_, series)| !series.is_empty())
        .collect();
    recordings.sort_by(|a, b| a.0.cmp(&b.0));
    recordings
}

/// The recordings anyone traced in any of `project`'s dimensions (whose trajectories the proxy
/// needs), in name order.
#[must_use]
pub fn traced_files(project: &Project, labelled: &[Labelled<'_>]) -> Vec<String> {
    let combine = project.file.traces.combine;
    let mut files: Vec<String> = project
        .file
        .traces
        .schemes(&project.file.label_scheme)
        .iter()
        .flat_map(|scheme| {
            traced(labelled, scheme, combine)
                .into_iter()
                .map(|(f, _)| f)
        })
        .collect();
    files.sort();
    files.dedup();
    files
}

/// Agreement of every traced dimension of `project` (dimensions nobody traced are left out);
/// `max_lag_s` adds the lag-compensated CCC, `trajectories` (by listed name) the model proxy.
#[must_use]
pub fn dimension_reports(
    project: &Project,
    labelled: &[Labelled<'_>],
    max_lag_s: Option<f64>,
    trajectories: Option<&BTreeMap<String, ClassTrajectory>>,
) -> BTreeMap<String, DimensionReport> {
    let combine = project.file.traces.combine;
    let mut reports = BTreeMap::new();
    for scheme in project.file.traces.schemes(&project.file.label_scheme) {
        let recordings = traced(labelled, &scheme, combine);
        if recordings.is_empty() {
            continue;
        }
        let series: Vec<BTreeMap<String, TraceSeries>> =
            recordings.iter().map(|(_, s)| s.clone()).collect();
        let agreement = trace_agreement(&series, scheme.rate_hz, max_lag_s);
        let model_proxy_ccc = trajectories.and_then(|found| {
            let scores: Vec<f64> = recordings
                .iter()
                .filter_map(|(file, by)| {
                    let proxy = model_proxy(found.get(file)?, &scheme)?;
                    proxy_ccc(&proxy, &human_mean(by, scheme.rate_hz)?)
                })
                .collect();
            (!scores.is_empty()).then(|| scores.iter().sum::<f64>() / scores.len() as f64)
        });
        reports.insert(
            scheme.dimension.clone(),
            DimensionReport {
                agreement,
                model_proxy_ccc,
            },
        );
    }
    reports
}

/// The model's proxy trace of `scheme`'s dimension from its class trajectory.
#[must_use]
pub fn model_proxy(trajectory: &ClassTrajectory, scheme: &TraceScheme) -> Option<TraceSeries> {
    proxy_series(
        &trajectory.classes,
        &trajectory.times_s,
        &trajectory.probs,
        &scheme.dimension,
        scheme.range(),
        scheme.rate_hz,
    )
}

/// CCC of the proxy against the human mean over the frames both cover.
#[must_use]
pub fn proxy_ccc(model: &TraceSeries, human: &TraceSeries) -> Option<f64> {
    let (x, y): (Vec<f64>, Vec<f64>) = (0..human.values.len())
        .filter_map(|i| {
            let h = human.values[i];
            let m = model.value_at(human.time_s(i))?;
            h.is_finite().then_some((m, h))
        })
        .unzip();
    ccc(&x, &y)
}

/// How the annotators of one recording agree on one dimension.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RecordingAgreement {
    /// Everyone who kept a pass of the dimension.
    pub annotators: Vec<String>,
    /// CCC of each pair over the frames both traced.
    pub pairs: Vec<(String, String, Option<f64>)>,
    pub mean_pairwise: Option<f64>,
    /// CCC of the model's proxy against the human mean.
    pub proxy: Option<f64>,
}

/// Agreement on `scheme`'s dimension in one recording (`labels`: its labels by annotator);
/// `proxy`, the model's proxy trace when the recording is analysed.
#[must_use]
pub fn recording_agreement(
    labels: &BTreeMap<String, Label>,
    scheme: &TraceScheme,
    combine: PassCombine,
    proxy: Option<&TraceSeries>,
) -> RecordingAgreement {
    let by = recording_series(labels, &scheme.dimension, combine, scheme.rate_hz);
    RecordingAgreement {
        annotators: by.keys().cloned().collect(),
        pairs: pair_cccs(&by),
        mean_pairwise: mean_pairwise_ccc(&by),
        proxy: proxy
            .zip(human_mean(&by, scheme.rate_hz))
            .and_then(|(model, human)| proxy_ccc(model, &human)),
    }
}
