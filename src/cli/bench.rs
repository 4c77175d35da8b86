//! `merit-studio bench`: real-time factor of the analysis (chunks, enhancement, gates, trajectory)
//! on a synthetic speech-like signal, and the peak memory it took.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use crate::audio::test_signal::speech_like;
use crate::model::analysis::{AnalysisParams, analyze_signal};
use crate::model::{MeritSession, SessionOptions};

use super::DeviceArg;

/// Peak resident memory of this process so far, from /proc (Linux), in MB.
pub(super) fn peak_memory_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    #[arg(long)]
    model: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = DeviceArg::Auto)]
    device: DeviceArg,
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
}

pub fn run(args: &BenchArgs) -> anyhow::Result<ExitCode> {
    let &BenchArgs {
        ref model,
        device,
        seconds,
        jobs,
        batch,
    } = args;
    let params = AnalysisParams {
        batch: batch.max(1),
        ..AnalysisParams::default()
    };
    let model: PathBuf = model
        .clone()
        .unwrap_or_else(crate::model::shipped_model_path);
    let mut session = MeritSession::load(
        &model,
        SessionOptions {
            device: device.into(),
            threads: jobs,
        },
    )?;
    let signal = speech_like(seconds, crate::audio::ANALYSIS_RATE_HZ);
    let before_mb = peak_memory_mb();
    // One untimed run first, so one-off costs (allocations, CUDA kernel selection per shape) are
    // not timed; the peak memory covers both runs.
    analyze_signal(&mut session, &signal, &params, None)?;
    let started = Instant::now();
    let analysis = analyze_signal(&mut session, &signal, &params, None)?;
    let elapsed = started.elapsed().as_secs_f64();
    let audio_mb = signal.len() as f64 * 4.0 / 1e6;
    println!(
        "model        {} ({})",
        session.card().model,
        model.display()
    );
    println!(
        "provider     {} (batch {})",
        session.provider(),
        params.batch
    );
    println!(
        "audio        {seconds:.0} s (synthetic speech-like), trajectory {} windows",
        analysis.trajectory.times_s.len()
    );
    println!("time         {elapsed:.2} s");
    let speed = seconds / elapsed;
    let relative = if speed >= 1.0 {
        format!("{speed:.1}x faster than real time")
    } else {
        format!("{:.1}x slower than real time", 1.0 / speed)
    };
    println!("real-time factor {:.4} ({relative})", elapsed / seconds);
    println!(
        "throughput   {:.2} hours of audio per minute",
        seconds / 3600.0 / (elapsed / 60.0)
    );
    if let (Some(before), Some(peak)) = (before_mb, peak_memory_mb()) {
        println!(
            "peak memory  {peak:.0} MB ({:.0} MB above start; the 16 kHz audio itself is {audio_mb:.0} MB)",
            peak - before
        );
    }
    Ok(ExitCode::SUCCESS)
}
