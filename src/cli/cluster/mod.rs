//! `merit-studio cluster plan|task|missing|merge`: one analysis split into shard tasks that a
//! scheduler runs (scripts/slurm/ drives these under Slurm), in a run folder:
//!
//! ```text
//! RUN/run.json                  the manifest: inputs, model and its hash, parameters, shard count
//! RUN/shards/K/results.jsonl    shard K's rows (appears only when the task has finished)
//! RUN/shards/K/task.json        shard K's task log: files, audio seconds, RTF, peak memory, the
//!                               file that ran where (the merge says when shards differ)
//! RUN/cache/                    analyses by content + model + parameters: a rerun skips done files
//! RUN/results.jsonl             the merged rows, in input order
//! ```
//!
//! Every task and the merge check the manifest against the inputs and the model, so outputs of
//! another run (other model, parameters, inputs or shard count) are never mixed in or overwritten.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context as _;

use super::DeviceArg;
use super::EXIT_FOUND_PROBLEMS;
use super::analyze::{analyze_into, merge_folders};
use crate::jobs::batch::{collect_inputs, parse_shard, shard};
use crate::jobs::cache::AnalysisCache;
use crate::jobs::model_choice::choose_model;
use crate::model::analysis::AnalysisParams;
use crate::model::{DeviceChoice, MeritSession, SessionOptions};
use crate::project::Project;

mod run_folder;

use run_folder::{FORMAT, Manifest, TaskLog, check_shard, files_hash, shard_folder};

#[derive(Debug, clap::Subcommand)]
pub enum ClusterCommand {
    /// Start a run folder: check the inputs and the model and write RUN/run.json (refuses a
    /// folder that holds anything else).
    Plan {
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
        #[arg(long)]
        out: PathBuf,
        /// Number of shard tasks.
        #[arg(long)]
        shards: usize,
        /// ONNX model (default: the project's, else models/sparse-merit-compact.onnx).
        #[arg(long)]
        model: Option<PathBuf>,
        #[arg(long, default_value_t = 3.0)]
        window_s: f64,
        #[arg(long, default_value_t = 0.5)]
        hop_s: f64,
    },
    /// Analyse shard K/N of a run into RUN/shards/K/ (files already in RUN/cache are not
    /// analysed again).
    Task {
        run: PathBuf,
        /// K/N, 1-based; N must be the run's shard count.
        #[arg(long)]
        shard: String,
        #[arg(long, value_enum, default_value_t = DeviceArg::Auto)]
        device: DeviceArg,
        /// ONNX Runtime threads (default: let it choose).
        #[arg(long, default_value_t = 0)]
        jobs: usize,
    },
    /// Print the numbers of the shards that have no complete output (reasons on stderr).
    Missing { run: PathBuf },
    /// Check every shard against the manifest and join them into RUN/results.jsonl; print the
    /// run's totals and its slowest shard.
    Merge { run: PathBuf },
}

pub fn run(command: ClusterCommand) -> anyhow::Result<ExitCode> {
    match command {
        ClusterCommand::Plan {
            inputs,
            out,
            shards,
            model,
            window_s,
            hop_s,
        } => plan(&inputs, &out, shards, model.as_deref(), window_s, hop_s),
        ClusterCommand::Task {
            run,
            shard,
            device,
            jobs,
        } => task(&run, &shard, device.into(), jobs),
        ClusterCommand::Missing { run } => {
            let manifest = Manifest::read(&run)?;
            let expected = manifest.expected_shards()?;
            let mut missing = Vec::new();
            for (k, files) in expected.iter().enumerate() {
                if let Err(reason) = check_shard(&run, &manifest, k + 1, files) {
                    eprintln!("{reason}");
                    missing.push((k + 1).to_string());
                }
            }
            println!("{}", missing.join(" "));
            Ok(ExitCode::SUCCESS)
        }
        ClusterCommand::Merge { run } => merge_run(&run),
    }
}

