//! Audio-core throughput: decoding 10 minutes of WAV/FLAC/MP3 (against sox/ffmpeg on the same
//! files when they are installed), building the waveform pyramid of 1 hour, a 1-minute spectrogram.
//!
//! `cargo bench --bench audio` prints criterion's figures; "thrpt" in elements/s is seconds of
//! audio per second, i.e. times real time.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use merit_studio::audio::pitch::prosody_track;
use merit_studio::audio::pyramid::WaveformPyramid;
use merit_studio::audio::spectrogram::{SpectrogramParams, spectrogram};
use merit_studio::audio::test_signal::speech_like;
use merit_studio::audio::{DecodeOptions, decode_file};

const DECODE_SECONDS: u32 = 600;
const RATE_HZ: u32 = 44_100;

fn test_files(dir: &Path) -> Vec<(&'static str, PathBuf)> {
    let wav = dir.join("bench.wav");
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: RATE_HZ,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut writer = hound::WavWriter::create(&wav, spec).unwrap();
    for sample in speech_like(f64::from(DECODE_SECONDS), RATE_HZ) {
        let value = (sample * 32767.0) as i16;
        writer.write_sample(value).unwrap();
        writer.write_sample(value).unwrap();
    }
    writer.finalize().unwrap();
    let mut files = vec![("wav", wav.clone())];
    for (name, extension, args) in [
        ("flac", "flac", vec!["-c:a", "flac"]),
        ("mp3", "mp3", vec!["-c:a", "libmp3lame", "-b:a", "128k"]),
    ] {
        let out = dir.join(format!("bench.{extension}"));
        let status = Command::new("ffmpeg")
            .args(["-v", "error", "-y", "-i"])
            .arg(&wav)
            .args(&args)
            .arg(&out)
            .status();
        match status {
            Ok(s) if s.success() => files.push((name, out)),
            _ => println!("note: ffmpeg not available, skipping the {name} decode benchmark"),
        }
    }
    files
}

/// Best of three wall times of an external decoder, or None when it is not installed.
fn time_external(program: &str, args: &[&str], path: &Path) -> Option<Duration> {
    let mut best = None;
    for _ in 0..3 {
        let start = Instant::now();
        let status = Command::new(program)
            .args(args.iter().map(|a| {
                if *a == "{}" {
                    path.as_os_str()
                } else {
                    a.as_ref()
                }
            }))
            .status()
            .ok()?;
        if !status.success() {
            return None;
        }
        let elapsed = start.elapsed();
        best = Some(best.map_or(elapsed, |b: Duration| b.min(elapsed)));
    }
    best
}

fn decode_benchmarks(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let files = test_files(dir.path());
    let mut group = c.benchmark_group("decode_10min_44k_stereo_to_16k_mono");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));
    group.throughput(Throughput::Elements(u64::from(DECODE_SECONDS)));
    for (name, path) in &files {
        group.bench_function(*name, |b| {
            b.iter(|| {
                black_box(
                    decode_file(path, DecodeOptions::default())
                        .unwrap()
                        .analysis
                        .len(),
                )
            });
        });
    }
    group.finish();
    for (name, path) in &files {
        for (tool, args) in [
            (
                "sox",
                &[
                    "-q",
                    "{}",
                    "-t",
                    "f32",
                    "-r",
                    "16000",
                    "-c",
                    "1",
                    "/dev/null",
                ][..],
            ),
            (
                "ffmpeg",
                &[
                    "-v",
                    "error",
                    "-i",
                    "{}",
                    "-ac",
                    "1",
                    "-ar",
                    "16000",
                    "-f",
                    "f32le",
                    "-y",
                    "/dev/null",
                ][..],
            ),
        ] {
            match time_external(tool, args, path) {
                Some(time) => println!(
                    "external {tool:>6} {name:>4} -> 16 kHz mono: {:.3} s = {:.0}x real time",
                    time.as_secs_f64(),
                    f64::from(DECODE_SECONDS) / time.as_secs_f64()
                ),
                None => println!(
                    "external {tool:>6} {name:>4}: not installed or cannot read this format"
                ),
            }
        }
    }
}

fn pyramid_benchmark(c: &mut Criterion) {
    let hour: std::sync::Arc<[f32]> = speech_like(3600.0, 16_000).into();
    let mut group = c.benchmark_group("waveform_pyramid");
    group.sample_size(10);
    group.bench_function("build_1h_16k", |b| {
        b.iter(|| black_box(WaveformPyramid::new(hour.clone(), 16_000).level_count()));
    });
    let pyramid = WaveformPyramid::new(hour.clone(), 16_000);
    group.bench_function("columns_1920_of_1h", |b| {
        b.iter(|| black_box(pyramid.columns(0.0, 3600.0, 1920).len()));
    });
    group.finish();
}

fn spectrogram_benchmark(c: &mut Criterion) {
    let minute = speech_like(60.0, 16_000);
    let mut group = c.benchmark_group("spectrogram");
    group.sample_size(10);
    group.throughput(Throughput::Elements(60));
    group.bench_function("stft_1min_16k_400_160", |b| {
        b.iter(|| black_box(spectrogram(&minute, 16_000, &SpectrogramParams::default()).frames));
    });
    group.finish();
}

/// The prosody lane's F0 and intensity of one hour of audio on two threads (target: 5 s).
fn prosody_benchmark(c: &mut Criterion) {
    let hour = speech_like(3600.0, 16_000);
    let mut group = c.benchmark_group("prosody");
    group.sample_size(10);
    group.bench_function("f0_intensity_1h_16k_2_threads", |b| {
        b.iter(|| black_box(prosody_track(&hour, 2).f0_hz.len()));
    });
    group.finish();
}

criterion_group!(
    benches,
    decode_benchmarks,
    pyramid_benchmark,
    spectrogram_benchmark,
    prosody_benchmark
);
criterion_main!(benches);
