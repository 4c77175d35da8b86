//! The studio window driven through egui_kittest (no display, no renderer needed).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::{Wav, broken_files, demo_project, sine};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use merit_studio::ui::StudioApp;

fn harness(path: &std::path::Path) -> Harness<'static, StudioApp> {
    let app = StudioApp::open(path, None);
    Harness::builder()
        .with_size(egui::vec2(1280.0, 800.0))
        .build_ui_state(|ui, app: &mut StudioApp| app.studio_ui(ui), app)
}

/// Steps the UI until background work is done (or fails the test after 30 s).
fn settle(harness: &mut Harness<'static, StudioApp>) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while harness.state().is_busy() {
        assert!(Instant::now() < deadline, "background work did not finish");
        harness.step();
        std::thread::sleep(Duration::from_millis(10));
    }
    harness.run();
}

#[test]
fn demo_project_lists_its_recordings_and_selects_on_click() {
    let mut harness = harness(&demo_project());
    settle(&mut harness);
    harness.get_by_label_contains("6 recordings · 0 broken");
    harness.get_by_label("Demo: synthetic noisy emotional speech");
    let row = harness.get_by_label("audio/neutral_f2.ogg");
    row.click();
    harness.run();
    assert_eq!(harness.state().selected(), Some(3));
    harness.get_by_label("vorbis · 22050 Hz · 1 ch");
}

#[test]
fn broken_files_are_marked_and_nothing_panics() {
    let dir = tempfile::tempdir().unwrap();
    let broken = broken_files(dir.path());
    Wav::pcm16(16_000, 1, &sine(300.0, 16_000, 8_000, 1)).write(&dir.path().join("fine.wav"));
    let mut harness = harness(dir.path());
    settle(&mut harness);
    // The browser reads headers only; damage deeper in a file shows once it is decoded.
    let broken_in_headers = broken
        .iter()
        .filter(|(path, _)| merit_studio::audio::probe(path).is_err())
        .count();
    assert!(broken_in_headers >= 5, "{broken_in_headers}");
    assert_eq!(
        harness.query_all_by_label("broken").count(),
        broken_in_headers
    );
    harness.get_by_label_contains(&format!("{broken_in_headers} broken"));
}

#[test]
fn an_unopenable_path_shows_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let mut harness = harness(&dir.path().join("missing-project"));
    settle(&mut harness);
    harness.get_by_label_contains("no such file or folder");
    harness.get_by_label("no project open");
}
