//! The headless commands as a user runs them: output lines and exit codes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::{Wav, broken_files, demo_project, jsonl_rows, sine};

fn studio(args: &[&str]) -> Output {
    // Never the user's cache: an empty one per command, removed afterwards (the cache test names
    // its own with --cache-dir).
    let cache = tempfile::tempdir().unwrap();
    Command::new(env!("CARGO_BIN_EXE_merit-studio"))
        .args(args)
        .env("RUST_LOG", "error")
        .env("XDG_CACHE_HOME", cache.path())
        .output()
        .unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn path_str(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn scan_summarises_the_demo_project() {
    let output = studio(&["scan", path_str(&demo_project())]);
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{text}{}", stderr(&output));
    assert!(
        text.contains("6 recordings: 6 ok, 0 broken, 0 missing"),
        "{text}"
    );
    for format in [
        "flac/flac",
        "isomp4/aac",
        "mp3/mp3",
        "ogg/vorbis",
        "wave/pcm_f32le",
        "wave/pcm_s16le",
    ] {
        assert!(text.contains(format), "{format} missing from:\n{text}");
    }
}

#[test]
fn info_describes_files_and_flags_broken_ones() {
    let dir = tempfile::tempdir().unwrap();
    let good =
        Wav::pcm16(22_050, 2, &sine(440.0, 22_050, 22_050, 2)).write(&dir.path().join("good.wav"));
    let output = studio(&["info", path_str(&good)]);
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert!(text.contains("wave / pcm_s16le, 16-bit"), "{text}");
    assert!(text.contains("22050 Hz, 2 channels"), "{text}");
    assert!(text.contains("decoded   0:00:01.000 ok"), "{text}");
    assert!(text.contains("peak -6.0 dBFS"), "{text}");

    let mut cut = Wav::pcm16(16_000, 1, &sine(440.0, 16_000, 1000, 1));
    cut.claimed_data_len = Some(64_000);
    let cut = cut.write(&dir.path().join("cut.wav"));
    let output = studio(&["info", path_str(&good), path_str(&cut)]);
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(
        text.contains(&format!("BROKEN [truncated] {}: truncated", cut.display())),
        "{text}"
    );

    let json = stdout(&studio(&["info", "--json", path_str(&cut)]));
    let value: serde_json::Value = serde_json::from_str(json.trim()).unwrap();
    assert_eq!(value["ok"], false);
    assert_eq!(value["error_kind"], "truncated");
}

#[test]
fn scan_of_a_broken_folder_reports_one_line_per_broken_file_and_keeps_going() {
    let dir = tempfile::tempdir().unwrap();
    let broken = broken_files(dir.path());
    for name in ["ok1.wav", "nested/ok2.wav"] {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        Wav::pcm16(16_000, 1, &sine(300.0, 16_000, 8_000, 1)).write(&path);
    }
    let output = studio(&["scan", path_str(dir.path())]);
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{text}{}", stderr(&output));
    let broken_lines: Vec<_> = text.lines().filter(|l| l.starts_with("BROKEN")).collect();
    assert_eq!(broken_lines.len(), broken.len(), "{text}");
    for (path, kinds) in &broken {
        let line = broken_lines
            .iter()
            .find(|l| l.contains(&path.display().to_string()))
            .unwrap_or_else(|| panic!("no line for {}:\n{text}", path.display()));
        assert!(
            kinds
                .iter()
                .any(|k| line.starts_with(&format!("BROKEN [{k}]"))),
            "{line}"
        );
    }
    assert!(
        !text.contains("ok1.wav") && !text.contains("ok2.wav"),
        "{text}"
    );
    let total = broken.len() + 2;
    assert!(
        text.contains(&format!(
            "{total} recordings: 2 ok, {} broken",
            broken.len()
        )),
        "{text}"
    );
}

#[test]
fn manifest_problems_and_missing_files_are_listed() {
    let dir = tempfile::tempdir().unwrap();
    Wav::pcm16(16_000, 1, &sine(300.0, 16_000, 8_000, 1)).write(&dir.path().join("a.wav"));
    let manifest = dir.path().join("list.csv");
    std::fs::write(
        &manifest,
        "path,speaker\na.wav,s1\ngone.wav,s2\nb.wav,s3,extra\n",
    )
    .unwrap();
    let output = studio(&["scan", path_str(&manifest)]);
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(
        text.contains(&format!(
            "MISSING {}",
            dir.path().join("gone.wav").display()
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "PROBLEM {}:4: 3 fields where the header has 2",
            manifest.display()
        )),
        "{text}"
    );
}

#[test]
fn unusable_inputs_exit_with_2_and_say_why() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("bad.csv");
    std::fs::write(&manifest, "speaker,label\ns1,angry\n").unwrap();
    let output = studio(&["scan", path_str(&manifest)]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stdout(&output).contains("no path column"),
        "{}",
        stdout(&output)
    );

    std::fs::write(
        dir.path().join("project.json"),
        r#"{"schema_version": 3, "name": "x", "sources": []}"#,
    )
    .unwrap();
    let output = studio(&["scan", path_str(dir.path())]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("unsupported schema_version 3"),
        "{}",
        stderr(&output)
    );

    let output = studio(&["scan", path_str(&dir.path().join("nowhere"))]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("no such file or folder"));
}

#[test]
fn runtime_is_found_and_loads() {
    let output = studio(&["runtime"]);
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{text}{}", stderr(&output));
    assert!(text.contains("loaded            ok"), "{text}");
}

#[test]
fn a_library_that_is_not_onnx_runtime_is_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("libonnxruntime.so.1.31.1");
    std::fs::write(&fake, "not a library").unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_merit-studio"))
        .arg("runtime")
        .env("ORT_DYLIB_PATH", &fake)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let message = stderr(&output);
    assert!(
        message.contains("cannot load ONNX Runtime from")
            && message.contains(&fake.display().to_string()),
        "{message}"
    );
}

