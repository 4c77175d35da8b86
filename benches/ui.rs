//! Frame time of the studio window with a 1-hour recording open and every pane visible (headless:
//! through egui_kittest, which builds the AccessKit tree every frame for its queries, then the same
//! frames as a desktop window draws them, layout and tessellation without AccessKit; no GPU
//! rasterisation), and how long the view of a 1-hour file takes to show its first waveform.
//! Prints figures; asserts nothing.
//!
//!     cargo bench --bench ui [-- --model PATH] [-- --seconds 3600]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::{BareWindow, arg, percentile};
use egui::Key;
use egui_kittest::Harness;
use merit_studio::audio::test_signal::speech_like;
use merit_studio::audio::wav::write_mono_f32;
use merit_studio::ui::{Playback, StudioApp};

fn wait_idle(harness: &mut Harness<'static, StudioApp>, what: &str) -> Duration {
    let started = Instant::now();
    loop {
        harness.step();
        if !harness.state().is_busy() {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(1800),
            "{what} did not finish"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    started.elapsed()
}

/// 300 frames, every other one pressing the next of `keys`, drawn by `frame` (which returns its
/// time in milliseconds): the sorted times of the frames with a key, and of those without.
fn zooming_and_still(
    keys: &[Key],
    mut frame: impl FnMut(Option<Key>) -> f64,
) -> (Vec<f64>, Vec<f64>) {
    let (mut changing, mut still) = (Vec::new(), Vec::new());
    for index in 0..300 {
        if index % 2 == 0 {
            changing.push(frame(Some(keys[(index / 2) % keys.len()])));
        } else {
            still.push(frame(None));
        }
    }
    changing.sort_by(f64::total_cmp);
    still.sort_by(f64::total_cmp);
    (changing, still)
}

fn main() {
    let seconds: f64 = arg("--seconds").map_or(3600.0, |s| s.parse().unwrap());
    let model = arg("--model").map_or_else(merit_studio::model::shipped_model_path, Into::into);
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("long.wav");
    write_mono_f32(&wav, &speech_like(seconds, 16_000), 16_000).unwrap();
    // First waveform: the window opens the folder's only recording by itself once its header is
    // read; timed from opening the folder until the decoded signal is drawn (so it includes
    // listing and the header check, a few milliseconds).
    let started = Instant::now();
    let app = StudioApp::open(dir.path(), None, Playback::Unavailable("bench".into()))
        .with_model(model.clone())
        .with_cache_dir(None);
    let mut harness = common::harness(app);
    while !harness.state().has_waveform() {
        harness.step();
        std::thread::sleep(Duration::from_millis(1));
    }
    let first_waveform = started.elapsed();
    let analysed = wait_idle(&mut harness, "analysis");

    // Frames with every pane visible: zooming in and out and scrolling (new textures each time),
    // and frames where nothing changes.
    let keys = [
        Key::Equals,
        Key::Equals,
        Key::ArrowRight,
        Key::Minus,
        Key::ArrowLeft,
        Key::F,
    ];
    let (changing, still) = zooming_and_still(&keys, |key| {
        if let Some(key) = key {
            harness.key_press(key);
        }
        let started = Instant::now();
        harness.step();
        started.elapsed().as_secs_f64() * 1000.0
    });
    // The same frames as a desktop window draws them (no AccessKit tree, tessellation included).
    let mut window = BareWindow::new(harness.into_state());
    let (bare_changing, bare_still) = zooming_and_still(&keys, |key| window.frame(key));
    println!(
        "recording      {seconds:.0} s of 16 kHz audio, model {}",
        model.display()
    );
    println!(
        "first waveform {:.0} ms after opening its folder (list, header, decode, pyramid)",
        first_waveform.as_secs_f64() * 1000.0
    );
    println!(
        "analysis       {:.1} s until every pane was ready",
        analysed.as_secs_f64()
    );
    for (name, samples) in [
        ("zoom/scroll, kittest (AccessKit)", &changing),
        ("still, kittest (AccessKit)", &still),
        ("zoom/scroll, window", &bare_changing),
        ("still, window", &bare_still),
    ] {
        println!(
            "frame time, {name:<33} p50 {:.2} ms, p95 {:.2} ms, max {:.2} ms ({} frames)",
            percentile(samples, 0.5),
            percentile(samples, 0.95),
            samples[samples.len() - 1],
            samples.len()
        );
    }
}
