//! `merit-studio analyze INPUT... --out DIR` and `merit-studio merge SHARD... --out DIR`.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use indicatif::{ProgressBar, ProgressStyle};

use crate::jobs::JobContext;
use crate::jobs::batch::{
    BatchInput, analyze_batch, collect_inputs, parse_shard, result_row, shard,
};
use crate::jobs::cache::AnalysisCache;
use crate::jobs::model_choice::choose_model;
use crate::model::analysis::AnalysisParams;
use crate::model::{MeritSession, SessionOptions};
use crate::project::Project;

use super::{DeviceArg, EXIT_FOUND_PROBLEMS};

#[derive(Debug, clap::Args)]
pub struct AnalyzeArgs {
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// ONNX model (default: the project's, else models/sparse-merit-compact.onnx).
    #[arg(long)]
    model: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = DeviceArg::Auto)]
    device: DeviceArg,
    /// On the CPU, run the model file itself, not the int8 variant shipped beside it (without the
    /// analysis cache, which keeps either under the model file's hash).
    #[arg(long)]
    float: bool,
    #[arg(long)]
    out: PathBuf,
    /// Emotion-trajectory window and hop, in seconds.
    #[arg(long, default_value_t = 3.0)]
    window_s: f64,
    #[arg(long, default_value_t = 0.5)]
    hop_s: f64,
    /// Process a deterministic 1/N of the files (K/N, 1-based), e.g. for array jobs.
    #[arg(long)]
    shard: Option<String>,
    /// ONNX Runtime threads (default: let it choose).
    #[arg(long, default_value_t = 0)]
    jobs: usize,
    /// Analysis cache folder (default: ~/.cache/merit-studio/analysis).
    #[arg(long)]
    cache_dir: Option<PathBuf>,
    /// Analyse everything afresh and cache nothing.
    #[arg(long)]
    no_cache: bool,
}

#[derive(Debug, clap::Args)]
pub struct MergeArgs {
    #[arg(required = true)]
    shards: Vec<PathBuf>,
    #[arg(long)]
    out: PathBuf,
}

pub fn run(args: &AnalyzeArgs) -> anyhow::Result<ExitCode> {
    // The model the command line names, else that of the first input that is a project naming one.
    let project_with_model = args
        .inputs
        .iter()
        .filter_map(|input| Project::open(input).ok())
        .find(|project| project.file.model.is_some());
    let model = choose_model(args.model.as_deref(), project_with_model.as_ref())?;
    let (inputs, problems) = collect_inputs(&args.inputs)?;
    for problem in &problems {
        eprintln!("warning: {problem}");
    }
    let inputs = match &args.shard {
        Some(text) => {
            let (k, n) = parse_shard(text)?;
            shard(inputs, k, n)
        }
        None => inputs,
    };
    let options = SessionOptions {
        device: args.device.into(),
        threads: args.jobs,
        float_on_cpu: args.float,
    };
    let mut session = MeritSession::load(&model, options)?;
    eprintln!(
        "analysing {} files with {} ({}) on {}",
        inputs.len(),
        session.card().model,
        session.path().display(),
        session.provider()
    );
    let params = AnalysisParams {
        window_s: args.window_s,
        hop_s: args.hop_s,
        ..AnalysisParams::default()
    };
    // The cache keeps analyses under the model file's hash whichever of its files ran: the results
    // of the file itself, asked for with --float, are neither read from it nor stored in it.
    let cache = (!args.no_cache && !args.float).then(|| {
        AnalysisCache::new(
            args.cache_dir
                .clone()
                .unwrap_or_else(crate::jobs::cache::default_folder),
        )
    });
    let summary = analyze_into(&mut session, inputs, &args.out, &params, cache.as_ref())?;
    eprintln!(
        "wrote {} ({} failed)",
        args.out.join("results.jsonl").display(),
        summary.failed
    );
    Ok(if summary.failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_FOUND_PROBLEMS)
    })
}

/// What [`analyze_into`] did.
pub struct BatchSummary {
    pub files: usize,
    pub failed: usize,
    /// Files whose analysis came from the cache.
    pub cached: usize,
    pub audio_s: f64,
}

