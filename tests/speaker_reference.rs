//! Speaker-relative models: the contract's reference input and statistics output on the shipped
//! tiny relative model (matching PyTorch), analyses classified against a speaker's other
//! recordings, `analyze` forming those references from a manifest's speaker column, and the window
//! saying which reference a label used.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;

use merit_studio::model::analysis::{AnalysisParams, Steering, analyze_signal};
use merit_studio::model::reference::{ReferenceNote, SpeakerReference};
use merit_studio::model::{DeviceChoice, MeritSession, ModelError, SessionOptions};

mod common;

use common::reference_input;

fn cpu() -> SessionOptions {
    SessionOptions {
        device: DeviceChoice::Cpu,
        threads: 1,
        float_on_cpu: false,
    }
}

fn reference_json() -> serde_json::Value {
    let path = common::tiny_relative_model().with_extension("reference.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn floats(value: &serde_json::Value) -> Vec<f32> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap() as f32)
        .collect()
}

fn close(a: &[f32], b: &[f32]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-4)
}

#[test]
fn the_reference_input_moves_the_logits_as_pytorch_does() {
    let reference = reference_json();
    let mut session = MeritSession::load(&common::tiny_relative_model(), cpu()).unwrap();
    let size = reference["statistics_size"].as_u64().unwrap() as usize;
    assert_eq!(session.statistics_size(), Some(size));
    assert!(session.card().speaker_relative);
    let signal = reference_input(16_000);
    // Without a reference: the population's stored in the model.
    let population = session.run(signal.clone(), 1, None).unwrap();
    assert!(close(
        &population.emotion_logits,
        &floats(&reference["logits_population"])
    ));
    let statistics = population.statistics.unwrap();
    assert_eq!(statistics.len(), size);
    assert!(close(
        &statistics[..8],
        &floats(&reference["statistics_first"])
    ));
    // Against the statistics of the time-reversed signal.
    let other = floats(&reference["reversed_statistics"]);
    let relative = session.run(signal.clone(), 1, Some(&other)).unwrap();
    assert!(close(
        &relative.emotion_logits,
        &floats(&reference["logits_relative"])
    ));
    // A reference of the wrong width is refused with both widths named.
    let error = session.run(signal, 1, Some(&other[..3])).unwrap_err();
    assert!(
        matches!(&error, ModelError::Inference(m) if m.contains("3 values") && m.contains(&size.to_string())),
        "{error}"
    );
}

#[test]
fn an_analysis_records_its_reference_and_statistics_that_do_not_depend_on_it() {
    let mut session = MeritSession::load(&common::tiny_relative_model(), cpu()).unwrap();
    let size = session.statistics_size().unwrap();
    // Long enough for several chunks and trajectory windows.
    let signal = reference_input(16_000 * 25);
    let params = AnalysisParams::default();
    let alone = analyze_signal(&mut session, &signal, None, &params, Steering::default()).unwrap();
    assert_eq!(alone.reference, None);
    let statistics = alone.statistics.clone().unwrap();
    assert_eq!(statistics.len(), size);
    let reference = SpeakerReference {
        basis: ReferenceNote::Speaker {
            speaker: "ann".into(),
            recordings: 2,
        },
        values: statistics.iter().map(|v| v * 0.5 + 0.1).collect(),
    };
    let relative = analyze_signal(
        &mut session,
        &signal,
        Some(&reference),
        &params,
        Steering::default(),
    )
    .unwrap();
    assert_eq!(relative.reference, Some(reference.note()));
    assert!(close(relative.statistics.as_ref().unwrap(), &statistics));
    assert!(
        !close(&relative.probs, &alone.probs),
        "{:?}",
        relative.probs
    );
    // The trajectory is classified against the reference too; the routers and audio are not.
    assert_ne!(relative.trajectory.probs, alone.trajectory.probs);
    assert_eq!(relative.enhanced, alone.enhanced);
    assert_eq!(relative.ser, alone.ser);

    // A model that is not speaker-relative has no statistics and ignores a reference.
    let mut plain = MeritSession::load(&common::tiny_model(), cpu()).unwrap();
    assert_eq!(plain.statistics_size(), None);
    let short = reference_input(16_000);
    let with = analyze_signal(
        &mut plain,
        &short,
        Some(&reference),
        &params,
        Steering::default(),
    )
    .unwrap();
    let without = analyze_signal(&mut plain, &short, None, &params, Steering::default()).unwrap();
    assert_eq!(
        (with.statistics.as_ref(), with.reference.as_ref()),
        (None, None)
    );
    assert_eq!(with.probs, without.probs);
}

fn analyze(input: &Path, out: &Path, cache: &Path) -> Vec<serde_json::Value> {
    let output = Command::new(env!("CARGO_BIN_EXE_merit-studio"))
        .args(["analyze", input.to_str().unwrap(), "--model"])
        .arg(common::tiny_relative_model())
        .args([
            "--device",
            "cpu",
            "--cache-dir",
            cache.to_str().unwrap(),
            "--out",
        ])
        .arg(out)
        .env("RUST_LOG", "error")
        .output()
        .unwrap();
    common::assert_success(&output);
    common::jsonl_rows(&out.join("results.jsonl"))
}

