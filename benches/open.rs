//! Frame times of the studio window while it opens a project of 100,000 recordings whose journals
//! hold 200,000 lines: the click's frame, then every frame until the listing, the journal replay
//! and the header reading (all in the background) are done. Headless, through egui_kittest
//! (layout and tessellation, no GPU rasterisation). Prints figures; asserts nothing.
//!
//!     cargo bench --bench open [-- --rows 100000]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use common::{arg, percentile};
use merit_studio::ui::{Playback, StudioApp};

const ANNOTATORS: usize = 2;
const CLASSES: [&str; 4] = ["angry", "sad", "happy", "neutral"];

/// A manifest of `rows` recordings (files absent: listing and header reading still visit each
/// row) and `ANNOTATORS` journals of `rows` lines each.
fn large_project(dir: &std::path::Path, rows: usize) -> std::path::PathBuf {
    let mut manifest = String::from("path,speaker,label\n");
    for i in 0..rows {
        writeln!(
            manifest,
            "audio/{i:06}.wav,spk{:04},{}",
            i % 1000,
            CLASSES[i % 4]
        )
        .unwrap();
    }
    let path = dir.join("manifest.csv");
    std::fs::write(&path, manifest).unwrap();
    let journals = dir.join("annotations");
    std::fs::create_dir_all(&journals).unwrap();
    for annotator in 0..ANNOTATORS {
        let mut text = String::new();
        for seq in 1..=rows {
            writeln!(
                text,
                r#"{{"v":1,"seq":{seq},"annotator":"rater{annotator}","time_ms":1795700000000,"file":"audio/{:06}.wav","op":"set_class","class":"{}","source":"human"}}"#,
                (seq * 7 + annotator * 13) % rows,
                CLASSES[(seq + annotator) % 4]
            )
            .unwrap();
        }
        std::fs::write(journals.join(format!("rater{annotator}.jsonl")), text).unwrap();
    }
    path
}

fn main() {
    let rows: usize = arg("--rows").map_or(100_000, |s| s.parse().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let manifest = large_project(dir.path(), rows);
    let empty = tempfile::tempdir().unwrap();
    let app = StudioApp::open(empty.path(), None, Playback::Unavailable("bench".into()))
        .with_cache_dir(None);
    let mut harness = common::harness(app);
    while harness.state().is_busy() {
        harness.step();
        std::thread::sleep(Duration::from_millis(5));
    }

    // The click: the open starts, and the click's frame is drawn.
    let started = Instant::now();
    harness.state_mut().open_path(&manifest);
    harness.step();
    let first_frame = started.elapsed();
    let mut frames = Vec::new();
    while harness.state().is_busy() {
        let frame = Instant::now();
        harness.step();
        frames.push(frame.elapsed().as_secs_f64() * 1000.0);
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "opening did not finish"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    let loaded = started.elapsed();
    frames.sort_by(f64::total_cmp);
    println!("project        {rows} recordings, {ANNOTATORS} journals of {rows} lines");
    println!(
        "first frame    {:.2} ms after the click (open_path + one frame)",
        first_frame.as_secs_f64() * 1000.0
    );
    if !frames.is_empty() {
        println!(
            "while loading  p50 {:.2} ms, p95 {:.2} ms, max {:.2} ms ({} frames)",
            percentile(&frames, 0.5),
            percentile(&frames, 0.95),
            frames[frames.len() - 1],
            frames.len()
        );
    }
    println!(
        "loaded         {:.2} s until listing, journals and headers were done",
        loaded.as_secs_f64()
    );
}
