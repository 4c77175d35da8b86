//! `merit-studio info FILE...`

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;

use crate::jobs::scan::{CheckDepth, FileCheck, check_file};

use super::EXIT_FOUND_PROBLEMS;
use crate::audio::format_duration;

#[derive(Debug, clap::Args)]
pub struct InfoArgs {
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Read the headers only; skip the decode check.
    #[arg(long)]
    headers_only: bool,
    /// One JSON object per file instead of text.
    #[arg(long)]
    json: bool,
}

pub fn run(args: &InfoArgs) -> anyhow::Result<ExitCode> {
    let &InfoArgs {
        ref files,
        headers_only,
        json,
    } = args;
    let depth = if headers_only {
        CheckDepth::Headers
    } else {
        CheckDepth::FullDecode
    };
    let never = AtomicBool::new(false);
    let mut broken = 0;
    for path in files {
        let result = check_file(path, depth, &never);
        if json {
            let value = match &result {
                Ok(check) => serde_json::json!({"file": path, "ok": true, "check": check}),
                Err(error) => serde_json::json!({
                    "file": path, "ok": false, "error_kind": error.kind(), "error": error.to_string()
                }),
            };
            println!("{value}");
        } else {
            match &result {
                Ok(check) => print_check(path, check),
                Err(error) => println!("BROKEN [{}] {error}", error.kind()),
            }
        }
        broken += usize::from(result.is_err());
    }
    Ok(if broken == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_FOUND_PROBLEMS)
    })
}

fn print_check(path: &std::path::Path, check: &FileCheck) {
    let info = &check.info;
    println!("{}", path.display());
    let bits = info
        .bits_per_sample
        .map(|b| format!(", {b}-bit"))
        .unwrap_or_default();
    let sample_format = info
        .sample_format
        .as_deref()
        .map(|f| format!(" {f}"))
        .unwrap_or_default();
    println!(
        "  format    {} / {}{bits}{sample_format}",
        info.container, info.codec
    );
    let channels = match info.channels {
        1 => "1 channel".to_owned(),
        n => format!("{n} channels"),
    };
    println!(
        "  audio     {} Hz, {channels}, {} bytes",
        info.sample_rate_hz, info.file_size_bytes
    );
    match (info.duration_secs(), info.frames) {
        (Some(secs), Some(frames)) => {
            println!("  header    {} ({frames} frames)", format_duration(secs));
        }
        _ => println!("  header    duration not stated"),
    }
    if let (Some(decoded), Some(peak), Some(rms), Some(clipped)) = (
        check.decoded_duration_secs,
        check.peak_dbfs,
        check.rms_dbfs,
        check.clipped_samples,
    ) {
        println!("  decoded   {} ok", format_duration(decoded));
        println!("  levels    peak {peak:.1} dBFS, rms {rms:.1} dBFS, {clipped} clipped samples");
    }
}
