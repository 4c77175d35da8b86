//! Faults of the medium: a project on a small file system that fills up while an annotator works,
//! and the same file system remounted read-only. Needs root (a tmpfs mount); elsewhere each test
//! prints why it did not run.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use merit_studio::annotation::AnnotationStore;

/// A tmpfs of `kib` KiB mounted on a fresh folder, unmounted when dropped.
struct SmallDisk {
    _holder: tempfile::TempDir,
    mount: PathBuf,
}

impl SmallDisk {
    fn new(kib: u32) -> Option<Self> {
        let holder = tempfile::tempdir().unwrap();
        let mount = holder.path().join("disk");
        std::fs::create_dir(&mount).unwrap();
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={kib}k"), "tmpfs"])
            .arg(&mount)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success());
        if !mounted {
            println!("skipped: cannot mount a tmpfs here (the fault tests need root)");
            return None;
        }
        Some(Self {
            _holder: holder,
            mount,
        })
    }

    fn remount_read_only(&self) {
        let status = Command::new("mount")
            .args(["-o", "remount,ro"])
            .arg(&self.mount)
            .status()
            .unwrap();
        assert!(status.success());
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.mount).status();
    }
}

/// A project on `disk` whose recordings are the demo's, where they are.
fn project_on(disk: &Path) -> PathBuf {
    let project = disk.join("project");
    std::fs::create_dir(&project).unwrap();
    let audio = std::fs::canonicalize("projects/demo/audio").unwrap();
    let json = serde_json::json!({
        "schema_version": 1,
        "name": "on a small disk",
        "sources": [{"kind": "folder", "path": audio}],
    });
    std::fs::write(project.join("project.json"), json.to_string()).unwrap();
    project
}

fn studio() -> Command {
    Command::new(env!("CARGO_BIN_EXE_merit-studio"))
}

/// Runs `label` with `lines`; returns the acknowledgements and the exit status.
fn label(project: &Path, lines: &[String]) -> (Vec<serde_json::Value>, std::process::Output) {
    let mut child = studio()
        .args(["label", project.to_str().unwrap(), "--annotator", "ana"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    for line in lines {
        if writeln!(stdin, "{line}").is_err() {
            break;
        }
    }
    drop(stdin);
    let output = child.wait_with_output().unwrap();
    let acks = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    (acks, output)
}

#[test]
fn a_full_disk_refuses_the_edit_and_keeps_every_acknowledged_one() {
    let Some(disk) = SmallDisk::new(96) else {
        return;
    };
    let project = project_on(&disk.mount);
    // Notes of 3 KB fill 96 KiB within a few dozen edits.
    let filler = "x".repeat(3000);
    let lines: Vec<String> = (0..80)
        .map(|i| format!(r#"{{"file": "angry_m1.wav", "note": "{i} {filler}"}}"#))
        .collect();
    let (acks, _) = label(&project, &lines);
    let saved = acks.iter().take_while(|a| a["ok"] == true).count();
    assert!(
        saved > 0 && saved < acks.len(),
        "the disk never filled: {} acknowledgements",
        acks.len()
    );
    let refusal = acks[saved]["error"].as_str().unwrap();
    assert!(refusal.contains("No space left"), "{refusal}");
    let journal = std::fs::read(project.join("annotations/ana.jsonl")).unwrap();
    assert_eq!(
        journal.last(),
        Some(&b'\n'),
        "no partial line is left behind"
    );
    let store = AnnotationStore::load(&project).unwrap();
    assert!(store.warnings().is_empty(), "{:?}", store.warnings());
    let note = store.label("angry_m1.wav", "ana").unwrap().note.clone();
    assert!(
        note.starts_with(&format!("{} ", saved - 1)),
        "the last acknowledged note is the one kept"
    );

    // An export onto the full disk fails and leaves nothing half-written.
    let out = disk.mount.join("labels.jsonl");
    let output = studio()
        .args([
            "export",
            project.to_str().unwrap(),
            "--format",
            "jsonl",
            "--include-unlabelled",
            "--out",
        ])
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        !output.status.success(),
        "an export onto a full disk succeeded"
    );
    assert!(String::from_utf8_lossy(&output.stderr).contains("No space left"));
    assert!(!out.exists(), "a failed export left {}", out.display());
    let leftovers: Vec<_> = std::fs::read_dir(&disk.mount)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(
        leftovers,
        vec![std::ffi::OsString::from("project")],
        "temporary files left: {leftovers:?}"
    );
}

#[test]
fn a_read_only_medium_is_read_and_not_written() {
    let Some(disk) = SmallDisk::new(512) else {
        return;
    };
    let project = project_on(&disk.mount);
    let (acks, _) = label(
        &project,
        &[r#"{"file": "sad_f1.flac", "class": "sad"}"#.to_owned()],
    );
    assert_eq!(acks[0]["ok"], true);
    disk.remount_read_only();
    let (acks, output) = label(
        &project,
        &[r#"{"file": "sad_f1.flac", "class": "angry"}"#.to_owned()],
    );
    assert!(acks.is_empty() || acks[0]["ok"] == false, "{acks:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success() || !acks.is_empty(), "{stderr}");
    assert!(
        stderr.contains("Read-only")
            || acks
                .iter()
                .any(|a| a["error"].as_str().is_some_and(|e| e.contains("Read-only"))),
        "{stderr} {acks:?}"
    );
    // What was saved reads back, and exports elsewhere work.
    let store = AnnotationStore::load(&project).unwrap();
    assert_eq!(
        store.label("sad_f1.flac", "ana").unwrap().class.as_deref(),
        Some("sad")
    );
    let elsewhere = tempfile::tempdir().unwrap();
    let output = studio()
        .args([
            "export",
            project.to_str().unwrap(),
            "--format",
            "jsonl",
            "--out",
        ])
        .arg(elsewhere.path().join("labels.jsonl"))
        .output()
        .unwrap();
    common::assert_success(&output);
}
