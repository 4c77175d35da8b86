//! `merit-studio label` in a child process: thousands of seeded random edits, the child killed
//! with SIGKILL at random points again and again; every acknowledged edit must be found on reopening,
//! and nothing may be corrupted.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use merit_studio::annotation::AnnotationStore;
use merit_studio::annotation::journal::read_journal;

const FILES: [&str; 6] = [
    "audio/angry_m1.wav",
    "audio/sad_f1.flac",
    "audio/happy_m2.mp3",
    "audio/neutral_f2.ogg",
    "audio/happy_f3.m4a",
    "audio/neutral_m3.wav",
];
const CLASSES: [&str; 4] = ["angry", "sad", "happy", "neutral"];

fn random_edit(rng: &mut fastrand::Rng) -> String {
    let file = FILES[rng.usize(..FILES.len())];
    let class = CLASSES[rng.usize(..CLASSES.len())];
    match rng.u8(..10) {
        0..=2 => format!(r#"{{"file": "{file}", "class": "{class}"}}"#),
        3 => format!(
            r#"{{"file": "{file}", "attributes": {{"arousal": {}, "valence": {}}}}}"#,
            rng.u8(1..=7),
            rng.u8(1..=7)
        ),
        4 => {
            let start = f64::from(rng.u8(..30)) / 10.0;
            format!(
                r#"{{"file": "{file}", "segment": {{"start_s": {start}, "end_s": {}, "class": "{class}"}}}}"#,
                start + 0.5
            )
        }
        5 => format!(
            r#"{{"file": "{file}", "note": "note {} with \"quotes\" and ünïcode"}}"#,
            rng.u32(..)
        ),
        6 => format!(r#"{{"file": "{file}", "flag": "bad_audio"}}"#),
        7 => format!(
            r#"{{"file": "{file}", "confidence": {}}}"#,
            f64::from(rng.u8(..=10)) / 10.0
        ),
        8 => r#"{"undo": true}"#.to_owned(),
        _ => r#"{"redo": true}"#.to_owned(),
    }
}

#[test]
fn acknowledged_edits_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let project = common::copy_demo(dir.path());
    let mut rng = fastrand::Rng::with_seed(20_261_126);
    // seq -> (file, op as JSON) for every acknowledged edit.
    let mut acknowledged: BTreeMap<u64, String> = BTreeMap::new();
    let (mut sent, mut kills) = (0_usize, 0_usize);
    for _round in 0..25 {
        let mut child = Command::new(env!("CARGO_BIN_EXE_merit-studio"))
            .args(["label", project.to_str().unwrap(), "--annotator", "fuzz"])
            .env("XDG_CACHE_HOME", dir.path().join("cache"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let lines: Vec<String> = (0..200).map(|_| random_edit(&mut rng)).collect();
        sent += lines.len();
        let mut stdin = child.stdin.take().unwrap();
        let writer = std::thread::spawn(move || {
            for line in lines {
                if writeln!(stdin, "{line}").is_err() {
                    break;
                }
            }
            // Keep stdin open: the child must be killed, not finish.
            std::thread::sleep(std::time::Duration::from_secs(30));
        });
        let kill_after = rng.usize(1..200);
        let mut reader = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        let mut acks = 0;
        while acks < kill_after {
            line.clear();
            if reader.read_line(&mut line).unwrap() == 0 {
                break;
            }
            let ack: serde_json::Value = serde_json::from_str(&line).unwrap();
            if ack["ok"] == true {
                acknowledged.insert(
                    ack["seq"].as_u64().unwrap(),
                    ack["file"].as_str().unwrap().to_owned(),
                );
            }
            acks += 1;
        }
        // SIGKILL: no destructors, no flushing, possibly mid-write.
        child.kill().unwrap();
        child.wait().unwrap();
        kills += 1;
        drop(writer);
    }
    let journal = read_journal(&project.join("annotations"), "fuzz").unwrap();
    // At most the last line of the last round can be torn; nothing else may be damaged.
    assert!(
        journal.warnings.iter().all(|w| w.message.contains("torn")),
        "{:?}",
        journal.warnings
    );
    let on_disk: BTreeMap<u64, String> = journal
        .entries
        .iter()
        .map(|e| (e.seq, e.file.clone()))
        .collect();
    let seqs: Vec<u64> = on_disk.keys().copied().collect();
    assert_eq!(
        seqs,
        (1..=seqs.len() as u64).collect::<Vec<_>>(),
        "gaps in sequence numbers"
    );
    let lost: Vec<_> = acknowledged
        .iter()
        .filter(|(seq, file)| on_disk.get(seq) != Some(file))
        .collect();
    assert!(lost.is_empty(), "acknowledged but lost: {lost:?}");
    // The store replays it all and takes the lock again.
    let mut store = AnnotationStore::load(&project).unwrap();
    store.set_annotator("fuzz").unwrap();
    eprintln!(
        "sent {sent} edits over {kills} SIGKILLs; {} acknowledged, {} on disk, 0 lost",
        acknowledged.len(),
        on_disk.len()
    );
}
