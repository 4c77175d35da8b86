//! `merit-studio export` and `merit-studio import`: labels out to the formats training code and
//! annotation tools read, and back in from them into a named annotator's journal.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;

use crate::annotation::AnnotationStore;
use crate::annotation::annotator::normalise_annotator;
use crate::export::import::{self, Imported};
use crate::export::{ExportOptions, Format, Selection, SplitPlan, export, provenance, rows};
use crate::project::{Collection, Project};

pub struct ExportArgs<'a> {
    pub project: &'a Path,
    pub format: Format,
    pub out: &'a Path,
    pub annotator: Option<&'a str>,
    pub include_unlabelled: bool,
    pub split: Option<(f64, f64)>,
    pub seed: u64,
    pub audio16k: bool,
    pub metadata_csv: bool,
    /// Label recordings nobody labelled with the model's prediction (source "model").
    pub model_labels: bool,
    /// Write the Sparse MERIT enhanced audio of every exported recording.
    pub enhanced: bool,
    pub model: Option<&'a Path>,
}

/// Runs (or takes from the cache) the analysis of every row: fills unlabelled rows with the
/// model's prediction when asked, and writes enhanced WAVs under `enhanced_folder` when given.
/// Returns the model's hash and the files that failed.
fn add_model_outputs(
    project: &Project,
    rows: &mut [crate::export::ExportRow],
    args: &ExportArgs<'_>,
    enhanced_folder: Option<&Path>,
) -> anyhow::Result<(String, Vec<String>)> {
    use crate::jobs::batch::analyze_path;
    use crate::jobs::cache::{AnalysisCache, default_folder};
    use crate::jobs::model_choice::choose_model;
    use crate::model::analysis::AnalysisParams;
    use crate::model::{MeritSession, SessionOptions};
    let model = choose_model(args.model, Some(project))?;
    let mut session = MeritSession::load(&model, SessionOptions::default())?;
    let cache = AnalysisCache::new(default_folder());
    let mut failed = Vec::new();
    for row in rows.iter_mut() {
        let analysis = match analyze_path(
            &mut session,
            &row.path,
            &AnalysisParams::default(),
            Some(&cache),
            None,
        ) {
            Ok((analysis, _)) => analysis,
            Err(error) => {
                eprintln!("BROKEN {}: {error}", row.file);
                failed.push(row.file.clone());
                continue;
            }
        };
        if args.model_labels && row.source == "none" {
            row.label = Some(analysis.top_class().to_owned());
            row.soft_label = analysis
                .classes
                .iter()
                .zip(&analysis.probs)
                .map(|(c, &p)| (c.clone(), f64::from(p)))
                .collect();
            row.source = "model";
        }
        if let Some(folder) = enhanced_folder {
            crate::export::write_wav(
                &crate::export::output_path(folder, &row.file, "wav"),
                &analysis.enhanced,
            )?;
        }
    }
    Ok((session.model_hash().to_owned(), failed))
}

pub fn run_export(args: &ExportArgs<'_>) -> anyhow::Result<ExitCode> {
    let project = Project::open(args.project)?;
    let collection = Collection::load(&project);
    let store = AnnotationStore::load(&project.root)?;
    for warning in store.warnings() {
        eprintln!("warning: {warning}");
    }
    let selection = match args.annotator {
        Some(name) => Selection::Annotator(normalise_annotator(name)?),
        None => Selection::Consensus,
    };
    let options = ExportOptions {
        format: Some(args.format),
        selection: selection.clone(),
        include_unlabelled: args.include_unlabelled,
        splits: args.split.map(|(dev, test)| SplitPlan {
            dev,
            test,
            seed: args.seed,
        }),
        audio16k: args.audio16k,
        metadata_csv: args.metadata_csv,
    };
    let mut rows = rows(
        &collection,
        &store,
        &ExportOptions {
            include_unlabelled: options.include_unlabelled || args.model_labels,
            ..options.clone()
        },
    );
    let mut model_hash = None;
    let mut failed = Vec::new();
    if args.model_labels || args.enhanced {
        // Beside the output while the export folder must still be empty; moved in afterwards.
        let folder = args.out.with_extension("enhanced");
        let (hash, broken) = add_model_outputs(
            &project,
            &mut rows,
            args,
            args.enhanced.then_some(folder.as_path()),
        )?;
        model_hash = Some(hash);
        failed = broken;
        if !options.include_unlabelled {
            rows.retain(|row| row.source != "none");
        }
    }
    let record = provenance(&project, &rows, args.format, &selection, model_hash);
    let written = export(&project, &rows, &options, args.out, &record)?;
    let enhanced_beside = args.out.with_extension("enhanced");
    if args.enhanced
        && !matches!(args.format, crate::export::Format::Jsonl)
        && enhanced_beside.is_dir()
    {
        std::fs::rename(&enhanced_beside, args.out.join("enhanced"))?;
    }
    println!(
        "exported {} recordings to {} ({} files{})",
        rows.len(),
        args.out.display(),
        written.len(),
        if failed.is_empty() {
            String::new()
        } else {
            format!("; {} could not be analysed", failed.len())
        }
    );
    Ok(if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(super::EXIT_FOUND_PROBLEMS)
    })
}