fn tiny_model() -> String {
    common::tiny_model().to_string_lossy().into_owned()
}

/// `merit-studio analyze INPUT --model <tiny> --device cpu EXTRA... --out OUT`.
fn analyze_tiny(input: &str, out: &Path, extra: &[&str]) -> Output {
    let model = tiny_model();
    let mut args = vec!["analyze", input, "--model", &model, "--device", "cpu"];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["--out", path_str(out)]);
    studio(&args)
}

#[test]
fn analyze_writes_the_contract_files_for_the_demo() {
    let out = tempfile::tempdir().unwrap();
    let output = analyze_tiny(path_str(&demo_project()), out.path(), &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let results = jsonl_rows(&out.path().join("results.jsonl"));
    assert_eq!(results.len(), 6);
    for (index, row) in results.iter().enumerate() {
        assert_eq!(row["index"], index);
        assert!(row["error"].is_null());
        for key in [
            "file",
            "duration_s",
            "emotion",
            "probs",
            "trajectory",
            "experts",
            "enhanced",
            "provider",
        ] {
            assert!(!row[key].is_null(), "{key} missing in {row}");
        }
        assert_eq!(row["provider"], "cpu");
        let probs: f64 = row["probs"]
            .as_object()
            .unwrap()
            .values()
            .map(|v| v.as_f64().unwrap())
            .sum();
        assert!((probs - 1.0).abs() < 1e-4);
        let times = row["trajectory"]["times_s"].as_array().unwrap();
        assert_eq!(
            times.len(),
            row["trajectory"]["probs"].as_array().unwrap().len()
        );
        // The enhanced file has the input's length at 16 kHz.
        let source = demo_project().join(row["file"].as_str().unwrap());
        let decoded = merit_studio::audio::decode_file(&source, Default::default()).unwrap();
        let enhanced =
            hound::WavReader::open(out.path().join(row["enhanced"].as_str().unwrap())).unwrap();
        assert_eq!(enhanced.spec().sample_rate, 16_000);
        assert_eq!(enhanced.len() as usize, decoded.analysis.len());
    }
}

#[test]
fn shards_merge_into_the_whole() {
    let whole = tempfile::tempdir().unwrap();
    let demo = demo_project();
    let run = |extra: &[&str], out: &Path| {
        assert_eq!(
            analyze_tiny(path_str(&demo), out, extra).status.code(),
            Some(0)
        );
    };
    run(&[], whole.path());
    let shards: Vec<_> = (1..=3).map(|_| tempfile::tempdir().unwrap()).collect();
    for (k, dir) in shards.iter().enumerate() {
        run(&["--shard", &format!("{}/3", k + 1)], dir.path());
    }
    let merged = tempfile::tempdir().unwrap();
    let mut args = vec!["merge"];
    args.extend(shards.iter().map(|d| path_str(d.path())));
    args.extend_from_slice(&["--out", path_str(merged.path())]);
    assert_eq!(studio(&args).status.code(), Some(0));
    let pick = |rows: Vec<serde_json::Value>| -> Vec<(String, String)> {
        rows.iter()
            .map(|r| {
                (
                    r["file"].as_str().unwrap().to_owned(),
                    r["emotion"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    assert_eq!(
        pick(jsonl_rows(&merged.path().join("results.jsonl"))),
        pick(jsonl_rows(&whole.path().join("results.jsonl")))
    );
    let shard_sizes: usize = shards
        .iter()
        .map(|d| jsonl_rows(&d.path().join("results.jsonl")).len())
        .sum();
    assert_eq!(shard_sizes, 6);
    assert!(merged.path().join("enhanced/audio/sad_f1.wav").is_file());
}

#[test]
fn analyze_reports_bad_files_and_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    Wav::pcm16(16_000, 1, &sine(300.0, 16_000, 16_000, 1)).write(&dir.path().join("good.wav"));
    std::fs::write(dir.path().join("broken.wav"), b"not audio").unwrap();
    let out = tempfile::tempdir().unwrap();
    let output = analyze_tiny(path_str(dir.path()), out.path(), &[]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let results = jsonl_rows(&out.path().join("results.jsonl"));
    assert_eq!(results.len(), 2);
    assert!(results[0]["error"].as_str().unwrap().contains("broken.wav"));
    assert!(results[1]["error"].is_null());
}

#[test]
fn analyze_refuses_what_it_cannot_run() {
    let out = tempfile::tempdir().unwrap();
    let demo = demo_project();
    let fake = out.path().join("fake.onnx");
    std::fs::write(&fake, "nope").unwrap();
    let output = studio(&[
        "analyze",
        path_str(&demo),
        "--model",
        path_str(&fake),
        "--out",
        path_str(out.path()),
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("not a usable ONNX model"),
        "{}",
        stderr(&output)
    );
    if !merit_studio::model::runtime::locate().is_ok_and(|l| l.has_cuda_provider) {
        let output = studio(&[
            "analyze",
            path_str(&demo),
            "--model",
            &tiny_model(),
            "--device",
            "cuda",
            "--out",
            path_str(out.path()),
        ]);
        assert_eq!(output.status.code(), Some(2));
        assert!(
            stderr(&output).contains("CUDA was asked for but is not available"),
            "{}",
            stderr(&output)
        );
    }
    // A project whose model file is gone: stop rather than analyse with another model.
    let copied = out.path().join("copied");
    std::fs::create_dir(&copied).unwrap();
    let mut file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(demo.join("project.json")).unwrap()).unwrap();
    file["model"] = "models/gone.onnx".into();
    std::fs::write(copied.join("project.json"), file.to_string()).unwrap();
    let output = studio(&["analyze", path_str(&copied), "--out", path_str(out.path())]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("the project's model") && stderr(&output).contains("gone.onnx"),
        "{}",
        stderr(&output)
    );
    let blocked = out.path().join("file-not-folder");
    std::fs::write(&blocked, "x").unwrap();
    let output = analyze_tiny(path_str(&demo), &blocked.join("sub"), &[]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("cannot create"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn analysis_cache_hits_misses_and_survives_damage() {
    let cache = tempfile::tempdir().unwrap();
    let demo = demo_project();
    let analyze = |extra: &[&str]| {
        let out = tempfile::tempdir().unwrap();
        let mut args = vec!["--cache-dir", path_str(cache.path())];
        args.extend_from_slice(extra);
        let output = analyze_tiny(path_str(&demo), out.path(), &args);
        assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
        jsonl_rows(&out.path().join("results.jsonl"))
    };
    let cached = |rows: &[serde_json::Value]| rows.iter().filter(|r| r["cached"] == true).count();
    let first = analyze(&[]);
    assert_eq!(cached(&first), 0);
    let second = analyze(&[]);
    assert_eq!(cached(&second), 6);
    for (a, b) in first.iter().zip(&second) {
        assert_eq!(a["probs"], b["probs"]);
        assert_eq!(a["trajectory"], b["trajectory"]);
    }
    // Other parameters: a miss.
    assert_eq!(cached(&analyze(&["--hop-s", "1.0"])), 0);
    // Truncated cache files are ignored and rebuilt, never trusted.
    for entry in walkdir(cache.path()) {
        let bytes = std::fs::read(&entry).unwrap();
        std::fs::write(&entry, &bytes[..bytes.len() / 2]).unwrap();
    }
    let rebuilt = analyze(&[]);
    assert_eq!(cached(&rebuilt), 0);
    assert_eq!(rebuilt[2]["probs"], first[2]["probs"]);
    assert_eq!(cached(&analyze(&[])), 6);
}

fn walkdir(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walkdir(&path));
        } else {
            files.push(path);
        }
    }
    files
}

/// Runs `merit-studio label` with `lines` on standard input; returns the acknowledgements.
fn label(project: &Path, annotator: &str, lines: &[&str]) -> Vec<serde_json::Value> {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_merit-studio"))
        .args(["label", path_str(project), "--annotator", annotator])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    for line in lines {
        writeln!(stdin, "{line}").unwrap();
    }
    drop(stdin);
    let output = child.wait_with_output().unwrap();
    stdout(&output)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn label_acknowledges_each_edit_and_agreement_reports_it() {
    let dir = tempfile::tempdir().unwrap();
    let project = common::copy_demo(dir.path());
    let files = [
        "audio/angry_m1.wav",
        "audio/sad_f1.flac",
        "audio/happy_m2.mp3",
        "audio/neutral_f2.ogg",
    ];
    let edits = |classes: [&str; 4]| -> Vec<String> {
        files
            .iter()
            .zip(classes)
            .map(|(file, class)| format!(r#"{{"file": "{file}", "class": "{class}"}}"#))
            .collect()
    };
    let alice = edits(["angry", "sad", "happy", "neutral"]);
    let bob = edits(["angry", "sad", "neutral", "neutral"]);
    let mut alice_lines: Vec<&str> = alice.iter().map(String::as_str).collect();
    alice_lines.push(r#"{"file": "audio/angry_m1.wav", "class": "bored"}"#);
    let acks = label(&project, "alice", &alice_lines);
    assert_eq!(acks.len(), 5);
    assert_eq!(acks[0]["ok"], true);
    assert_eq!(acks[3]["seq"], 4);
    assert_eq!(acks[4]["ok"], false);
    assert!(acks[4]["error"].as_str().unwrap().contains("unknown class"));
    let bob_lines: Vec<&str> = bob.iter().map(String::as_str).collect();
    assert!(
        label(&project, "bob", &bob_lines)
            .iter()
            .all(|a| a["ok"] == true)
    );

    let output = studio(&["agreement", path_str(&project), "--json"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let report: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(report["annotators"], serde_json::json!(["alice", "bob"]));
    assert_eq!(report["recordings"], 4);
    // Two raters on every recording: Fleiss' kappa is defined; 3 of 4 agree.
    assert!(report["fleiss_kappa"].as_f64().unwrap() > 0.0);
    let alpha = report["classes"]["alpha"].as_f64().unwrap();
    assert!(alpha > 0.5 && alpha < 1.0, "{alpha}");
}

#[test]
fn annotators_sign_with_their_own_names_in_labels_and_exports() {
    let dir = tempfile::tempdir().unwrap();
    let project = common::copy_demo(dir.path());
    let edit = [r#"{"file": "audio/angry_m1.wav", "class": "angry"}"#];
    // Typed with a combining accent: stored, and found again, as the precomposed name.
    assert_eq!(label(&project, "Jose\u{301} Ñúñez", &edit)[0]["ok"], true);
    assert_eq!(label(&project, "王芳", &edit)[0]["ok"], true);
    let out = dir.path().join("labels.jsonl");
    let output = studio(&[
        "export",
        path_str(&project),
        "--format",
        "jsonl",
        "--annotator",
        "José Ñúñez",
        "--out",
        path_str(&out),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let exported = jsonl_rows(&out);
    let angry = exported
        .iter()
        .find(|r| r["file"] == "audio/angry_m1.wav")
        .unwrap();
    assert_eq!(angry["label"], "angry");
    // A case twin and a name with a path separator are refused with the rule.
    let refused = Command::new(env!("CARGO_BIN_EXE_merit-studio"))
        .args(["label", path_str(&project), "--annotator", "josé ñúñez"])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("differs only in case"),
        "{}",
        stderr(&refused)
    );
    let refused = studio(&[
        "export",
        path_str(&project),
        "--format",
        "jsonl",
        "--annotator",
        "a/b",
        "--out",
        path_str(&dir.path().join("x.jsonl")),
    ]);
    assert!(
        stderr(&refused).contains("not a usable annotator name"),
        "{}",
        stderr(&refused)
    );
}

#[test]
fn label_takes_segment_edits_and_refuses_overlaps() {
    let dir = tempfile::tempdir().unwrap();
    let project = common::copy_demo(dir.path());
    let file = "audio/angry_m1.wav";
    let acks = label(
        &project,
        "zoë",
        &[
            &format!(
                r#"{{"file": "{file}", "segment": {{"start_s": 0.5, "end_s": 1.5, "class": "sad"}}}}"#
            ),
            // Overlapping the first: refused, naming it.
            &format!(
                r#"{{"file": "{file}", "segment": {{"start_s": 1.0, "end_s": 2.0, "class": "sad"}}}}"#
            ),
            &format!(
                r#"{{"file": "{file}", "segment_edit": {{"split": {{"id": 1, "at_s": 1.0}}}}}}"#
            ),
            &format!(
                r#"{{"file": "{file}", "segment_edit": {{"nudge": {{"id": 2, "boundary": "end", "by_s": 100}}}}}}"#
            ),
            &format!(r#"{{"file": "{file}", "segment_edit": {{"merge_with_next": {{"id": 1}}}}}}"#),
            &format!(
                r#"{{"file": "{file}", "segment_edit": {{"set_class": {{"id": 1, "class": "Happy"}}}}}}"#
            ),
            &format!(
                r#"{{"file": "{file}", "segment_edit": {{"split": {{"id": 1, "at_s": 9.0}}}}}}"#
            ),
            r#"{"undo": true}"#,
        ],
    );
    let ok: Vec<bool> = acks.iter().map(|a| a["ok"] == true).collect();
    assert_eq!(
        ok,
        [true, false, true, true, true, true, false, true],
        "{acks:?}"
    );
    let overlap = acks[1]["error"].as_str().unwrap();
    assert!(overlap.contains("overlaps segment 1"), "{overlap}");
    assert!(
        acks[6]["error"]
            .as_str()
            .unwrap()
            .contains("not inside segment 1")
    );
    let store = merit_studio::annotation::AnnotationStore::load(&project).unwrap();
    let segments = &store.label(file, "zoë").unwrap().segments;
    // Split at 1.0, the second half's end nudged to the recording's end (not 100 s), merged; the
    // class change undone.
    let duration_s = merit_studio::audio::probe(&project.join(file))
        .unwrap()
        .duration_secs()
        .unwrap();
    assert_eq!(segments.len(), 1);
    assert_eq!(
        (
            segments[0].id,
            segments[0].start_s,
            segments[0].class.as_str()
        ),
        (1, 0.5, "sad")
    );
    assert!(
        (segments[0].end_s - duration_s).abs() < 1e-9,
        "{segments:?}"
    );
}

#[test]
fn label_takes_comments_and_jsonl_exports_them() {
    let dir = tempfile::tempdir().unwrap();
    let project = common::copy_demo(dir.path());
    let file = "audio/angry_m1.wav";
    let acks = label(
        &project,
        "王芳",
        &[
            &format!(r#"{{"file": "{file}", "class": "angry"}}"#),
            &format!(
                r#"{{"file": "{file}", "comment": {{"text": "laughs, then \"no\" = sarcasm?"}}}}"#
            ),
            &format!(
                r#"{{"file": "{file}", "comment": {{"text": "agreed", "reply_to": {{"author": "王芳", "id": 2}}}}}}"#
            ),
            &format!(r#"{{"file": "{file}", "comment": {{"text": "   "}}}}"#),
        ],
    );
    let ok: Vec<bool> = acks.iter().map(|a| a["ok"] == true).collect();
    assert_eq!(ok, [true, true, true, false], "{acks:?}");
    assert!(
        acks[3]["error"]
            .as_str()
            .unwrap()
            .contains("needs some text")
    );
    let out = dir.path().join("labels.jsonl");
    let output = studio(&[
        "export",
        path_str(&project),
        "--format",
        "jsonl",
        "--out",
        path_str(&out),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = std::fs::read_to_string(&out).unwrap();
    let row: serde_json::Value = text
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|r| r["file"] == file)
        .unwrap();
    let comments = row["comments"].as_array().unwrap();
    assert_eq!(comments.len(), 2);
    assert_eq!(comments[0]["author"], "王芳");
    assert_eq!(comments[0]["text"], "laughs, then \"no\" = sarcasm?");
    assert_eq!(comments[1]["reply_to"]["id"], 2);
}

#[test]
fn bench_times_the_windows_path_from_selecting_a_recording_to_its_trajectory() {
    let model = common::tiny_model();
    let file = demo_project().join("audio/angry_m1.wav");
    let output = studio(&[
        "bench",
        "--model",
        path_str(&model),
        "--jobs",
        "1",
        "--open-to-trajectory",
        path_str(&file),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    for line in [
        "decode",
        "analysis",
        "select -> trajectory",
        "from the cache",
    ] {
        assert!(
            text.lines()
                .any(|l| l.starts_with(line) && l.contains(" ms")),
            "{line}: {text}"
        );
    }
    assert!(text.contains("(3.57 s)"), "{text}");
    let missing = studio(&[
        "bench",
        "--model",
        path_str(&model),
        "--open-to-trajectory",
        "no/such.wav",
    ]);
    assert!(!missing.status.success());
    assert!(
        stderr(&missing).contains("no/such.wav"),
        "{}",
        stderr(&missing)
    );
}

#[test]
fn bench_times_the_span_in_view_before_the_whole() {
    let model = common::tiny_model();
    let output = studio(&[
        "bench",
        "--model",
        path_str(&model),
        "--jobs",
        "1",
        "--seconds",
        "120",
        "--chunk-seconds",
        "10",
        "--view-seconds",
        "8",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(text.contains("chunks of 10 s"), "{text}");
    let line = text
        .lines()
        .find(|l| l.starts_with("in view"))
        .unwrap_or_else(|| panic!("{text}"));
    // "in view      8 s in the middle analysed after X s (the whole: Y s)": the view comes first.
    let numbers: Vec<f64> = line
        .split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .filter_map(|n| n.parse().ok())
        .collect();
    let (in_view, whole) = (numbers[1], numbers[2]);
    assert!(in_view < whole, "{line}");
}
