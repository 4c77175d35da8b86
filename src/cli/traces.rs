//! The trace parts of `merit-studio agreement` and `merit-studio import`: agreement per traced
//! dimension (with the model's proxy trace scored against the human mean when asked), and trace
//! files (`traces-csv`, `nova`) into one annotator's journal.

use std::collections::BTreeMap;
use std::process::ExitCode;

use anyhow::Context;

use super::export::{ImportArgs, ImportFormat};
use crate::annotation::AnnotationStore;
use crate::annotation::trace::{
    ClassTrajectory, DimensionReport, Labelled, dimension_reports, traced_files,
};
use crate::export::import;
use crate::project::{Collection, Project};

fn trajectories(
    project: &Project,
    collection: &Collection,
    files: &[String],
) -> anyhow::Result<BTreeMap<String, ClassTrajectory>> {
    use crate::jobs::batch::analyze_path;
    use crate::jobs::cache::{AnalysisCache, default_folder};
    use crate::jobs::model_choice::choose_model;
    use crate::jobs::references::collection_references;
    use crate::model::analysis::AnalysisParams;
    use crate::model::{MeritSession, SessionOptions};
    let model = choose_model(None, Some(project))?;
    let mut session = MeritSession::load(&model, SessionOptions::default())?;
    let cache = AnalysisCache::new(default_folder());
    let params = AnalysisParams::default();
    let references = collection_references(&mut session, collection, &params, Some(&cache));
    let mut found = BTreeMap::new();
    for recording in &collection.recordings {
        if files.binary_search(&recording.listed_path).is_err() {
            continue;
        }
        match analyze_path(
            &mut session,
            &recording.path,
            references.for_path(&recording.path).as_ref(),
            &params,
            Some(&cache),
            None,
        ) {
            Ok((analysis, _)) => {
                found.insert(
                    recording.listed_path.clone(),
                    ClassTrajectory {
                        classes: analysis.classes.clone(),
                        times_s: analysis.trajectory.times_s.clone(),
                        probs: analysis.trajectory.probs.clone(),
                    },
                );
            }
            Err(error) => eprintln!("BROKEN {}: {error}", recording.listed_path),
        }
    }
    Ok(found)
}

/// Agreement of every traced dimension (dimensions nobody traced are left out); `proxy` runs the
/// model (or reads its cache) over the traced recordings to score its proxy trace.
pub fn trace_reports(
    project: &Project,
    collection: &Collection,
    store: &AnnotationStore,
    max_lag_s: Option<f64>,
    proxy: bool,
) -> anyhow::Result<BTreeMap<String, DimensionReport>> {
    let labelled: Vec<Labelled<'_>> = store.iter().map(|(f, by)| (f.as_str(), by)).collect();
    let found = if proxy {
        let files = traced_files(project, &labelled);
        Some(trajectories(project, collection, &files)?)
    } else {
        None
    };
    Ok(dimension_reports(
        project,
        &labelled,
        max_lag_s,
        found.as_ref(),
    ))
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
