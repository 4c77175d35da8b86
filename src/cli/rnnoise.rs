//! `merit-studio rnnoise INPUT... --out DIR`: the RNNoise baseline on files, as 16 kHz mono WAVs.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::audio::{ANALYSIS_RATE_HZ, DecodeOptions, decode_file, rnnoise, wav};

use super::EXIT_FOUND_PROBLEMS;

#[derive(Debug, clap::Args)]
pub struct RnnoiseArgs {
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
}

pub fn run(args: &RnnoiseArgs) -> anyhow::Result<ExitCode> {
    let (inputs, out) = (&args.inputs, args.out.as_path());
    let (list, root) = (args.list.as_deref(), args.root.as_deref());
    let mut files = inputs.clone();
    if let Some(list) = list {
        let text = std::fs::read_to_string(list)
            .map_err(|e| anyhow::anyhow!("{}: {e}", list.display()))?;
        files.extend(
            text.lines()
                .filter(|l| !l.trim().is_empty())
                .map(PathBuf::from),
        );
    }
    let mut failed = 0;
    for input in &files {
        // Only the path's normal parts under `out`: a listed `root/../x` must not write outside.
        let relative = root
            .and_then(|root| input.strip_prefix(root).ok())
            .map_or_else(
                || PathBuf::from(input.file_name().unwrap_or_default()),
                |relative| crate::fsio::safe_relative(&relative.to_string_lossy()),
            );
        let target = out.join(relative).with_extension("wav");
        let result = decode_file(input, DecodeOptions::default())
            .map_err(anyhow::Error::from)
            .and_then(|decoded| Ok(rnnoise::denoise_16k(&decoded.analysis)?))
            .and_then(|enhanced| Ok(wav::write_mono_f32(&target, &enhanced, ANALYSIS_RATE_HZ)?));
        if let Err(error) = result {
            println!("FAILED {}: {error:#}", input.display());
            failed += 1;
        }
    }
    println!(
        "{} of {} files enhanced with RNNoise into {}",
        files.len() - failed,
        files.len(),
        out.display()
    );
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_FOUND_PROBLEMS)
    })
}
