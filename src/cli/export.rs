//! `merit-studio export` and `merit-studio import`: labels out to the formats training code and
//! annotation tools read, and back in from them into a named annotator's journal.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;

use crate::annotation::AnnotationStore;
use crate::annotation::annotator::normalise_annotator;
use crate::export::import::{self, Imported};
use crate::export::{ExportOptions, Format, Selection, SplitPlan, export, provenance, rows};
use crate::project::{Collection, Project};

/// `--format`: the command line's names for [`Format`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FormatArg {
    /// `labels_consensus.csv` + `labels_detailed.csv` (folder).
    Msp,
    /// `metadata.jsonl` (or `metadata.csv`) + the audio, for `datasets.load_dataset("audiofolder")`.
    Audiofolder,
    /// One JSON object per recording: our fine-tuning manifest (file).
    Jsonl,
    /// One Praat TextGrid per recording (folder).
    Textgrid,
    /// One ELAN `.eaf` per recording (folder).
    Eaf,
    /// One Audacity label track per recording (folder).
    Audacity,
    /// Label Studio tasks.json (with the model's predictions) and labeling-config.xml (folder).
    Labelstudio,
    /// Traces: one CSV per recording × dimension, `time_s,<annotator>,…` (folder).
    TracesCsv,
    /// Traces as NOVA continuous annotations, `.annotation` + `.annotation~` (folder).
    Nova,
    /// Traces: one JSON object per recording with rate, values per annotator and mean (file).
    TracesJsonl,
}