#[test]
fn analyze_classifies_each_recording_against_its_speakers_other_recordings() {
    let dir = tempfile::tempdir().unwrap();
    let audio = common::demo_project().join("audio");
    // Ann has three recordings (each has two others), Bob two (too few, but his gender is
    // given), one has neither speaker nor gender.
    let listed = [
        ("angry_m1.wav", "ann"),
        ("sad_f1.flac", "ann"),
        ("neutral_m3.wav", "ann"),
        ("happy_m2.mp3", "bob"),
        ("neutral_f2.ogg", "bob"),
        ("happy_f3.m4a", ""),
    ];
    let mut with_speakers = String::from("path,speaker,gender\n");
    let mut without_speakers = String::from("path\n");
    for (file, speaker) in listed {
        let path = audio.join(file);
        let gender = match speaker {
            "ann" => "F",
            "bob" => "m",
            _ => "",
        };
        with_speakers.push_str(&format!("{},{speaker},{gender}\n", path.display()));
        without_speakers.push_str(&format!("{}\n", path.display()));
    }
    std::fs::write(dir.path().join("speakers.csv"), with_speakers).unwrap();
    std::fs::write(dir.path().join("plain.csv"), without_speakers).unwrap();
    let cache = dir.path().join("cache");
    let plain = analyze(
        &dir.path().join("plain.csv"),
        &dir.path().join("plain"),
        &cache,
    );
    let relative = analyze(
        &dir.path().join("speakers.csv"),
        &dir.path().join("relative"),
        &cache,
    );
    assert_eq!(relative.len(), listed.len());
    for ((row, alone), (file, speaker)) in relative.iter().zip(&plain).zip(listed) {
        assert!(row["file"].as_str().unwrap().ends_with(file));
        assert!(alone["speaker_reference"].is_null());
        if speaker == "ann" {
            assert_eq!(
                row["speaker_reference"],
                serde_json::json!({"speaker": "ann", "recordings": 2}),
                "{file}"
            );
            assert_ne!(row["probs"], alone["probs"], "{file}");
        } else if speaker == "bob" {
            // Against the model's reference of male voices, not the population's.
            assert_eq!(
                row["speaker_reference"],
                serde_json::json!({"gender": "male"}),
                "{file}"
            );
            assert_ne!(row["probs"], alone["probs"], "{file}");
        } else {
            assert!(row["speaker_reference"].is_null(), "{file}");
            assert_eq!(row["probs"], alone["probs"], "{file}");
        }
    }
    // Again: every analysis, with or without a reference, comes from the cache.
    let again = analyze(
        &dir.path().join("speakers.csv"),
        &dir.path().join("again"),
        &cache,
    );
    assert!(again.iter().all(|row| row["cached"] == true), "{again:?}");
    for (a, b) in again.iter().zip(&relative) {
        assert_eq!(a["probs"], b["probs"]);
    }
}

#[test]
fn the_window_says_which_voice_a_prediction_was_measured_against() {
    use egui_kittest::kittest::Queryable;
    let dir = tempfile::tempdir().unwrap();
    let project = common::copy_demo(dir.path());
    // The demo's six speakers made into Ann (three recordings), Bob (two) and F3, whose gender
    // the manifest no longer gives.
    let labels = std::fs::read_to_string(project.join("labels.csv")).unwrap();
    let renamed: String = labels
        .lines()
        .map(|line| {
            let mut fields: Vec<&str> = line.split(',').collect();
            if fields[1] == "f3" {
                fields[2] = "";
            }
            fields[1] = match fields[1] {
                "m1" | "f1" | "m3" => "ann",
                "m2" | "f2" => "bob",
                other => other,
            };
            fields.join(",") + "\n"
        })
        .collect();
    std::fs::write(project.join("labels.csv"), renamed).unwrap();
    let cache = tempfile::tempdir().unwrap();
    let app = merit_studio::ui::StudioApp::open(
        &project,
        None,
        merit_studio::ui::Playback::Sink(Box::new(common::FakeSink::default())),
    )
    .with_model(common::tiny_relative_model())
    .with_cache_dir(Some(cache.path().to_path_buf()));
    let mut harness = egui_kittest::Harness::builder()
        .with_size(egui::vec2(1280.0, 800.0))
        .build_ui_state(
            |ui, app: &mut merit_studio::ui::StudioApp| app.studio_ui(ui),
            app,
        );
    harness.state_mut().set_annotator("alice");
    common::settle(&mut harness);
    // Opened first, nothing else analysed yet: no speaker reference for Ann's first recording, a
    // man's (angry_m1), so the model's reference of male voices.
    harness.get_by_label("against male voices (no speaker reference)");
    harness.get_by_label("Analyse all").click();
    common::settle(&mut harness);
    harness.get_by_label("audio/sad_f1.flac").click();
    common::settle(&mut harness);
    harness.get_by_label("against ann's voice (2 other recordings)");
    // Bob has one other recording: too few for a reference of his voice.
    harness.get_by_label("audio/happy_m2.mp3").click();
    common::settle(&mut harness);
    harness.get_by_label("against male voices (no speaker reference)");
    // Neither a speaker reference nor a gender: the whole population's.
    harness.get_by_label("audio/happy_f3.m4a").click();
    common::settle(&mut harness);
    harness.get_by_label("against all voices (no speaker reference)");
}
