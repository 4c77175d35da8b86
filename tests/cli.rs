//! The headless commands as a user runs them: output lines and exit codes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::{Wav, broken_files, demo_project, sine};

fn studio(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_merit-studio"))
        .args(args)
        .env("RUST_LOG", "error")
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