impl From<FormatArg> for Format {
    fn from(format: FormatArg) -> Self {
        match format {
            FormatArg::Msp => Self::Msp,
            FormatArg::Audiofolder => Self::Audiofolder,
            FormatArg::Jsonl => Self::Jsonl,
            FormatArg::Textgrid => Self::Textgrid,
            FormatArg::Eaf => Self::Eaf,
            FormatArg::Audacity => Self::Audacity,
            FormatArg::Labelstudio => Self::Labelstudio,
            FormatArg::TracesCsv => Self::TracesCsv,
            FormatArg::Nova => Self::Nova,
            FormatArg::TracesJsonl => Self::TracesJsonl,
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    project: PathBuf,
    #[arg(long, value_enum)]
    format: FormatArg,
    #[arg(long)]
    out: PathBuf,
    /// One annotator's labels (default: the consensus of all).
    #[arg(long)]
    annotator: Option<String>,
    /// Also list recordings nobody has labelled.
    #[arg(long)]
    include_unlabelled: bool,
    /// Only classes people chose: leave out the model's predictions that annotators accepted
    /// (what a retraining should learn from).
    #[arg(long)]
    human_only: bool,
    /// Speaker-disjoint splits: fractions for dev and test, e.g. 0.1,0.1 (default: keep the
    /// collection's split column).
    #[arg(long, value_parser = super::parse_split)]
    split: Option<(f64, f64)>,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// jsonl: also write each recording as a 16 kHz mono WAV (OUT.audio16k/) and point
    /// `path` at it, for the fine-tuning script.
    #[arg(long)]
    audio16k: bool,
    /// audiofolder: metadata.csv instead of metadata.jsonl.
    #[arg(long)]
    metadata_csv: bool,
    /// Give recordings nobody labelled the model's prediction (source "model").
    #[arg(long)]
    model_labels: bool,
    /// Also write the Sparse MERIT enhanced audio (16 kHz WAV) of every exported recording,
    /// under OUT/enhanced/ (jsonl: beside it, in OUT with the extension .enhanced).
    #[arg(long)]
    enhanced: bool,
    /// Model for --model-labels and --enhanced (default: the project's, else the shipped one).
    #[arg(long)]
    model: Option<PathBuf>,
}

/// Runs (or takes from the cache) the analysis of every row: fills unlabelled rows with the
/// model's prediction when asked, and writes enhanced WAVs under `enhanced_folder` when given.
/// Returns the model's hash, the files that failed and the predictions (for Label Studio).
fn add_model_outputs(
    project: &Project,
    rows: &mut [crate::export::ExportRow],
    args: &ExportArgs,
    enhanced_folder: Option<&Path>,
) -> anyhow::Result<ModelOutputs> {
    use crate::export::labelstudio::{ModelPrediction, trajectory_regions};
    use crate::jobs::batch::analyze_path;
    use crate::jobs::cache::{AnalysisCache, default_folder};
    use crate::jobs::model_choice::choose_model;
    use crate::jobs::references::collection_references;
    use crate::model::analysis::AnalysisParams;
    use crate::model::{MeritSession, SessionOptions};
    let model = choose_model(args.model.as_deref(), Some(project))?;
    let mut session = MeritSession::load(&model, SessionOptions::default())?;
    let cache = AnalysisCache::new(default_folder());
    let params = AnalysisParams::default();
    let collection = crate::project::Collection::load(project);
    let references = collection_references(&mut session, &collection, &params, Some(&cache));
    let mut failed = Vec::new();
    let mut predictions = std::collections::BTreeMap::new();
    for row in rows.iter_mut() {
        let reference = references.for_path(&row.path);
        let analysis = match analyze_path(
            &mut session,
            &row.path,
            reference.as_ref(),
            &params,
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
        predictions.insert(
            row.file.clone(),
            ModelPrediction {
                model_version: session.model_hash().to_owned(),
                class: analysis.top_class().to_owned(),
                score: f64::from(analysis.probs.iter().copied().fold(0.0, f32::max)),
                regions: trajectory_regions(
                    &analysis.trajectory.times_s,
                    &analysis.trajectory.probs,
                    &analysis.classes,
                    analysis.duration_s,
                ),
            },
        );
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
    Ok((session.model_hash().to_owned(), failed, predictions))
}

type ModelOutputs = (
    String,
    Vec<String>,
    std::collections::BTreeMap<String, crate::export::labelstudio::ModelPrediction>,
);

pub fn run_export(args: &ExportArgs) -> anyhow::Result<ExitCode> {
    let project = Project::open(&args.project)?;
    let format = Format::from(args.format);
    let collection = Collection::load(&project);
    let store = AnnotationStore::load(&project.root)?;
    for warning in store.warnings() {
        eprintln!("warning: {warning}");
    }
    let selection = match args.annotator.as_deref() {
        Some(name) => Selection::Annotator(normalise_annotator(name)?),
        None => Selection::Consensus,
    };
    let options = ExportOptions {
        format: Some(format),
        selection: selection.clone(),
        include_unlabelled: args.include_unlabelled,
        human_only: args.human_only,
        splits: args.split.map(|(dev, test)| SplitPlan {
            dev,
            test,
            seed: args.seed,
        }),
        audio16k: args.audio16k,
        metadata_csv: args.metadata_csv,
        predictions: std::collections::BTreeMap::new(),
    };
    let mut options = options;
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
    let labelstudio = matches!(format, Format::Labelstudio);
    if labelstudio && !args.model_labels && !args.enhanced {
        // Predictions are welcome, not required: without a model the tasks carry labels only.
        match add_model_outputs(&project, &mut rows, args, None) {
            Ok((hash, broken, predictions)) => {
                model_hash = Some(hash);
                failed = broken;
                options.predictions = predictions;
            }
            Err(error) => eprintln!("warning: no model predictions in the tasks: {error:#}"),
        }
    }
    if args.model_labels || args.enhanced {
        // Beside the output while the export folder must still be empty; moved in afterwards.
        let folder = args.out.with_extension("enhanced");
        let (hash, broken, predictions) = add_model_outputs(
            &project,
            &mut rows,
            args,
            args.enhanced.then_some(folder.as_path()),
        )?;
        model_hash = Some(hash);
        failed = broken;
        options.predictions = predictions;
        if !options.include_unlabelled {
            rows.retain(|row| row.source != "none");
        }
    }
    let record = provenance(&project, &rows, format, &selection, model_hash);
    let written = export(&project, &rows, &options, &args.out, &record)?;
    let enhanced_beside = args.out.with_extension("enhanced");
    if args.enhanced && !matches!(format, crate::export::Format::Jsonl) && enhanced_beside.is_dir()
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
    /// Label Studio's JSON export (a list of tasks; --from-annotator picks our exports' annotator).
    Labelstudio,
    /// A trace CSV (`time_s,<annotator>,…`) for one recording (--file) and dimension
    /// (--dimension); --from-annotator picks a column.
    TracesCsv,
    /// A NOVA continuous annotation (`.annotation` or `.annotation~`) for one recording (--file).
    Nova,
}

#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    pub(super) project: PathBuf,
    #[arg(long, value_enum)]
    pub(super) format: ImportFormat,
    pub(super) input: PathBuf,
    #[arg(long)]
    pub(super) annotator: String,
    /// The recording a per-recording file (Audacity, TextGrid, traces) describes.
    #[arg(long)]
    pub(super) file: Option<String>,
    /// TextGrid tier to read (default: consensus).
    #[arg(long)]
    tier: Option<String>,
    /// Detailed MSP CSV: only this annotator's rows; Label Studio: this annotator's annotation;
    /// trace CSV: this annotator's column.
    #[arg(long)]
    pub(super) from_annotator: Option<String>,
    /// Traces: the dimension the file traces (default: NOVA's scheme name, or the trace CSV's
    /// `<recording>.<dimension>.csv` name).
    #[arg(long)]
    pub(super) dimension: Option<String>,
}

pub fn run_import(args: &ImportArgs) -> anyhow::Result<ExitCode> {
    let project = Project::open(&args.project)?;
    let input = args.input.as_path();
    let collection = Collection::load(&project);
    let mut store = AnnotationStore::load(&project.root)?;
    let scheme = &project.file.label_scheme;
    let file = || {
        args.file
            .as_deref()
            .context("--file names the recording (as the project lists it) this file describes")
    };
    let first_id = store.next_seq().unwrap_or(1) + 1_000_000;
    let read = match args.format {
        ImportFormat::Msp => import::msp_csv(input, scheme, args.from_annotator.as_deref()),
        ImportFormat::Jsonl => import::jsonl(input),
        ImportFormat::Audacity => import::audacity(input, file()?, first_id),
        ImportFormat::Textgrid => import::textgrid(
            input,
            file()?,
            args.tier.as_deref().unwrap_or("consensus"),
            first_id,
        ),
        ImportFormat::Eaf => import::eaf(
            input,
            file()?,
            args.tier.as_deref().unwrap_or("consensus"),
            first_id,
        ),
        ImportFormat::Audiofolder => import::audiofolder(input),
        ImportFormat::Labelstudio => {
            let listed: Vec<import::Listed<'_>> = collection
                .recordings
                .iter()
                .map(|r| import::Listed {
                    listed: &r.listed_path,
                    path: &r.path,
                })
                .collect();
            import::labelstudio(
                input,
                scheme,
                &listed,
                args.from_annotator.as_deref(),
                first_id,
            )
        }
        ImportFormat::TracesCsv | ImportFormat::Nova => return super::traces::run_import(args),
    }
    .with_context(|| format!("cannot read {}", input.display()))?;
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
            path: input.to_path_buf(),
            line: 0,
            message: format!("{file:?} is not a recording of this project"),
        });
    }
    let (written, more) = Imported {
        edits: known,
        problems: Vec::new(),
    }
    .apply(&mut store, &args.annotator, scheme, input)?;
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
