//! The command line: `merit-studio [PATH]` opens the studio; subcommands work headless.
//!
//! Exit codes: 0 everything fine; 1 the command ran but some files are broken or missing;
//! 2 the command could not run (bad arguments, unreadable project, no runtime).

mod agreement;
mod analyze;
mod bench;
mod cluster;
mod export;
mod info;
mod label;
mod rnnoise;
mod runtime;
mod scan;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Exit code when the command ran but found broken or missing files.
pub const EXIT_FOUND_PROBLEMS: u8 = 1;
/// Exit code when the command could not do its work at all.
pub const EXIT_FAILED: u8 = 2;

#[derive(Debug, Parser)]
#[command(
    name = "merit-studio",
    version,
    about = "Label and study emotional speech in noisy recordings with Sparse MERIT"
)]
pub struct Cli {
    /// Project folder, project.json, folder of audio or manifest to open in the studio
    /// (default: the bundled demo project).
    pub path: Option<PathBuf>,
    /// Model for the studio window (default: the project's, else the shipped compact model).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Label as this annotator in the window (default: $USER).
    #[arg(long)]
    pub annotator: Option<String>,
    /// Open this recording at start (its path as listed, or its file name).
    #[arg(long)]
    pub select: Option<String>,
    /// Render the window once everything has loaded, write this PNG and quit (needs a display,
    /// e.g. Xvfb).
    #[arg(long, value_name = "OUT.png")]
    pub screenshot: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show format, sample rate, channels, duration and levels of audio files, and check they decode.
    Info {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Read the headers only; skip the decode check.
        #[arg(long)]
        headers_only: bool,
        /// One JSON object per file instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Summarise what a collection (project, folder or manifest) holds and list what is broken.
    Scan {
        path: PathBuf,
        /// Read headers only (fast) instead of decoding every file.
        #[arg(long)]
        headers_only: bool,
        /// Files checked in parallel (default: the number of cores).
        #[arg(long)]
        jobs: Option<usize>,
        /// Print a JSON report instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Say which ONNX Runtime library would be used, and load it.
    Runtime,
    /// Analyse files, folders, manifests or projects with Sparse MERIT: results.jsonl, enhanced
    /// WAVs under OUT/enhanced/, router probabilities as .npy under OUT/gates/.
    Analyze {
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
        /// ONNX model (default: the project's, else models/sparse-merit-compact.onnx).
        #[arg(long)]
        model: Option<PathBuf>,
        #[arg(long, value_enum, default_value_t = crate::model::DeviceChoice::Auto)]
        device: crate::model::DeviceChoice,
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
    },
    /// Real-time factor, throughput and peak memory of the analysis on synthetic audio.
    Bench {
        #[arg(long)]
        model: Option<PathBuf>,
        #[arg(long, value_enum, default_value_t = crate::model::DeviceChoice::Auto)]
        device: crate::model::DeviceChoice,
        /// Length of the test signal.
        #[arg(long, default_value_t = 600.0)]
        seconds: f64,
        /// ONNX Runtime threads (default: let it choose).
        #[arg(long, default_value_t = 0)]
        jobs: usize,
        /// Audio per model run, in trajectory windows (chunks get as much audio); larger batches
        /// keep a GPU busy.
        #[arg(long, default_value_t = 16)]
        batch: usize,
    },
    /// Label recordings without the window: edits as JSON Lines on standard input (see README),
    /// one acknowledgement line per edit on standard output once it is safely on disk.
    Label {
        project: PathBuf,
        /// Whose journal the edits go to.
        #[arg(long)]
        annotator: String,
    },
    /// How well the project's annotators agree: Krippendorff's alpha (classes nominal, attributes
    /// interval) with bootstrap intervals, Fleiss' kappa, and each pair of annotators.
    Agreement {
        project: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Export labels: msp (folder), audiofolder (folder), jsonl (file), textgrid, eaf, audacity
    /// (folders, one file per recording). Provenance goes beside them.
    Export {
        project: PathBuf,
        #[arg(long, value_enum)]
        format: crate::export::Format,
        #[arg(long)]
        out: PathBuf,
        /// One annotator's labels (default: the consensus of all).
        #[arg(long)]
        annotator: Option<String>,
        /// Also list recordings nobody has labelled.
        #[arg(long)]
        include_unlabelled: bool,
        /// Speaker-disjoint splits: fractions for dev and test, e.g. 0.1,0.1 (default: keep the
        /// collection's split column).
        #[arg(long, value_parser = parse_split)]
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
    },
    /// Import labels into an annotator's journal (never touching anyone else's).
    Import {
        project: PathBuf,
        #[arg(long, value_enum)]
        format: export::ImportFormat,
        input: PathBuf,
        #[arg(long)]
        annotator: String,
        /// The recording a per-recording file (Audacity, TextGrid) describes.
        #[arg(long)]
        file: Option<String>,
        /// TextGrid tier to read (default: consensus).
        #[arg(long)]
        tier: Option<String>,
        /// Detailed MSP CSV: only this annotator's rows.
        #[arg(long)]
        from_annotator: Option<String>,
    },
    /// One analysis as shard tasks for a scheduler, in a run folder (scripts/slurm/ runs these).
    #[command(subcommand)]
    Cluster(cluster::ClusterCommand),
    /// Join the output folders of `analyze --shard` runs into one.
    Merge {
        #[arg(required = true)]
        shards: Vec<PathBuf>,
        #[arg(long)]
        out: PathBuf,
    },
    /// Enhance files with RNNoise (the classic baseline) into 16 kHz mono float WAVs.
    Rnnoise {
        inputs: Vec<PathBuf>,
        /// A text file with one input path per line (in addition to INPUTS).
        #[arg(long)]
        list: Option<PathBuf>,
        /// Output folder.
        #[arg(long)]
        out: PathBuf,
        /// Inputs under this folder keep their relative path under OUT (default: file name only).
        #[arg(long)]
        root: Option<PathBuf>,
    },
}

/// Runs a headless subcommand.
#[must_use]
pub fn run(command: Command) -> ExitCode {
    let outcome = match command {
        Command::Info {
            files,
            headers_only,
            json,
        } => info::run(&files, headers_only, json),
        Command::Scan {
            path,
            headers_only,
            jobs,
            json,
        } => scan::run(&path, headers_only, jobs, json),
        Command::Runtime => runtime::run(),
        Command::Analyze {
            inputs,
            model,
            device,
            out,
            window_s,
            hop_s,
            shard,
            jobs,
            cache_dir,
            no_cache,
        } => analyze::run(&analyze::AnalyzeArgs {
            inputs: &inputs,
            model: model.as_deref(),
            device,
            out: &out,
            window_s,
            hop_s,
            shard: shard.as_deref(),
            jobs,
            cache_dir: (!no_cache)
                .then(|| cache_dir.unwrap_or_else(crate::jobs::cache::default_folder)),
        }),
        Command::Merge { shards, out } => analyze::merge(&shards, &out),
        Command::Cluster(command) => cluster::run(command),
        Command::Label { project, annotator } => label::run(&project, &annotator),
        Command::Agreement { project, json } => agreement::run(&project, json),
        Command::Export {
            project,
            format,
            out,
            annotator,
            include_unlabelled,
            split,
            seed,
            audio16k,
            metadata_csv,
            model_labels,
            enhanced,
            model,
        } => export::run_export(&export::ExportArgs {
            project: &project,
            format,
            out: &out,
            annotator: annotator.as_deref(),
            include_unlabelled,
            split,
            seed,
            audio16k,
            metadata_csv,
            model_labels,
            enhanced,
            model: model.as_deref(),
        }),
        Command::Import {
            project,
            format,
            input,
            annotator,
            file,
            tier,
            from_annotator,
        } => export::run_import(&export::ImportArgs {
            project: &project,
            format,
            input: &input,
            annotator: &annotator,
            file: file.as_deref(),
            tier: tier.as_deref(),
            from_annotator: from_annotator.as_deref(),
        }),
        Command::Bench {
            model,
            device,
            seconds,
            jobs,
            batch,
        } => bench::run(model.as_deref(), device, seconds, jobs, batch),
        Command::Rnnoise {
            inputs,
            list,
            out,
            root,
        } => rnnoise::run(&inputs, list.as_deref(), &out, root.as_deref()),
    };
    match outcome {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(EXIT_FAILED)
        }
    }
}

/// `h:mm:ss.mmm`, the studio's time format.
#[must_use]
pub fn format_duration(secs: f64) -> String {
    let millis_total = (secs.max(0.0) * 1000.0).round() as u64;
    let (hours, rest) = (millis_total / 3_600_000, millis_total % 3_600_000);
    let (minutes, rest) = (rest / 60_000, rest % 60_000);
    format!("{hours}:{minutes:02}:{:02}.{:03}", rest / 1000, rest % 1000)
}

/// `0.1,0.1` -> (dev, test).
fn parse_split(text: &str) -> Result<(f64, f64), String> {
    let (dev, test) = text
        .split_once(',')
        .ok_or("expected DEV,TEST fractions, e.g. 0.1,0.1")?;
    let parse = |s: &str| {
        s.trim()
            .parse::<f64>()
            .ok()
            .filter(|v| (0.0..1.0).contains(v))
            .ok_or_else(|| format!("{s:?} is not a fraction between 0 and 1"))
    };
    let (dev, test) = (parse(dev)?, parse(test)?);
    if dev + test >= 1.0 {
        return Err("dev + test must leave something to train on".into());
    }
    Ok((dev, test))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_h_mm_ss_mmm() {
        assert_eq!(format_duration(0.0), "0:00:00.000");
        assert_eq!(format_duration(3.2146), "0:00:03.215");
        assert_eq!(format_duration(3723.5), "1:02:03.500");
    }

    #[test]
    fn command_line_parses() {
        Cli::command_for_tests().debug_assert();
    }

    impl Cli {
        fn command_for_tests() -> clap::Command {
            <Self as clap::CommandFactory>::command()
        }
    }
}
