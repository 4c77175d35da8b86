//! Cooperative learning in the window (egui_kittest, tiny model): Ctrl+R, Retrain, the new model
//! against its parent, "Use this model" and back to the shipped one; a model that scores below its
//! parent asks first; too few labels say how many more. Needs the pipeline's environment
//! (`bash models/training/setup.sh`; scripts/test.sh makes it first).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{FakeSink, TONE_CLASSES, label_tones, tiny_model, tone_project};
use egui::{Key, Modifiers};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use merit_studio::project::Project;
use merit_studio::ui::{Playback, StudioApp};

fn studio(path: &Path, cache: &Path) -> Harness<'static, StudioApp> {
    let app = StudioApp::open(path, None, Playback::Sink(Box::new(FakeSink::default())))
        .with_model(tiny_model())
        .with_annotator("ana")
        .with_cache_dir(Some(cache.to_path_buf()));
    Harness::builder()
        .with_size(egui::vec2(1280.0, 800.0))
        .build_ui_state(|ui, app: &mut StudioApp| app.studio_ui(ui), app)
}

/// Steps the UI until background work (a retrain included) is done, or fails after 10 minutes.
fn settle(harness: &mut Harness<'static, StudioApp>) {
    let deadline = Instant::now() + Duration::from_secs(600);
    while harness.state().is_busy() {
        harness.step();
        assert!(Instant::now() < deadline, "background work did not finish");
        std::thread::sleep(Duration::from_millis(20));
    }
    harness.run();
}

fn project_model(project: &Path) -> Option<std::path::PathBuf> {
    Project::open(project).unwrap().file.model
}

fn open_retrain_window(harness: &mut Harness<'static, StudioApp>) {
    harness.key_press_modifiers(Modifiers::COMMAND, Key::R);
    harness.run();
    harness.get_by_label("Retrain the model");
}

#[test]
fn retrain_in_the_window_then_switch_to_the_new_model_and_back() {
    assert!(
        merit_studio::learning::TrainingEnvironment::locate().is_ok(),
        "run bash models/training/setup.sh"
    );
    let dir = tempfile::tempdir().unwrap();
    let project = tone_project(dir.path());
    label_tones(&project, dir.path(), &TONE_CLASSES, "ana");
    let mut harness = studio(&project, &dir.path().join("cache"));
    settle(&mut harness);
    open_retrain_window(&mut harness);
    harness.get_by_label("Retrain").click();
    harness.run_steps(2);
    harness.get_by_label("Cancel");
    settle(&mut harness);

    harness.get_by_label("New model: sparse-merit-tiny-ft1");
    // The verdict, and the model's line in the list of the project's models.
    assert_eq!(
        harness
            .get_all_by_label_contains("held-out macro-F1")
            .count(),
        2
    );
    harness.get_by_label_contains("8 held out (consensus, human only)");
    harness.get_by_label_contains("Labels from 8 speakers; ");
    assert_eq!(project_model(&project), None);
    // Through accesskit: the window's scroll area may have the button below its fold.
    harness.get_by_label("Use this model").click_accesskit();
    harness.run_steps(2);
    settle(&mut harness);
    assert_eq!(
        project_model(&project),
        Some("models/sparse-merit-tiny-ft1.onnx".into())
    );
    harness.get_by_label("sparse-merit-tiny-ft1 (in use)");
    // The previous model's predictions are kept to compare with the new one's.
    harness.get_by_label_contains("Since switching from sparse-merit-tiny.onnx");

    harness
        .get_by_label("Use sparse-merit-compact")
        .click_accesskit();
    harness.run_steps(2);
    settle(&mut harness);
    assert_eq!(project_model(&project), None);
    harness.get_by_label("sparse-merit-compact (in use)");
}

#[test]
fn a_model_worse_than_its_parent_asks_before_the_switch() {
    let dir = tempfile::tempdir().unwrap();
    let project = tone_project(dir.path());
    let models = project.join("models");
    std::fs::create_dir_all(&models).unwrap();
    std::fs::copy(tiny_model(), models.join("worse-ft1.onnx")).unwrap();
    let figures = |macro_f1: f64| {
        serde_json::json!({"rows": 8, "accuracy": macro_f1, "macro_f1": macro_f1,
            "f1": vec![macro_f1; 4], "confusion": [[2, 0, 0, 0], [0, 2, 0, 0], [0, 0, 2, 0], [0, 0, 0, 2]]})
    };
    let card = serde_json::json!({
        "created": "2026-12-05T00:00:00Z", "blake3": "b", "steps": 10, "seed": 0, "seconds": 1.0,
        "parent": {"path": "tiny.onnx", "blake3": "a", "project_model": null},
        "labels": {"selection": "consensus", "include_accepted": false, "train": 32, "held_out": 8,
            "train_per_class": {}, "held_out_files": [], "skipped_missing": 0,
            "skipped_other_class": 0, "skipped_undecodable": 0},
        "classes": TONE_CLASSES, "before": figures(0.5), "after": figures(0.25),
    });
    std::fs::write(models.join("worse-ft1.card.json"), card.to_string()).unwrap();
    let mut harness = studio(&project, &dir.path().join("cache"));
    settle(&mut harness);
    open_retrain_window(&mut harness);
    harness.get_by_label_contains("held-out macro-F1 0.250 (parent 0.500)");

    harness.get_by_label("Use worse-ft1").click();
    harness.run();
    harness.get_by_label_contains("worse-ft1 scores below its parent");
    harness.get_by_label("Keep the current model").click();
    harness.run();
    assert_eq!(project_model(&project), None);

    harness.get_by_label("Use worse-ft1").click();
    harness.run();
    harness.get_by_label("Use it anyway").click();
    harness.run_steps(2);
    settle(&mut harness);
    assert_eq!(
        project_model(&project),
        Some("models/worse-ft1.onnx".into())
    );
    harness.get_by_label("worse-ft1 (in use)");
}

#[test]
fn too_few_labels_are_refused_in_the_window_with_how_many_more() {
    let dir = tempfile::tempdir().unwrap();
    let project = tone_project(dir.path());
    label_tones(&project, dir.path(), &["angry", "sad", "happy"], "ana");
    let mut harness = studio(&project, &dir.path().join("cache"));
    settle(&mut harness);
    open_retrain_window(&mut harness);
    harness.get_by_label("Retrain").click();
    harness.run_steps(2);
    settle(&mut harness);
    harness.get_by_label_contains("label 4 more neutral");
    assert!(!project.join("models").exists());
}