/// What an import reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ImportFormat {
    /// MSP-Podcast labels_consensus.csv, or a detailed CSV with an Annotator column.
    Msp,
    /// Our JSONL manifest.
    Jsonl,
    /// An Audacity label track for one recording (--file).
    Audacity,
    /// A Praat TextGrid for one recording (--file), one tier (--tier).
    Textgrid,
    /// An ELAN .eaf for one recording (--file), one tier (--tier).
    Eaf,
    /// Hugging Face AudioFolder metadata (the folder, metadata.jsonl or metadata.csv).
    Audiofolder,
}

pub struct ImportArgs<'a> {
    pub project: &'a Path,
    pub format: ImportFormat,
    pub input: &'a Path,
    pub annotator: &'a str,
    /// The recording (as listed) a per-recording file describes.
    pub file: Option<&'a str>,
    pub tier: Option<&'a str>,
    /// For a detailed MSP CSV: import only this annotator's rows.
    pub from_annotator: Option<&'a str>,
}

pub fn run_import(args: &ImportArgs<'_>) -> anyhow::Result<ExitCode> {
    let project = Project::open(args.project)?;
    let collection = Collection::load(&project);
    let mut store = AnnotationStore::load(&project.root)?;
    let scheme = &project.file.label_scheme;
    let file = || {
        args.file
            .context("--file names the recording (as the project lists it) this file describes")
    };
    let first_id = store.next_seq().unwrap_or(1) + 1_000_000;
    let read = match args.format {
        ImportFormat::Msp => import::msp_csv(args.input, scheme, args.from_annotator),
        ImportFormat::Jsonl => import::jsonl(args.input),
        ImportFormat::Audacity => import::audacity(args.input, file()?, first_id),
        ImportFormat::Textgrid => import::textgrid(
            args.input,
            file()?,
            args.tier.unwrap_or("consensus"),
            first_id,
        ),
        ImportFormat::Eaf => import::eaf(
            args.input,
            file()?,
            args.tier.unwrap_or("consensus"),
            first_id,
        ),
        ImportFormat::Audiofolder => import::audiofolder(args.input),
    }
    .with_context(|| format!("cannot read {}", args.input.display()))?;
    let listed: std::collections::HashSet<&str> = collection
        .recordings
        .iter()
        .map(|r| r.listed_path.as_str())
        .collect();
    let (known, unknown): (Vec<_>, Vec<_>) = read
        .edits
        .into_iter()
        .partition(|(file, _)| listed.contains(file.as_str()));
    let mut problems = read.problems;
    for (file, _) in &unknown {
        problems.push(import::ImportProblem {
            path: args.input.to_path_buf(),
            line: 0,
            message: format!("{file:?} is not a recording of this project"),
        });
    }
    let (written, more) = Imported {
        edits: known,
        problems: Vec::new(),
    }
    .apply(&mut store, args.annotator, scheme, args.input)?;
    problems.extend(more);
    for problem in &problems {
        eprintln!("PROBLEM {problem}");
    }
    println!(
        "imported {written} edits as {} ({} problems)",
        args.annotator,
        problems.len()
    );
    Ok(if problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(super::EXIT_FOUND_PROBLEMS)
    })
}
