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
mod retrain;
mod rnnoise;
mod runtime;
mod scan;
mod traces;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::model::DeviceChoice;

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
    Info(info::InfoArgs),
    /// Summarise what a collection (project, folder or manifest) holds and list what is broken.
    Scan(scan::ScanArgs),
    /// Say which ONNX Runtime library would be used, and load it.
    Runtime,
    /// Analyse files, folders, manifests or projects with Sparse MERIT: results.jsonl, enhanced
    /// WAVs under OUT/enhanced/, router probabilities as .npy under OUT/gates/.
    Analyze(analyze::AnalyzeArgs),
    /// Real-time factor, throughput and peak memory of the analysis on synthetic audio.
    Bench(bench::BenchArgs),
    /// Label recordings without the window: edits as JSON Lines on standard input (see README),
    /// one acknowledgement line per edit on standard output once it is safely on disk.
    Label(label::LabelArgs),
    /// How well the project's annotators agree: Krippendorff's alpha (classes nominal, attributes
    /// interval) with bootstrap intervals, Fleiss' kappa, and each pair of annotators.
    Agreement(agreement::AgreementArgs),
    /// Export labels: msp (folder), audiofolder (folder), jsonl (file), textgrid, eaf, audacity
    /// (folders, one file per recording). Provenance goes beside them.
    Export(export::ExportArgs),
    /// Import labels into an annotator's journal (never touching anyone else's).
    Import(export::ImportArgs),
    /// One analysis as shard tasks for a scheduler, in a run folder (scripts/slurm/ runs these).
    #[command(subcommand)]
    Cluster(cluster::ClusterCommand),
    /// Join the output folders of `analyze --shard` runs into one.
    Merge(analyze::MergeArgs),
    /// Fine-tune the project's model on its human labels (a held-out part scores it against its
    /// parent) and store it in the project's models/ folder.
    Retrain(retrain::RetrainArgs),
    /// List the project's models (* marks the one it analyses with) and switch with --use.
    Models(retrain::ModelsArgs),
    /// Enhance files with RNNoise (the classic baseline) into 16 kHz mono float WAVs.
    Rnnoise(rnnoise::RnnoiseArgs),
}

/// `--device`: the command line's names for [`DeviceChoice`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DeviceArg {
    /// CUDA if it registers, else the CPU.
    Auto,
    Cpu,
    Cuda,
}

impl From<DeviceArg> for DeviceChoice {
    fn from(device: DeviceArg) -> Self {
        match device {
            DeviceArg::Auto => Self::Auto,
            DeviceArg::Cpu => Self::Cpu,
            DeviceArg::Cuda => Self::Cuda,
        }
    }
}

/// Runs a headless subcommand.
#[must_use]
pub fn run(command: Command) -> ExitCode {
    let outcome = match command {
        Command::Info(args) => info::run(&args),
        Command::Scan(args) => scan::run(&args),
        Command::Runtime => runtime::run(),
        Command::Analyze(args) => analyze::run(&args),
        Command::Merge(args) => analyze::merge(&args),
        Command::Cluster(command) => cluster::run(command),
        Command::Label(args) => label::run(&args),
        Command::Agreement(args) => agreement::run(&args),
        Command::Export(args) => export::run_export(&args),
        Command::Import(args) => export::run_import(&args),
        Command::Bench(args) => bench::run(&args),
        Command::Rnnoise(args) => rnnoise::run(&args),
        Command::Retrain(args) => retrain::run_retrain(&args),
        Command::Models(args) => retrain::run_models(&args),
    };
    match outcome {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(EXIT_FAILED)
        }
    }
}

/// What is wrong with a `--split DEV,TEST` value.
#[derive(Debug, thiserror::Error)]
enum SplitError {
    #[error("expected DEV,TEST fractions, e.g. 0.1,0.1")]
    NotTwoFractions,
    #[error("{0:?} is not a fraction between 0 and 1")]
    NotAFraction(String),
    #[error("dev + test must leave something to train on")]
    NothingToTrainOn,
}

/// `0.1,0.1` -> (dev, test).
fn parse_split(text: &str) -> Result<(f64, f64), SplitError> {
    let (dev, test) = text.split_once(',').ok_or(SplitError::NotTwoFractions)?;
    let parse = |s: &str| {
        s.trim()
            .parse::<f64>()
            .ok()
            .filter(|v| (0.0..1.0).contains(v))
            .ok_or_else(|| SplitError::NotAFraction(s.to_owned()))
    };
    let (dev, test) = (parse(dev)?, parse(test)?);
    if dev + test >= 1.0 {
        return Err(SplitError::NothingToTrainOn);
    }
    Ok((dev, test))
}

#[cfg(test)]
mod tests {
    use super::*;

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
