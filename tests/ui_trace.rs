//! Trace mode driven through egui_kittest: synthetic key and pointer events, a fake sound card
//! the test pulls known sample counts from (so audio time is exact), and a fake gamepad stick.
//! Checks that samples sit on the 25 Hz grid of audio time at every speed (no drift from wall
//! time), that the pointer's height sets the value, that a pass is journaled in half-second
//! blocks and undone as one step, and that a gamepad unplugged mid-pass ends it kept, incomplete.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::sync::{Arc, Mutex};

use common::{FakeSink, settle};
use egui::{Key, Modifiers};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use merit_studio::annotation::AnnotationStore;
use merit_studio::annotation::trace::{
    Labelled, PassState, TraceInput, TracePass, dimension_reports,
};
use merit_studio::project::Project;
use merit_studio::ui::{Playback, StickInput, StudioApp};

const FILE: &str = "audio/angry_m1.wav";
const RATE_HZ: u64 = 16_000;

/// A gamepad stick the test moves and unplugs (`None`).
#[derive(Clone, Default)]
struct FakeStick(Arc<Mutex<Option<f64>>>);

impl StickInput for FakeStick {
    fn axis(&mut self) -> Option<f64> {
        *self.0.lock().unwrap()
    }
}

struct Traced {
    harness: Harness<'static, StudioApp>,
    sink: FakeSink,
    _dir: tempfile::TempDir,
    _cache: tempfile::TempDir,
}

/// Alice with the first recording (angry_m1) open, analysed by the tiny model.
fn alice(stick: Option<FakeStick>) -> Traced {
    alice_after(stick, |_| {})
}

/// As [`alice`], once `prepare` has had the copied project (to write other annotators' work).
fn alice_after(stick: Option<FakeStick>, prepare: impl FnOnce(&Path)) -> Traced {
    let dir = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let project = common::copy_demo(dir.path());
    prepare(&project);
    let sink = FakeSink::default();
    let mut app = StudioApp::open(&project, None, Playback::Sink(Box::new(sink.clone())))
        .with_model(common::tiny_model())
        .with_cache_dir(Some(cache.path().to_path_buf()));
    if let Some(stick) = stick {
        app = app.with_stick(Box::new(stick));
    }
    let mut harness = Harness::builder()
        .with_size(egui::vec2(1280.0, 800.0))
        .build_ui_state(|ui, app: &mut StudioApp| app.studio_ui(ui), app);
    harness.state_mut().set_annotator("alice");
    settle(&mut harness);
    harness.get_by_label(FILE).click();
    settle(&mut harness);
    Traced {
        harness,
        sink,
        _dir: dir,
        _cache: cache,
    }
}

fn passes(harness: &Harness<'static, StudioApp>) -> Vec<TracePass> {
    harness
        .state()
        .annotations()
        .label(FILE, "alice")
        .map(|l| l.traces.passes.clone())
        .unwrap_or_default()
}

/// Pulls `seconds` of audio time at `speed` from the sink in device-sized chunks, a frame each.
fn play(t: &mut Traced, seconds: f64, speed: f64) {
    let samples = (seconds * RATE_HZ as f64 / speed).round() as usize;
    for _ in 0..samples / 400 {
        t.sink.pull(400);
        t.harness.step();
    }
}

#[test]
fn a_pass_follows_the_pointer_on_the_audio_time_grid_and_undo_discards_it() {
    for speed in [1.0_f32, 0.5, 2.0] {
        let mut t = alice(None);
        let lane = t
            .harness
            .get_by_label_contains("Trace lane: Arousal")
            .rect();
        t.harness.state().transport().set_speed(speed);
        t.harness.key_press(Key::T);
        t.harness.step();
        assert!(t.harness.state().transport().is_playing());
        // Upper part of the pane for the first 0.4 s of audio, lower part for the next 0.4 s.
        t.harness
            .hover_at(egui::pos2(lane.center().x, lane.top() + 30.0));
        play(&mut t, 0.4, f64::from(speed));
        t.harness
            .hover_at(egui::pos2(lane.center().x, lane.bottom() - 10.0));
        play(&mut t, 0.4, f64::from(speed));
        t.harness.key_press(Key::T);
        t.harness.step();
        let position_s = t.harness.state().transport().position_s();
        let pass = passes(&t.harness).pop().unwrap();
        assert_eq!(pass.state, PassState::Incomplete, "stopped by the key");
        // One sample per grid point 0, 1/25 s, … up to the playhead: at most a frame of jitter.
        let expected = (position_s * 25.0 + 1e-9).floor() as usize + 1;
        assert_eq!(pass.values.len(), expected, "speed {speed}: {position_s} s");
        assert!((position_s - 0.8).abs() < 0.03, "{position_s}");
        let (high, low) = (pass.values[3], pass.values[expected - 3]);
        assert!(
            high > 5.0 && low < 3.0,
            "pointer high then low: {high} {low}"
        );
        // Ctrl+Z discards the whole pass in one step.
        t.harness.key_press_modifiers(Modifiers::COMMAND, Key::Z);
        t.harness.step();
        assert!(passes(&t.harness).iter().all(|p| p.discarded));
    }
}