/// Analyses `inputs` into `out`: outputs per file, and `results.jsonl`, which appears (by rename)
/// only once every file is done, so a stopped run never leaves one that looks finished.
pub fn analyze_into(
    session: &mut MeritSession,
    inputs: Vec<BatchInput>,
    out: &Path,
    params: &AnalysisParams,
    cache: Option<&AnalysisCache>,
) -> anyhow::Result<BatchSummary> {
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let results_path = out.join("results.jsonl");
    let partial = out.join("results.jsonl.partial");
    let mut results = std::io::BufWriter::new(
        std::fs::File::create(&partial)
            .with_context(|| format!("cannot write in {}", out.display()))?,
    );
    let progress = ProgressBar::new(inputs.len() as u64).with_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} files, {msg} of audio, ETA {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let files = inputs.len();
    let (mut audio_s, mut cached) = (0.0, 0);
    let mut write_error = None;
    let failed = analyze_batch(
        session,
        inputs,
        out,
        params,
        cache,
        &JobContext::detached(),
        |outcome| {
            match &outcome.result {
                Err(error) => progress.suspend(|| eprintln!("FAILED {error}")),
                Ok((analysis, ..)) => audio_s += analysis.duration_s,
            }
            cached += usize::from(outcome.cached);
            if let Err(error) = writeln!(results, "{}", result_row(outcome)) {
                write_error.get_or_insert(error);
            }
            progress.set_message(crate::audio::format_duration(audio_s));
            progress.inc(1);
        },
    );
    if let Some(error) = write_error {
        return Err(
            anyhow::Error::new(error).context(format!("cannot write {}", partial.display()))
        );
    }
    progress.finish_and_clear();
    results
        .into_inner()
        .map_err(std::io::IntoInnerError::into_error)?
        .sync_all()?;
    std::fs::rename(&partial, &results_path)?;
    crate::fsio::sync_folder(out)?;
    Ok(BatchSummary {
        files,
        failed,
        cached,
        audio_s,
    })
}

/// Joins shard folders: rows in input order (no file twice), enhanced audio and gates linked or
/// copied.
pub fn merge(args: &MergeArgs) -> anyhow::Result<ExitCode> {
    merge_folders(&args.shards, &args.out)
}

/// [`merge`] of `shards` into `out` (also the cluster merge's last step).
pub(super) fn merge_folders(shards: &[PathBuf], out: &Path) -> anyhow::Result<ExitCode> {
    let mut rows: Vec<(u64, String)> = Vec::new();
    for folder in shards {
        let path = folder.join("results.jsonl");
        let file = std::fs::File::open(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        for (number, line) in std::io::BufReader::new(file).lines().enumerate() {
            let line = line?;
            let value: serde_json::Value = serde_json::from_str(&line)
                .with_context(|| format!("{}:{}: not valid JSON", path.display(), number + 1))?;
            let index = value["index"]
                .as_u64()
                .with_context(|| format!("{}:{}: no index", path.display(), number + 1))?;
            for key in ["enhanced"] {
                if let Some(relative) = value[key].as_str() {
                    copy_into(folder, out, Path::new(relative))?;
                }
            }
            for key in ["ser", "se"] {
                if let Some(relative) = value["gates"][key].as_str() {
                    copy_into(folder, out, Path::new(relative))?;
                }
            }
            rows.push((index, line));
        }
    }
    rows.sort_by_key(|(index, _)| *index);
    if let Some(pair) = rows.windows(2).find(|pair| pair[0].0 == pair[1].0) {
        anyhow::bail!("file index {} appears in two shards", pair[0].0);
    }
    let text: String = rows.into_iter().map(|(_, line)| line + "\n").collect();
    crate::fsio::write_atomically(&out.join("results.jsonl"), text.as_bytes())?;
    eprintln!(
        "merged {} shards into {}",
        shards.len(),
        out.join("results.jsonl").display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Puts `from/relative` at `to/relative`: a hard link where both are on one file system (a
/// corpus's enhanced audio is not stored twice), else a copy.
fn copy_into(from: &Path, to: &Path, relative: &Path) -> anyhow::Result<()> {
    let target = to.join(relative);
    if let Some(parent) = target.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let source = from.join(relative);
    if target.exists() && target.canonicalize()? == source.canonicalize()? {
        return Ok(()); // merging a folder into itself
    }
    match std::fs::remove_file(&target) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
            return Err(
                anyhow::Error::new(error).context(format!("cannot replace {}", target.display()))
            );
        }
        _ => {}
    }
    if std::fs::hard_link(&source, &target).is_err() {
        std::fs::copy(&source, &target)
            .with_context(|| format!("cannot copy {} into {}", relative.display(), to.display()))?;
    }
    Ok(())
}
