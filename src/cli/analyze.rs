//! `merit-studio analyze INPUT... --out DIR` and `merit-studio merge SHARD... --out DIR`.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use indicatif::{ProgressBar, ProgressStyle};

use crate::jobs::JobContext;
use crate::jobs::batch::{analyze_batch, collect_inputs, parse_shard, result_row, shard};
use crate::jobs::cache::AnalysisCache;
use crate::jobs::model_choice::choose_model;
use crate::model::analysis::AnalysisParams;
use crate::model::{DeviceChoice, MeritSession, SessionOptions};
use crate::project::Project;

use super::EXIT_FOUND_PROBLEMS;

pub struct AnalyzeArgs<'a> {
    pub inputs: &'a [PathBuf],
    pub model: Option<&'a Path>,
    pub device: DeviceChoice,
    pub out: &'a Path,
    pub window_s: f64,
    pub hop_s: f64,
    pub shard: Option<&'a str>,
    pub jobs: usize,
    /// None: no cache.
    pub cache_dir: Option<PathBuf>,
}

pub fn run(args: &AnalyzeArgs<'_>) -> anyhow::Result<ExitCode> {
    // The model the command line names, else that of the first input that is a project naming one.
    let project_with_model = args
        .inputs
        .iter()
        .filter_map(|input| Project::open(input).ok())
        .find(|project| project.file.model.is_some());
    let model = choose_model(args.model, project_with_model.as_ref())?;
    let (inputs, problems) = collect_inputs(args.inputs)?;
    for problem in &problems {
        eprintln!("warning: {problem}");
    }
    let inputs = match args.shard {
        Some(text) => {
            let (k, n) = parse_shard(text).map_err(anyhow::Error::msg)?;
            shard(inputs, k, n)
        }
        None => inputs,
    };
    let options = SessionOptions {
        device: args.device,
        threads: args.jobs,
    };
    let mut session = MeritSession::load(&model, options)?;
    eprintln!(
        "analysing {} files with {} ({}) on {}",
        inputs.len(),
        session.card().model,
        model.display(),
        session.provider()
    );
    std::fs::create_dir_all(args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    let results_path = args.out.join("results.jsonl");
    let partial = args.out.join("results.jsonl.partial");
    let mut results = std::io::BufWriter::new(
        std::fs::File::create(&partial)
            .with_context(|| format!("cannot write in {}", args.out.display()))?,
    );
    let params = AnalysisParams {
        window_s: args.window_s,
        hop_s: args.hop_s,
        ..AnalysisParams::default()
    };
    let progress = ProgressBar::new(inputs.len() as u64).with_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} files, {msg} of audio, ETA {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let cache = args.cache_dir.clone().map(AnalysisCache::new);
    let mut audio_s = 0.0;
    let mut write_error = None;
    let failed = analyze_batch(
        &mut session,
        inputs,
        args.out,
        &params,
        cache.as_ref(),
        &JobContext::detached(),
        |outcome| {
            match &outcome.result {
                Err(error) => progress.suspend(|| eprintln!("FAILED {error}")),
                Ok((analysis, ..)) => audio_s += analysis.duration_s,
            }
            if let Err(error) = writeln!(results, "{}", result_row(outcome)) {
                write_error.get_or_insert(error);
            }
            progress.set_message(super::format_duration(audio_s));
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
    eprintln!("wrote {} ({failed} failed)", results_path.display());
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_FOUND_PROBLEMS)
    })
}

/// Joins shard folders: rows in input order (no file twice), enhanced audio and gates copied.
pub fn merge(shards: &[PathBuf], out: &Path) -> anyhow::Result<ExitCode> {
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

fn copy_into(from: &Path, to: &Path, relative: &Path) -> anyhow::Result<()> {
    let target = to.join(relative);
    if let Some(parent) = target.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::copy(from.join(relative), &target)
        .with_context(|| format!("cannot copy {} into {}", relative.display(), to.display()))?;
    Ok(())
}
