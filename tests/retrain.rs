//! Cooperative learning end to end with the tiny model: `merit-studio retrain` fine-tunes on a
//! project's labels in the Python pipeline, stores the model with its card in the project's
//! `models/`, switches to it and back (`models --use`), its progress bar ending full; and its refusals (too few labels, no
//! environment), skipped recordings, and a cancel that leaves nothing behind. Needs the pipeline's
//! environment (`bash models/training/setup.sh`; scripts/test.sh makes it first).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use merit_studio::export::Selection;
use merit_studio::jobs::Job;
use merit_studio::learning::{
    FineTuneCard, RetrainError, RetrainRequest, TrainingEnvironment, retrain_project,
};
use merit_studio::project::Project;

use common::{TONE_CLASSES as CLASSES, label_tones as label, tone_project};

fn studio(args: &[&str], dir: &Path, stdin: Option<String>) -> Output {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_merit-studio"))
        .args(args)
        .env("XDG_CACHE_HOME", dir.join("cache"))
        .env("RUST_LOG", "error")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(text) = stdin {
        input.write_all(text.as_bytes()).unwrap();
    }
    drop(input);
    child.wait_with_output().unwrap()
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn tiny() -> String {
    common::tiny_model().to_string_lossy().into_owned()
}

/// The pipeline's environment must be there: a missing one is a set-up failure, not a pass.
fn require_environment() {
    if let Err(error) = TrainingEnvironment::locate() {
        panic!("{error}");
    }
}

#[test]
fn retrain_stores_a_carded_model_and_the_project_switches_to_it_and_back() {
    require_environment();
    let dir = tempfile::tempdir().unwrap();
    let project = tone_project(dir.path());
    label(&project, dir.path(), &CLASSES, "ana");
    // One labelled recording whose audio is gone since: skipped and counted.
    std::fs::remove_file(project.join("audio/sad_9.wav")).unwrap();
    let path = project.to_str().unwrap();
    let output = studio(
        &[
            "retrain",
            path,
            "--model",
            &tiny(),
            "--steps",
            "10",
            "--use",
        ],
        dir.path(),
        None,
    );
    let said = text(&output);
    assert!(output.status.success(), "{said}");
    assert!(said.contains("held-out macro-F1"), "{said}");
    assert!(said.contains("1 missing audio"), "{said}");
    // 10 speakers, 2 held out whole: the labels of the other 8.
    assert!(
        said.contains("speakers: labels from 8 speakers; "),
        "{said}"
    );

    let model = project.join("models/sparse-merit-tiny-ft1.onnx");
    assert!(model.is_file(), "{said}");
    let card: FineTuneCard =
        serde_json::from_slice(&std::fs::read(FineTuneCard::path_for(&model)).unwrap()).unwrap();
    assert_eq!(card.labels.train + card.labels.held_out, 39);
    assert_eq!(card.labels.skipped_missing, 1);
    assert_eq!(card.labels.train_per_speaker.len(), 8);
    assert_eq!(
        card.labels.train_per_speaker.values().sum::<usize>(),
        card.labels.train
    );
    assert_eq!(card.labels.selection, "consensus");
    assert!(!card.labels.include_accepted);
    assert_eq!(card.steps, Some(10));
    assert_eq!(card.before.rows, card.labels.held_out);
    assert_eq!(card.after.confusion.len(), 4);
    assert_eq!(
        card.after.confusion.iter().flatten().sum::<u64>(),
        card.labels.held_out as u64
    );
    assert_ne!(card.blake3, card.parent.blake3);
    assert_eq!(card.parent.project_model, None);
    // Held out by speaker: every labelled recording of a held-out speaker is held out.
    for file in &card.labels.held_out_files {
        let speaker = file.trim_end_matches(".wav").rsplit('_').next().unwrap();
        let held = card
            .labels
            .held_out_files
            .iter()
            .filter(|f| f.ends_with(&format!("_{speaker}.wav")))
            .count();
        assert_eq!(held, if speaker == "9" { 3 } else { 4 }, "{file}");
    }
    assert!(!project.join("models").read_dir().unwrap().any(|e| {
        e.unwrap()
            .file_name()
            .to_string_lossy()
            .starts_with(".retrain")
    }));

    let project_file = std::fs::read_to_string(project.join("project.json")).unwrap();
    assert!(
        project_file.contains("models/sparse-merit-tiny-ft1.onnx"),
        "{project_file}"
    );
    let listed = text(&studio(&["models", path], dir.path(), None));
    assert!(listed.contains("* sparse-merit-tiny-ft1"), "{listed}");

    // A second retrain starts from the project's (fine-tuned) model and counts up; without
    // --steps it is the closed-form refit.
    let output = studio(&["retrain", path], dir.path(), None);
    assert!(output.status.success(), "{}", text(&output));
    let second: FineTuneCard = serde_json::from_slice(
        &std::fs::read(project.join("models/sparse-merit-tiny-ft2.card.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(second.parent.blake3, card.blake3);
    assert_eq!(second.steps, None);
    assert_eq!(second.before.rows, second.labels.held_out);

    let listed = text(&studio(
        &["models", path, "--use", "shipped"],
        dir.path(),
        None,
    ));
    assert!(listed.contains("* shipped"), "{listed}");
    assert_eq!(Project::open(&project).unwrap().file.model, None);
}

#[test]
fn too_few_labels_say_how_many_more_of_each_class() {
    require_environment();
    let dir = tempfile::tempdir().unwrap();
    let project = tone_project(dir.path());
    label(&project, dir.path(), &["angry", "sad"], "ana");
    let output = studio(
        &["retrain", project.to_str().unwrap(), "--model", &tiny()],
        dir.path(),
        None,
    );
    let said = text(&output);
    assert_eq!(output.status.code(), Some(2), "{said}");
    assert!(
        said.contains("4 more happy") && said.contains("4 more neutral"),
        "{said}"
    );
    assert!(!project.join("models").exists());
}

#[test]
fn a_missing_environment_names_the_command_that_installs_it() {
    let dir = tempfile::tempdir().unwrap();
    let project = tone_project(dir.path());
    label(&project, dir.path(), &CLASSES, "ana");
    let output = Command::new(env!("CARGO_BIN_EXE_merit-studio"))
        .args(["retrain", project.to_str().unwrap(), "--model", &tiny()])
        .env("MERIT_TRAINING_DIR", dir.path().join("nowhere"))
        .env("XDG_CACHE_HOME", dir.path().join("cache"))
        .output()
        .unwrap();
    let said = text(&output);
    assert_eq!(output.status.code(), Some(2), "{said}");
    assert!(said.contains("bash models/training/setup.sh"), "{said}");
}

#[test]
fn the_progress_bar_ends_full_with_either_method_on_a_speaker_relative_model() {
    require_environment();
    let dir = tempfile::tempdir().unwrap();
    let project_folder = tone_project(dir.path());
    label(&project_folder, dir.path(), &CLASSES, "ana");
    let project = Project::open(&project_folder).unwrap();
    for steps in [None, Some(5)] {
        let request = RetrainRequest {
            selection: Selection::Annotator("ana".into()),
            steps,
            ..RetrainRequest::default()
        };
        let (project, environment) = (project.clone(), TrainingEnvironment::locate().unwrap());
        let job = Job::spawn("retrain", None, move |context| {
            retrain_project(
                &project,
                &common::tiny_relative_model(),
                &request,
                &environment,
                context,
            )
        })
        .unwrap();
        let started = std::time::Instant::now();
        while !job.is_finished() {
            assert!(started.elapsed() < Duration::from_secs(600), "no end");
            std::thread::sleep(Duration::from_millis(50));
        }
        let progress = job.progress();
        job.wait().unwrap().unwrap();
        assert_eq!(progress.done, progress.total, "{steps:?}");
    }
}

#[test]
fn a_cancelled_retrain_leaves_no_model_and_no_work_files() {
    require_environment();
    let dir = tempfile::tempdir().unwrap();
    let project_folder = tone_project(dir.path());
    label(&project_folder, dir.path(), &CLASSES, "ana");
    let project = Project::open(&project_folder).unwrap();
    let environment = TrainingEnvironment::locate().unwrap();
    let request = RetrainRequest {
        selection: Selection::Annotator("ana".into()),
        steps: Some(100_000),
        ..RetrainRequest::default()
    };
    let parent = common::tiny_model();
    let job = Job::spawn("retrain", None, move |context| {
        retrain_project(&project, &parent, &request, &environment, context)
    })
    .unwrap();
    // Cancel once the fine-tuning itself has started (past the 40 decoded recordings).
    let started = std::time::Instant::now();
    while job.progress().done <= 40 + 1 {
        assert!(started.elapsed() < Duration::from_secs(300), "no progress");
        std::thread::sleep(Duration::from_millis(50));
    }
    job.cancel();
    let result = job.wait().unwrap();
    assert!(matches!(result, Err(RetrainError::Cancelled)), "{result:?}");
    let left: Vec<String> = std::fs::read_dir(project_folder.join("models"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(left.is_empty(), "{left:?}");
}
