//! Soak: the window opens recordings one after another — each decoded, analysed (no cache), played
//! for a moment through a fake sound card, zoomed in and out, stopped — 2,000 times over a folder
//! of 50 distinct recordings, and reports resident memory and the number of live textures after
//! every 250 opens, and the growth from the 250th open to the end. Headless, through egui_kittest. Prints figures; asserts
//! nothing.
//!
//!     cargo bench --bench soak [-- --opens 2000] [-- --model PATH]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::arg;
use egui::Key;
use egui_kittest::Harness;
use merit_studio::audio::test_signal::speech_like;
use merit_studio::audio::wav::write_mono_f32;
use merit_studio::playback::{AudioSink, PlaybackSource};
use merit_studio::ui::{Playback, StudioApp};

const RECORDINGS: usize = 50;
/// Opens before the first measurement, and between two reports: the allocator's heaps and ONNX
/// Runtime's arena settle in the first couple of hundred opens (how far they climb after that
/// varies from run to run with the load on the machine).
const WARM_UP: usize = 250;

/// Stands in for the sound card: keeps the last source and pulls a little from it per frame.
#[derive(Clone, Default)]
struct FakeSink(Arc<Mutex<Option<PlaybackSource>>>);

impl AudioSink for FakeSink {
    fn play(&mut self, source: PlaybackSource) {
        *self.0.lock().unwrap() = Some(source);
    }
}

impl FakeSink {
    fn pull(&self, samples: usize) {
        if let Some(source) = self.0.lock().unwrap().as_mut() {
            source.by_ref().take(samples).for_each(drop);
        }
    }
}

/// Resident memory of this process in MiB (Linux: /proc/self/statm, in pages of 4 KiB).
fn resident_mib() -> f64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: f64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0.0);
    pages * 4096.0 / (1024.0 * 1024.0)
}

fn textures(harness: &Harness<'static, StudioApp>) -> usize {
    harness.ctx.tex_manager().read().num_allocated()
}

/// Entries in egui's memory (widget state by id): one per recording opened would be a leak.
fn memory_entries(harness: &Harness<'static, StudioApp>) -> usize {
    harness.ctx.memory(|memory| memory.data.len())
}

fn main() {
    let opens: usize = arg("--opens").map_or(2000, |s| s.parse().unwrap());
    let model = arg("--model").map_or_else(merit_studio::model::shipped_model_path, Into::into);
    let dir = tempfile::tempdir().unwrap();
    for i in 0..RECORDINGS {
        // Distinct lengths, so no two recordings share a cache key or a pane image.
        let seconds = 2.0 + i as f64 * 0.04;
        let path = dir.path().join(format!("{i:02}.wav"));
        write_mono_f32(&path, &speech_like(seconds, 16_000), 16_000).unwrap();
    }
    let sink = FakeSink::default();
    let app = StudioApp::open(dir.path(), None, Playback::Sink(Box::new(sink.clone())))
        .with_model(model.clone())
        .with_cache_dir(None);
    let mut harness = common::harness(app);
    let settle = |harness: &mut Harness<'static, StudioApp>| {
        let started = Instant::now();
        loop {
            harness.step();
            if !harness.state().is_busy() {
                break;
            }
            assert!(started.elapsed() < Duration::from_secs(120), "stuck");
            std::thread::sleep(Duration::from_millis(1));
        }
    };
    settle(&mut harness);

    let started = Instant::now();
    let mut warm = None;
    for open in 0..opens {
        harness.state_mut().select(open % RECORDINGS);
        settle(&mut harness);
        harness.key_press(Key::Space);
        for _ in 0..3 {
            harness.step();
            sink.pull(1600);
        }
        for key in [Key::Equals, Key::Equals, Key::Minus, Key::Minus] {
            harness.key_press(key);
            harness.step();
        }
        harness.key_press(Key::Space);
        harness.step();
        if open + 1 == WARM_UP.min(opens) {
            warm = Some((resident_mib(), textures(&harness)));
        }
        if (open + 1) % WARM_UP == 0 {
            println!(
                "after {:<8} resident {:.1} MiB, {} textures, {} egui memory entries",
                open + 1,
                resident_mib(),
                textures(&harness),
                memory_entries(&harness)
            );
        }
    }
    let (warm_mib, warm_textures) = warm.unwrap();
    let (end_mib, end_textures) = (resident_mib(), textures(&harness));
    println!(
        "opens          {opens} of {RECORDINGS} recordings (2.0-4.0 s), model {}, {:.0} s",
        model.display(),
        started.elapsed().as_secs_f64()
    );
    println!(
        "growth         {:+.1} MiB resident, {:+} textures from open {WARM_UP} to the end",
        end_mib - warm_mib,
        end_textures as i64 - warm_textures as i64
    );
}
