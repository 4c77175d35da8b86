//! `merit-studio bench`: real-time factor of the analysis (chunks, enhancement, gates, trajectory)
//! on a synthetic speech-like signal, and the peak memory it took; with `--open-to-trajectory
//! FILE`, how long the window's path from selecting a recording to its trajectory takes.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use crate::audio::test_signal::speech_like;
use crate::audio::{DecodeOptions, decode_file};
use crate::jobs::batch::{Recording, analyze_recording};
use crate::jobs::cache::AnalysisCache;
use crate::model::analysis::{AnalysisParams, PartialAnalysis, Steering, analyze_signal};
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
    /// On the CPU, run the model file itself, not the int8 variant shipped beside it.
    #[arg(long)]
    float: bool,
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
    /// Also time a window zoomed to this many seconds in the middle of the signal: how long until
    /// that span is analysed, the window's steering analysing it first (0: not timed).
    #[arg(long, default_value_t = 0.0)]
    view_seconds: f64,
    /// Length of the chunks a long recording is analysed in (the window's default: 20 s).
    #[arg(long, default_value_t = AnalysisParams::default().chunk_s)]
    chunk_seconds: f64,
    /// Instead: time the window's path from selecting FILE to its trajectory (decode once, then
    /// the analysis of the decoded signal; then the same from the analysis cache), 5 times each,
    /// with the model already loaded as it is once the window has analysed one recording.
    #[arg(long, value_name = "FILE")]
    open_to_trajectory: Option<PathBuf>,
}

