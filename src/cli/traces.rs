//! The trace parts of `merit-studio agreement` and `merit-studio import`: agreement per traced
//! dimension (with the model's proxy trace scored against the human mean when asked), and trace
//! files (`traces-csv`, `nova`) into one annotator's journal.

use std::collections::BTreeMap;
use std::process::ExitCode;

use anyhow::Context;

use super::export::{ImportArgs, ImportFormat};
use crate::annotation::AnnotationStore;
use crate::annotation::trace::{
    TraceAgreement, TraceSeries, ccc, human_mean, proxy_series, recording_series, trace_agreement,
};
use crate::export::import;
use crate::project::{Collection, Project, TraceScheme};

/// Agreement of one traced dimension, with the model proxy's CCC against the human mean.
#[derive(Debug, serde::Serialize)]
pub struct DimensionReport {
    #[serde(flatten)]
    pub agreement: TraceAgreement,
    /// Mean over recordings of the CCC between the model's proxy trace and the human mean
    /// (`--proxy`; a circumplex stand-in, not a model output).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model_proxy_ccc: Option<f64>,
}

/// Every recording's traces of `scheme`'s dimension, by annotator, with its listed name.
fn traced(
    project: &Project,
    store: &AnnotationStore,
    scheme: &TraceScheme,
) -> Vec<(String, BTreeMap<String, TraceSeries>)> {
    let mut recordings: Vec<(String, BTreeMap<String, TraceSeries>)> = store
        .iter()
        .map(|(file, by)| {
            let series = recording_series(
                by,
                &scheme.dimension,
                project.file.traces.combine,
                scheme.rate_hz,
            );
            (file.clone(), series)
        })
        .filter(|(_, series)| !series.is_empty())
        .collect();
    recordings.sort_by(|a, b| a.0.cmp(&b.0));
    recordings
}

/// The model's class trajectory of `file` (analysed, or from the cache).
type Trajectory = (Vec<String>, Vec<f64>, Vec<Vec<f32>>);

fn trajectories(
    project: &Project,
    collection: &Collection,
    files: &[&str],
) -> anyhow::Result<BTreeMap<String, Trajectory>> {
    use crate::jobs::batch::analyze_path;
    use crate::jobs::cache::{AnalysisCache, default_folder};
    use crate::jobs::model_choice::choose_model;
    use crate::model::analysis::AnalysisParams;
    use crate::model::{MeritSession, SessionOptions};
    let model = choose_model(None, Some(project))?;
    let mut session = MeritSession::load(&model, SessionOptions::default())?;
    let cache = AnalysisCache::new(default_folder());
    let mut found = BTreeMap::new();
    for recording in &collection.recordings {
        if !files.contains(&recording.listed_path.as_str()) {
            continue;
        }
        match analyze_path(
            &mut session,
            &recording.path,
            &AnalysisParams::default(),
            Some(&cache),
            None,
        ) {
            Ok((analysis, _)) => {
                found.insert(
                    recording.listed_path.clone(),
                    (
                        analysis.classes.clone(),
                        analysis.trajectory.times_s.clone(),
                        analysis.trajectory.probs.clone(),
                    ),
                );
            }
            Err(error) => eprintln!("BROKEN {}: {error}", recording.listed_path),
        }
    }
    Ok(found)
}

/// Agreement of every traced dimension (dimensions nobody traced are left out).
pub fn trace_reports(
    project: &Project,
    collection: &Collection,
    store: &AnnotationStore,
    max_lag_s: Option<f64>,
    proxy: bool,
) -> anyhow::Result<BTreeMap<String, DimensionReport>> {
    let mut reports = BTreeMap::new();
    for scheme in project.file.traces.schemes(&project.file.label_scheme) {
        let recordings = traced(project, store, &scheme);
        if recordings.is_empty() {
            continue;
        }
        let series: Vec<BTreeMap<String, TraceSeries>> =
            recordings.iter().map(|(_, s)| s.clone()).collect();
        let agreement = trace_agreement(&series, scheme.rate_hz, max_lag_s);
        let model_proxy_ccc = if proxy {
            let files: Vec<&str> = recordings.iter().map(|(f, _)| f.as_str()).collect();
            let found = trajectories(project, collection, &files)?;
            let scores: Vec<f64> = recordings
                .iter()
                .filter_map(|(file, by)| {
                    let (classes, times, probs) = found.get(file)?;
                    let model = proxy_series(
                        classes,
                        times,
                        probs,
                        &scheme.dimension,
                        scheme.range(),
                        scheme.rate_hz,
                    )?;
                    proxy_ccc(&model, &human_mean(by, scheme.rate_hz)?)
                })
                .collect();
            (!scores.is_empty()).then(|| scores.iter().sum::<f64>() / scores.len() as f64)
        } else {
            None
        };
        reports.insert(
            scheme.dimension.clone(),
            DimensionReport {
                agreement,
                model_proxy_ccc,
            },
        );
    }
    Ok(reports)
}

/// CCC of the proxy against the human mean over the frames both cover.
fn proxy_ccc(model: &TraceSeries, human: &TraceSeries) -> Option<f64> {
    let (x, y): (Vec<f64>, Vec<f64>) = (0..human.values.len())
        .filter_map(|i| {
            let h = human.values[i];
            let m = model.value_at(human.time_s(i))?;
            h.is_finite().then_some((m, h))
        })
        .unzip();
    ccc(&x, &y)
}

/// `import --format traces-csv|nova`: one pass into `--annotator`'s journal.
pub fn run_import(args: &ImportArgs) -> anyhow::Result<ExitCode> {
    let project = Project::open(&args.project)?;
    let collection = Collection::load(&project);
    let file = args
        .file
        .as_deref()
        .context("--file names the recording (as the project lists it) this trace describes")?;
    if !collection.recordings.iter().any(|r| r.listed_path == file) {
        anyhow::bail!("{file:?} is not a recording of this project");
    }
    let input = args.input.as_path();
    let dimension = match (&args.dimension, args.format) {
        (Some(d), _) => d.clone(),
        (None, ImportFormat::Nova) => {
            import::read_nova_header(input)
                .with_context(|| format!("cannot read {}", input.display()))?
                .scheme
        }
        (None, _) => input
            .file_stem()
            .and_then(|s| s.to_str())
            .and_then(|s| s.rsplit('.').next())
            .unwrap_or_default()
            .to_owned(),
    };
    let scheme = project
        .file
        .traces
        .scheme(&project.file.label_scheme, &dimension)
        .with_context(|| {
            format!("{dimension:?} is not a traceable dimension of this project (--dimension)")
        })?;
    let read = match args.format {
        ImportFormat::Nova => import::nova(input, &scheme),
        _ => import::traces_csv(input, &scheme, args.from_annotator.as_deref()),
    }
    .with_context(|| format!("cannot read {}", input.display()))?;
    let mut store = AnnotationStore::load(&project.root)?;
    let frames = read.apply(&mut store, &args.annotator, file, &scheme)?;
    for problem in &read.problems {
        eprintln!("PROBLEM {problem}");
    }
    println!(
        "imported {frames} frames of {dimension} for {file} as {} ({} problems)",
        args.annotator,
        read.problems.len()
    );
    Ok(if read.problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(super::EXIT_FOUND_PROBLEMS)
    })
}