fn plan(
    inputs: &[PathBuf],
    out: &Path,
    shards: usize,
    model: Option<&Path>,
    window_s: f64,
    hop_s: f64,
) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(shards >= 1, "--shards must be at least 1");
    let inputs = inputs
        .iter()
        .map(|input| std::path::absolute(input).with_context(|| input.display().to_string()))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let project_with_model = inputs
        .iter()
        .filter_map(|input| Project::open(input).ok())
        .find(|project| project.file.model.is_some());
    let model = std::path::absolute(choose_model(model, project_with_model.as_ref())?)?;
    let (files, problems) = collect_inputs(&inputs)?;
    for problem in &problems {
        eprintln!("warning: {problem}");
    }
    anyhow::ensure!(!files.is_empty(), "the inputs hold no audio files");
    // Loading the model checks it before any task is queued, and gives its hash.
    let session = MeritSession::load(
        &model,
        SessionOptions {
            device: DeviceChoice::Cpu,
            threads: 1,
            float_on_cpu: false,
        },
    )?;
    let manifest = Manifest {
        format: FORMAT.into(),
        inputs,
        files: files.len(),
        files_hash: files_hash(&files),
        model,
        model_hash: session.model_hash().to_owned(),
        params: AnalysisParams {
            window_s,
            hop_s,
            ..AnalysisParams::default()
        },
        shards,
    };
    if Manifest::path(out).exists() {
        let existing = Manifest::read(out)?;
        let differences = existing.differences(&manifest);
        anyhow::bail!(
            "{} already holds a run{}; resume it with scripts/slurm/submit.sh --resume {0}, or \
             choose another --out",
            out.display(),
            if differences.is_empty() {
                " of these inputs, model and parameters".to_owned()
            } else {
                format!(" that differs in {}", differences.join("; "))
            }
        );
    }
    if std::fs::read_dir(out).is_ok_and(|mut entries| entries.next().is_some()) {
        anyhow::bail!(
            "{} is not empty and is not a run folder; choose a new folder for --out",
            out.display()
        );
    }
    std::fs::create_dir_all(out.join("shards"))
        .with_context(|| format!("cannot create {}", out.display()))?;
    crate::fsio::write_atomically(
        &Manifest::path(out),
        (serde_json::to_string_pretty(&manifest)? + "\n").as_bytes(),
    )?;
    let sizes: Vec<String> = (1..=shards)
        .map(|k| shard(files.clone(), k, shards).len().to_string())
        .collect();
    eprintln!(
        "planned {}: {} files in {shards} shards ({} files), model {} ({})",
        out.display(),
        files.len(),
        sizes.join(", "),
        session.card().model,
        manifest.model.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn host_name() -> String {
    std::env::var("SLURMD_NODENAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .map_or_else(|| "unknown".into(), |name| name.trim().to_owned())
}

fn task(
    run: &Path,
    shard_text: &str,
    device: DeviceChoice,
    jobs: usize,
) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let manifest = Manifest::read(run)?;
    let (k, n) = parse_shard(shard_text).map_err(|message| {
        anyhow::anyhow!("{message} (this run has {} shards)", manifest.shards)
    })?;
    anyhow::ensure!(
        n == manifest.shards,
        "shard {k}/{n}: this run was planned with {} shards; give --shard K/{}",
        manifest.shards,
        manifest.shards
    );
    let files = shard(manifest.files()?, k, n);
    let mut session = MeritSession::load(
        &manifest.model,
        SessionOptions {
            device,
            threads: jobs,
            float_on_cpu: false,
        },
    )?;
    anyhow::ensure!(
        session.model_hash() == manifest.model_hash,
        "{} changed since this run was planned (its hash differs from run.json's): restore that \
         model, or analyse with this one as a new run in another folder",
        manifest.model.display()
    );
    let out = shard_folder(run, k);
    // A finished-looking output of an earlier attempt must not outlive this attempt's rewrites.
    for name in ["results.jsonl", "task.json"] {
        match std::fs::remove_file(out.join(name)) {
            Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
                return Err(anyhow::Error::new(error)
                    .context(format!("cannot remove {}", out.join(name).display())));
            }
            _ => {}
        }
    }
    eprintln!(
        "shard {k}/{n}: {} files with {} on {}, {} threads",
        files.len(),
        session.card().model,
        session.provider(),
        if jobs == 0 {
            "default".to_owned()
        } else {
            jobs.to_string()
        }
    );
    let cache = AnalysisCache::new(run.join("cache"));
    let summary = analyze_into(&mut session, files, &out, &manifest.params, Some(&cache))?;
    let wall_s = started.elapsed().as_secs_f64();
    let log = TaskLog {
        shard: k,
        shards: n,
        model_hash: manifest.model_hash.clone(),
        files: summary.files,
        analysed: summary.files - summary.cached - summary.failed,
        cached: summary.cached,
        failed: summary.failed,
        audio_s: summary.audio_s,
        wall_s,
        rtf: if summary.audio_s > 0.0 {
            wall_s / summary.audio_s
        } else {
            0.0
        },
        peak_memory_mb: super::bench::peak_memory_mb(),
        host: host_name(),
        slurm_job: std::env::var("SLURM_JOB_ID").ok(),
        provider: session.provider().to_string(),
        ran: ran_on(&session),
    };
    crate::fsio::write_atomically(
        &out.join("task.json"),
        (serde_json::to_string_pretty(&log)? + "\n").as_bytes(),
    )?;
    eprintln!(
        "shard {k}/{n} done: {} files ({} analysed, {} from the cache, {} failed), {:.1} s of \
         audio in {:.1} s, RTF {:.3}, peak memory {}",
        log.files,
        log.analysed,
        log.cached,
        log.failed,
        log.audio_s,
        log.wall_s,
        log.rtf,
        log.peak_memory_mb
            .map_or_else(|| "unknown".to_owned(), |mb| format!("{mb:.0} MB"))
    );
    // Broken recordings are error rows of a finished shard, not a failed task: the merge (and a
    // scheduler's afterok) must still go ahead.
    Ok(ExitCode::SUCCESS)
}