pub fn run(args: &BenchArgs) -> anyhow::Result<ExitCode> {
    let &BenchArgs {
        ref model,
        device,
        float,
        seconds,
        jobs,
        batch,
        chunk_seconds,
        view_seconds,
        ref open_to_trajectory,
    } = args;
    let params = AnalysisParams {
        batch: batch.max(1),
        chunk_s: chunk_seconds,
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
            float_on_cpu: float,
        },
    )?;
    if let Some(file) = open_to_trajectory {
        return open_to_trajectory_bench(&mut session, file, &params);
    }
    let signal = speech_like(seconds, crate::audio::ANALYSIS_RATE_HZ);
    let before_mb = peak_memory_mb();
    // One untimed run first, so one-off costs (allocations, CUDA kernel selection per shape) are
    // not timed; the peak memory covers both runs.
    analyze_signal(&mut session, &signal, None, &params, Steering::default())?;
    let started = Instant::now();
    let analysis = analyze_signal(&mut session, &signal, None, &params, Steering::default())?;
    let elapsed = started.elapsed().as_secs_f64();
    let audio_mb = signal.len() as f64 * 4.0 / 1e6;
    println!(
        "model        {} ({})",
        session.card().model,
        session.path().display()
    );
    println!(
        "provider     {} (batch {}, chunks of {} s)",
        session.provider(),
        params.batch,
        session.chunk_seconds(params.chunk_s)
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
    if view_seconds > 0.0 {
        let view = (seconds - view_seconds).max(0.0) / 2.0..(seconds + view_seconds) / 2.0;
        let in_view = time_to_view(&mut session, &signal, &params, view)?;
        println!(
            "in view      {view_seconds:.0} s in the middle analysed after {in_view:.2} s (the whole: {elapsed:.2} s)"
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Seconds until the window, showing `view`, has that span analysed: the steered analysis's first
/// partial result whose SER router covers the view (or the whole analysis, when it ends first).
fn time_to_view(
    session: &mut MeritSession,
    signal: &[f32],
    params: &AnalysisParams,
    view: std::ops::Range<f64>,
) -> anyhow::Result<f64> {
    let started = Instant::now();
    let mut covered_after = None;
    let focus = || Some(view.clone());
    let mut watch = |partial: PartialAnalysis| {
        let router = &partial.so_far.ser;
        let frames = router.frame_at(view.start).unwrap_or(0)
            ..router.frame_at(view.end).unwrap_or(router.frames());
        if covered_after.is_none() && frames.into_iter().all(|f| router.is_analysed(f)) {
            covered_after = Some(started.elapsed().as_secs_f64());
        }
    };
    let steering = Steering {
        focus: Some(&focus),
        partial: Some(&mut watch),
        ..Steering::default()
    };
    analyze_signal(session, signal, None, params, steering)?;
    let whole = started.elapsed().as_secs_f64();
    Ok(covered_after.unwrap_or(whole))
}

const OPENINGS: usize = 5;

/// Seconds each timed opening took.
#[derive(Default)]
struct Openings {
    /// Until the decoded signal is there (the waveform can show).
    decode: Vec<f64>,
    /// From then until the analysis is there (label, trajectory, routing, enhanced audio).
    analysis: Vec<f64>,
    /// A later opening answered by the analysis cache (hash the file, read the entry).
    cached: Vec<f64>,
    duration_s: f64,
}

fn median_ms(times: &[f64]) -> f64 {
    let mut sorted = times.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[sorted.len() / 2] * 1000.0
}

/// What the window does when a recording is selected: decode it (the waveform shows), hand the
/// decoded signal to the analysis (the trajectory shows); and on a later opening, the cache.
fn open_to_trajectory_bench(
    session: &mut MeritSession,
    file: &Path,
    params: &AnalysisParams,
) -> anyhow::Result<ExitCode> {
    let cache_dir = std::env::temp_dir().join(format!("merit-bench-cache-{}", std::process::id()));
    let result = time_openings(
        session,
        file,
        params,
        &AnalysisCache::new(cache_dir.clone()),
    );
    // The cache folder is this run's alone: gone whether or not the openings succeeded.
    let _ = std::fs::remove_dir_all(&cache_dir);
    let openings = result?;
    println!(
        "model        {} ({}), provider {}",
        session.card().model,
        session.path().display(),
        session.provider()
    );
    println!(
        "recording    {} ({:.2} s)",
        file.display(),
        openings.duration_s
    );
    let total: Vec<f64> = openings
        .decode
        .iter()
        .zip(&openings.analysis)
        .map(|(d, a)| d + a)
        .collect();
    println!(
        "decode       {:.1} ms (the waveform can show), medians of {OPENINGS} openings",
        median_ms(&openings.decode)
    );
    println!(
        "analysis     {:.1} ms (utterance label, trajectory, routing, enhanced audio)",
        median_ms(&openings.analysis)
    );
    println!(
        "select -> trajectory {:.1} ms (the window adds one frame to draw it)",
        median_ms(&total)
    );
    println!(
        "from the cache {:.1} ms (a recording analysed before: hash the file, read the entry)",
        median_ms(&openings.cached)
    );
    Ok(ExitCode::SUCCESS)
}

/// Times `OPENINGS` openings of `file`, after an untimed one (one-off allocations, as in a window
/// that has analysed before) that also fills `cache`.
fn time_openings(
    session: &mut MeritSession,
    file: &Path,
    params: &AnalysisParams,
    cache: &AnalysisCache,
) -> anyhow::Result<Openings> {
    let mut openings = Openings::default();
    for run in 0..=OPENINGS {
        let started = Instant::now();
        let decoded = decode_file(
            file,
            DecodeOptions {
                keep_original: false,
                cancel: None,
            },
        )?;
        let decoded_at = started.elapsed().as_secs_f64();
        let recording = Recording {
            path: file,
            decoded: Some(decoded.analysis.as_slice()),
            reference: None,
        };
        let (analysis, _) =
            analyze_recording(session, &recording, params, None, Steering::default())?;
        let analysed_at = started.elapsed().as_secs_f64();
        openings.duration_s = analysis.duration_s;
        if run == 0 {
            analyze_recording(
                session,
                &recording,
                params,
                Some(cache),
                Steering::default(),
            )?;
            continue;
        }
        openings.decode.push(decoded_at);
        openings.analysis.push(analysed_at - decoded_at);
        let started = Instant::now();
        let from_file = Recording {
            decoded: None,
            ..recording
        };
        let (_, hit) = analyze_recording(
            session,
            &from_file,
            params,
            Some(cache),
            Steering::default(),
        )?;
        anyhow::ensure!(
            hit,
            "the analysis cache did not answer for {}",
            file.display()
        );
        openings.cached.push(started.elapsed().as_secs_f64());
    }
    Ok(openings)
}