#[test]
fn a_gamepad_unplugged_mid_pass_ends_it_kept_and_incomplete() {
    let stick = FakeStick::default();
    *stick.0.lock().unwrap() = Some(1.0);
    let mut t = alice(Some(stick.clone()));
    t.harness.key_press(Key::T);
    t.harness.step();
    play(&mut t, 0.6, 1.0);
    *stick.0.lock().unwrap() = None;
    t.harness.step();
    t.harness.step();
    let pass = passes(&t.harness).pop().unwrap();
    assert_eq!(pass.state, PassState::Incomplete);
    assert!(!pass.discarded);
    assert!(
        pass.values.iter().all(|&v| (v - 7.0).abs() < 1e-12),
        "stick fully up = max"
    );
    assert!(pass.values.len() >= 15, "{}", pass.values.len());
    t.harness.get_by_label_contains("the gamepad went away");
    // The journal holds it in blocks of at most half a second.
    let journal =
        std::fs::read_to_string(t.harness.state().annotations().folder().join("alice.jsonl"))
            .unwrap();
    let blocks: Vec<serde_json::Value> = journal
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["trace"] == "block")
        .collect();
    assert!(!blocks.is_empty());
    assert!(
        blocks
            .iter()
            .all(|b| b["values"].as_array().unwrap().len() <= 12)
    );
}

#[test]
fn trace_commands_are_in_the_palette() {
    let mut t = alice(None);
    t.harness.key_press_modifiers(Modifiers::COMMAND, Key::K);
    t.harness.step();
    t.harness.step();
    t.harness.get_by_label_contains("Trace: start a pass");
    t.harness.get_by_label_contains("Trace: next dimension");
}

/// Bob's complete arousal pass over the first 2.5 s of FILE (the model's trajectory, 3 s windows
/// every 0.5 s, covers 1.5–2.0 s of it): a ramp from 2 to 6.
fn bob_traced(project: &Path) {
    let scheme = Project::open(project)
        .unwrap()
        .file
        .traces
        .schemes(&Project::open(project).unwrap().file.label_scheme)[0]
        .clone();
    assert_eq!(scheme.dimension, "arousal");
    let mut store = AnnotationStore::load(project).unwrap();
    store.set_annotator("bob").unwrap();
    let pass = store
        .begin_pass(FILE, &scheme, TraceInput::Mouse, 0)
        .unwrap();
    let ramp: Vec<f64> = (0..63).map(|i| 2.0 + 4.0 * f64::from(i) / 62.0).collect();
    store.append_trace(FILE, pass, 25.0, &ramp).unwrap();
    store.end_pass(FILE, pass, PassState::Complete).unwrap();
}

fn final_pass(harness: &Harness<'static, StudioApp>) -> Option<u64> {
    harness
        .state()
        .annotations()
        .label(FILE, "alice")
        .and_then(|l| l.traces.finals.get("arousal").copied())
}

#[test]
fn passes_are_marked_final_by_key_and_click_and_agreement_shows_in_the_window() {
    let mut t = alice_after(None, bob_traced);
    let lane = t
        .harness
        .get_by_label_contains("Trace lane: Arousal")
        .rect();
    // Two passes from the start: pointer low then high (bob rises from 2 to 6).
    for _ in 0..2 {
        t.harness.state().transport().seek_s(0.0);
        t.harness.key_press(Key::T);
        t.harness.step();
        t.harness
            .hover_at(egui::pos2(lane.center().x, lane.bottom() - 10.0));
        play(&mut t, 1.25, 1.0);
        t.harness
            .hover_at(egui::pos2(lane.center().x, lane.top() + 30.0));
        play(&mut t, 1.25, 1.0);
        t.harness.key_press(Key::T);
        t.harness.step();
    }
    let ids: Vec<u64> = passes(&t.harness).iter().map(|p| p.id).collect();
    assert_eq!(ids.len(), 2);
    assert_eq!(final_pass(&t.harness), None);
    t.harness.get_by_label("(latest counts)");
    // Shift+F: the latest, then the one before, then none.
    for expected in [Some(ids[1]), Some(ids[0]), None] {
        t.harness.key_press_modifiers(Modifiers::SHIFT, Key::F);
        t.harness.step();
        t.harness.step();
        assert_eq!(final_pass(&t.harness), expected);
    }
    // A click on a pass marks it; the strip says which is final.
    t.harness.get_by_label_contains("pass 2: ").click();
    t.harness.step();
    t.harness.step();
    assert_eq!(final_pass(&t.harness), Some(ids[1]));
    t.harness.get_by_label_contains("(final)");
    t.harness.get_by_label("(final counts)");
    // The strip's agreement for this recording, and the project's in the agreement window, the
    // same figures as the library computes from the journals.
    t.harness.get_by_label_contains("alice/bob");
    t.harness.get_by_label_contains("proxy CCC");
    t.harness.key_press_modifiers(Modifiers::COMMAND, Key::G);
    settle(&mut t.harness);
    let project = Project::open(&t.harness.state().annotations().folder().join("..")).unwrap();
    let store = AnnotationStore::load(&project.root).unwrap();
    let labelled: Vec<Labelled<'_>> = store.iter().map(|(f, by)| (f.as_str(), by)).collect();
    let reports = dimension_reports(&project, &labelled, None, None);
    let arousal = &reports["arousal"].agreement;
    let [low, high] = arousal.ccc_interval.unwrap();
    let shown = format!("{:.3} [{low:.3}, {high:.3}]", arousal.ccc.unwrap());
    t.harness.get_by_label(&shown);
    t.harness.get_by_label("mean pairwise CCC");
    t.harness.get_by_label("CCC alice / bob");
}
