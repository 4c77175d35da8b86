//! The window while a retrain runs: frame times (zooming and scrolling every other frame, as a
//! desktop window draws them: layout and tessellation, no AccessKit tree) without a retrain, then
//! from the click on Retrain until the new model is stored, with the fine-tuning on one niced
//! thread as the window runs it; and the retrain's own time and held-out figures. The project: 10 speakers × 4
//! classes of speech-like audio, labelled by one annotator. Prints figures; asserts nothing.
//!
//!     cargo bench --bench retrain [-- --model PATH] [-- --seconds 3]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::{BareWindow, arg, percentile};
use egui::{Key, Modifiers};
use egui_kittest::kittest::Queryable;
use merit_studio::annotation::{AnnotationStore, ClassSource, Op};
use merit_studio::audio::test_signal::speech_like;
use merit_studio::audio::wav::write_mono_f32;
use merit_studio::learning::{FineTuneCard, list_models};
use merit_studio::project::Project;
use merit_studio::ui::{Playback, StudioApp};

const CLASSES: [&str; 4] = ["angry", "sad", "happy", "neutral"];
const SPEAKERS: usize = 10;

/// One frame (zooming or scrolling every other frame), timed into `times`, then a pause to about
/// 60 frames a second, as a window draws while the pointer moves.
fn frame_with_keys(window: &mut BareWindow, frame: usize, times: &mut Vec<f64>) {
    let keys = [Key::Equals, Key::ArrowRight, Key::Minus, Key::ArrowLeft];
    let key = frame
        .is_multiple_of(2)
        .then(|| keys[(frame / 2) % keys.len()]);
    times.push(window.frame(key));
    std::thread::sleep(Duration::from_millis(16));
}

/// The project folder, its recordings labelled by "ana".
fn labelled_project(dir: &std::path::Path, seconds: f64) -> std::path::PathBuf {
    let project = dir.join("speech");
    std::fs::create_dir_all(project.join("audio")).unwrap();
    let mut manifest = String::from("path,speaker\n");
    let mut store = AnnotationStore::load(&project).unwrap();
    store.set_annotator("ana").unwrap();
    for speaker in 0..SPEAKERS {
        for class in CLASSES {
            let name = format!("audio/{class}_{speaker}.wav");
            write_mono_f32(&project.join(&name), &speech_like(seconds, 16_000), 16_000).unwrap();
            manifest.push_str(&format!("{name},s{speaker}\n"));
            let op = Op::SetClass {
                class: Some(class.into()),
                source: ClassSource::Human,
                model: None,
            };
            store.edit(&name, op).unwrap();
        }
    }
    std::fs::write(project.join("recordings.csv"), manifest).unwrap();
    std::fs::write(
        project.join("project.json"),
        r#"{"schema_version": 1, "name": "speech", "sources": [{"kind": "manifest", "path": "recordings.csv"}]}"#,
    )
    .unwrap();
    project
}

fn main() {
    let seconds: f64 = arg("--seconds").map_or(3.0, |s| s.parse().unwrap());
    let model = arg("--model").map_or_else(merit_studio::model::shipped_model_path, Into::into);
    let dir = tempfile::tempdir().unwrap();
    let project = labelled_project(dir.path(), seconds);
    let app = StudioApp::open(&project, None, Playback::Unavailable("bench".into()))
        .with_model(model.clone())
        .with_annotator("ana")
        .with_cache_dir(None);
    let mut harness = common::harness(app);
    while harness.state().is_busy() || !harness.state().has_waveform() {
        harness.step();
        std::thread::sleep(Duration::from_millis(5));
    }
    harness.key_press_modifiers(Modifiers::COMMAND, Key::R);
    harness.run_steps(2);

    // The same frames, as a desktop window draws them, first without a retrain (its window
    // open), then while one runs; egui_kittest only clicks the button between them.
    let mut window = BareWindow::new(harness.into_state());
    let mut idle = Vec::new();
    for frame in 0..600 {
        frame_with_keys(&mut window, frame, &mut idle);
    }
    let mut harness = common::harness(window.into_app());
    harness.get_by_label("Retrain").click();
    harness.run_steps(2);
    let mut window = BareWindow::new(harness.into_state());
    let started = Instant::now();
    let mut frames = Vec::new();
    let mut frame = 0;
    while window.app().is_busy() {
        frame_with_keys(&mut window, frame, &mut frames);
        frame += 1;
        assert!(
            started.elapsed() < Duration::from_secs(3600),
            "the retrain did not finish"
        );
    }
    let wall = started.elapsed();
    idle.sort_by(f64::total_cmp);
    frames.sort_by(f64::total_cmp);
    let opened = Project::open(&project).unwrap();
    let card: Option<FineTuneCard> = list_models(&opened).into_iter().find_map(|m| m.card);
    println!(
        "project        {} recordings of {seconds:.0} s, {} speakers; parent {}",
        CLASSES.len() * SPEAKERS,
        SPEAKERS,
        model.display()
    );
    for (name, samples) in [("without a retrain", &idle), ("while retraining", &frames)] {
        println!(
            "frame time {name:<17}: p50 {:.2} ms, p95 {:.2} ms, max {:.2} ms ({} frames)",
            percentile(samples, 0.5),
            percentile(samples, 0.95),
            samples[samples.len() - 1],
            samples.len()
        );
    }
    match card {
        Some(card) => println!(
            "retrain        {:.1} s in the window ({}, {} labels, {} held out): held-out macro-F1 {:.3} (parent {:.3})",
            wall.as_secs_f64(),
            card.steps
                .map_or_else(|| "closed-form refit".to_owned(), |n| format!("{n} steps")),
            card.labels.train,
            card.labels.held_out,
            card.after.macro_f1,
            card.before.macro_f1
        ),
        None => println!(
            "retrain        ended after {:.1} s without a model (see the log)",
            wall.as_secs_f64()
        ),
    }
}
