//! What a trace pass costs the window (issue 18's target: under 0.2 ms of UI time per frame for a
//! pass of 15,000 samples, 10 minutes at 25 Hz). Two windows show the same 11-minute recording
//! with every pane visible; both play to 10 minutes, one tracing all the way (its pass then holds
//! 15,000 samples), then both play on through stand-in sound cards, 25 ms of audio per frame (real
//! time at 40 frames per second), their frames interleaved so that whatever else runs on the
//! machine slows both alike; the difference of their frame times is the pass's cost. Headless
//! (egui_kittest: layout and tessellation, no GPU). Prints figures; asserts nothing.
//!
//!     cargo bench --bench trace [-- --model PATH]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{arg, percentile};
use egui::Key;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use merit_studio::audio::test_signal::speech_like;
use merit_studio::audio::wav::write_mono_f32;
use merit_studio::playback::{AudioSink, PlaybackSource};
use merit_studio::ui::{Playback, StudioApp};

const RATE: usize = 16_000;
/// 25 ms of audio: one frame at 40 frames per second.
const FRAME_SAMPLES: usize = 400;
const FRAMES: usize = 400;

/// The sound card: the bench takes samples from it.
#[derive(Clone, Default)]
struct Sink(Arc<Mutex<Option<PlaybackSource>>>);

impl AudioSink for Sink {
    fn play(&mut self, source: PlaybackSource) {
        *self.0.lock().unwrap() = Some(source);
    }
}

impl Sink {
    fn pull(&self, samples: usize) {
        let mut source = self.0.lock().unwrap();
        source
            .as_mut()
            .unwrap()
            .by_ref()
            .take(samples)
            .for_each(drop);
    }
}

/// A window on a copy of the recording in `folder`, analysed, with its sound card.
fn window(folder: &Path, model: &Path) -> (Harness<'static, StudioApp>, Sink) {
    let sink = Sink::default();
    let app = StudioApp::open(folder, None, Playback::Sink(Box::new(sink.clone())))
        .with_model(model.to_path_buf())
        .with_cache_dir(None)
        .with_annotator("bench");
    let mut harness = common::harness(app);
    let started = Instant::now();
    while harness.state().is_busy() || !harness.state().has_waveform() {
        harness.step();
        assert!(started.elapsed() < Duration::from_secs(1800), "analysis");
        std::thread::sleep(Duration::from_millis(5));
    }
    harness.run_steps(2);
    (harness, sink)
}

/// One frame after `samples` of audio played; its time in ms.
fn frame(harness: &mut Harness<'static, StudioApp>, sink: &Sink, samples: usize) -> f64 {
    sink.pull(samples);
    let started = Instant::now();
    harness.step();
    started.elapsed().as_secs_f64() * 1000.0
}

fn main() {
    let model = arg("--model").map_or_else(merit_studio::model::shipped_model_path, Into::into);
    let dir = tempfile::tempdir().unwrap();
    let seconds = 660.0;
    let signal = speech_like(seconds, RATE as u32);
    for name in ["tracing", "plain"] {
        std::fs::create_dir(dir.path().join(name)).unwrap();
        write_mono_f32(
            &dir.path().join(name).join("long.wav"),
            &signal,
            RATE as u32,
        )
        .unwrap();
    }
    let (mut tracing, tracing_sink) = window(&dir.path().join("tracing"), &model);
    let (mut plain, plain_sink) = window(&dir.path().join("plain"), &model);

    // Both play to 10 minutes, a second of audio per frame; one traces all the way.
    tracing.key_press(Key::T);
    tracing.step();
    plain.key_press(Key::Space);
    plain.step();
    let lane = tracing.get_by_label_contains("Trace lane:").rect();
    let mut filling: Vec<f64> = Vec::new();
    for second in 0..600 {
        let y = lane.top() + (lane.height() * ((second % 20) as f32 / 20.0));
        tracing.hover_at(egui::pos2(lane.center().x, y));
        filling.push(frame(&mut tracing, &tracing_sink, RATE));
        frame(&mut plain, &plain_sink, RATE);
    }
    let stored = tracing
        .state()
        .annotations()
        .label("long.wav", "bench")
        .map_or(0, |l| l.traces.passes.iter().map(|p| p.values.len()).sum());
    let (mut with, mut without): (Vec<f64>, Vec<f64>) = (0..FRAMES)
        .map(|_| {
            (
                frame(&mut tracing, &tracing_sink, FRAME_SAMPLES),
                frame(&mut plain, &plain_sink, FRAME_SAMPLES),
            )
        })
        .unzip();
    for times in [&mut with, &mut without, &mut filling] {
        times.sort_by(f64::total_cmp);
    }
    println!(
        "recording {seconds:.0} s, model {}, {FRAMES} frames of {} ms of audio each",
        model.display(),
        FRAME_SAMPLES * 1000 / RATE
    );
    println!(
        "pass stored before the timed frames: {stored} samples at 25 Hz (tracing: {})",
        tracing.state().transport().is_playing()
    );
    for (name, times) in [
        ("no pass", &without),
        ("pass of 15,000+", &with),
        ("filling (1 s/frame)", &filling),
    ] {
        println!(
            "frame time, {name:<20} p50 {:.3} ms, p95 {:.3} ms, max {:.3} ms",
            percentile(times, 0.5),
            percentile(times, 0.95),
            times[times.len() - 1]
        );
    }
    println!(
        "the pass's cost per frame: p50 {:+.3} ms, p95 {:+.3} ms",
        percentile(&with, 0.5) - percentile(&without, 0.5),
        percentile(&with, 0.95) - percentile(&without, 0.95)
    );
}
