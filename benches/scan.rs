//! Opening and scanning a collection of 10,000 small files: listing (what opening a project
//! costs), reading every header, and a full decode check on all cores.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::path::PathBuf;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use merit_studio::jobs::JobContext;
use merit_studio::jobs::scan::{CheckDepth, check_files};
use merit_studio::project::{Collection, Project};

const FILES: usize = 10_000;

fn make_collection(dir: &std::path::Path) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 16_000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    for index in 0..FILES {
        let folder = dir.join(format!("speaker_{:03}", index / 100));
        std::fs::create_dir_all(&folder).unwrap();
        let mut writer =
            hound::WavWriter::create(folder.join(format!("utt_{index:05}.wav")), spec).unwrap();
        // 0.5 s each: 10,000 files are 83 minutes of audio.
        for i in 0..8_000_u32 {
            writer
                .write_sample(((i * 37 + index as u32) % 2000) as i16 - 1000)
                .unwrap();
        }
        writer.finalize().unwrap();
    }
}

fn scan_benchmarks(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    make_collection(dir.path());
    let project = Project::open(dir.path()).unwrap();
    let mut group = c.benchmark_group("collection_10k_files");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(15));
    group.throughput(Throughput::Elements(FILES as u64));
    group.bench_function("open_and_list", |b| {
        b.iter(|| black_box(Collection::load(&project).recordings.len()));
    });
    let paths: Vec<PathBuf> = Collection::load(&project)
        .recordings
        .into_iter()
        .map(|r| r.path)
        .collect();
    let threads = merit_studio::jobs::available_cores();
    for (name, depth) in [
        ("headers", CheckDepth::Headers),
        ("full_decode", CheckDepth::FullDecode),
    ] {
        group.bench_function(format!("{name}_{threads}_threads"), |b| {
            b.iter(|| {
                black_box(check_files(&paths, depth, threads, &JobContext::detached()).len())
            });
        });
    }
    group.finish();
}

criterion_group!(benches, scan_benchmarks);
criterion_main!(benches);