/// Which file ran where, e.g. `m.cpu-int8.onnx (int8) on cpu`: a run's shards can differ (a CPU
/// variant added after planning, CPU and CUDA nodes), and their figures then differ slightly.
fn ran_on(session: &MeritSession) -> String {
    let file = session
        .path()
        .file_name()
        .unwrap_or_default()
        .to_string_lossy();
    match &session.card().precision {
        Some(precision) => format!("{file} ({precision}) on {}", session.provider()),
        None => format!("{file} on {}", session.provider()),
    }
}

/// One line when the shards did not all run the same file on the same kind of device.
fn mixed_runs(logs: &[TaskLog]) -> Option<String> {
    let mut counts = std::collections::BTreeMap::<&str, usize>::new();
    for log in logs.iter().filter(|log| !log.ran.is_empty()) {
        *counts.entry(&log.ran).or_default() += 1;
    }
    (counts.len() > 1).then(|| {
        let parts: Vec<String> = counts
            .iter()
            .map(|(ran, shards)| format!("{shards} with {ran}"))
            .collect();
        format!(
            "the shards ran differently ({}): their figures differ in the last digits",
            parts.join(", ")
        )
    })
}

fn merge_run(run: &Path) -> anyhow::Result<ExitCode> {
    let manifest = Manifest::read(run)?;
    let expected = manifest.expected_shards()?;
    let mut logs = Vec::new();
    let mut problems = Vec::new();
    for (k, files) in expected.iter().enumerate() {
        match check_shard(run, &manifest, k + 1, files) {
            Ok(log) => logs.push(log),
            Err(reason) => problems.push(reason),
        }
    }
    if !problems.is_empty() {
        for problem in &problems {
            eprintln!("{problem}");
        }
        eprintln!(
            "not merged: {} of {} shards are not finished; rerun them with \
             scripts/slurm/submit.sh --resume {}",
            problems.len(),
            manifest.shards,
            run.display()
        );
        return Ok(ExitCode::from(EXIT_FOUND_PROBLEMS));
    }
    let folders: Vec<PathBuf> = (1..=manifest.shards)
        .map(|k| shard_folder(run, k))
        .collect();
    merge_folders(&folders, run)?;
    let total = |field: fn(&TaskLog) -> f64| logs.iter().map(field).sum::<f64>();
    let (audio_s, wall_s) = (total(|l| l.audio_s), total(|l| l.wall_s));
    let failed = logs.iter().map(|l| l.failed).sum::<usize>();
    eprintln!(
        "run: {} files ({} analysed, {} from the cache, {failed} failed), {} of audio in {} of \
         task time, RTF {:.3} per task, peak memory {} MB",
        logs.iter().map(|l| l.files).sum::<usize>(),
        logs.iter().map(|l| l.analysed).sum::<usize>(),
        logs.iter().map(|l| l.cached).sum::<usize>(),
        crate::audio::format_duration(audio_s),
        crate::audio::format_duration(wall_s),
        if audio_s > 0.0 { wall_s / audio_s } else { 0.0 },
        logs.iter()
            .filter_map(|l| l.peak_memory_mb)
            .fold(0.0_f64, f64::max)
            .round()
    );
    if let Some(line) = mixed_runs(&logs) {
        eprintln!("{line}");
    }
    if let Some(slowest) = logs.iter().max_by(|a, b| a.wall_s.total_cmp(&b.wall_s)) {
        let mut walls: Vec<f64> = logs.iter().map(|l| l.wall_s).collect();
        walls.sort_by(f64::total_cmp);
        let median = walls[walls.len() / 2];
        eprintln!(
            "slowest shard: {}/{} on {} ({}): {:.1} s for {} files, {:.1} s of audio, RTF {:.3} \
             ({:.1}x the median shard's {:.1} s)",
            slowest.shard,
            slowest.shards,
            slowest.host,
            slowest
                .slurm_job
                .as_deref()
                .map_or_else(|| "not a Slurm job".to_owned(), |job| format!("job {job}")),
            slowest.wall_s,
            slowest.files,
            slowest.audio_s,
            slowest.rtf,
            if median > 0.0 {
                slowest.wall_s / median
            } else {
                1.0
            },
            median
        );
    }
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        eprintln!("{failed} files could not be analysed: see their error rows");
        ExitCode::from(EXIT_FOUND_PROBLEMS)
    })
}
