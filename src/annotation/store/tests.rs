use super::*;
use crate::annotation::label::{ClassSource, Segment};
use std::collections::BTreeMap;
use std::io::Write;

fn class(name: &str) -> Op {
    Op::SetClass {
        class: Some(name.into()),
        source: ClassSource::Human,
        model: None,
    }
}

#[test]
fn edits_survive_a_reload_and_undo_redo_are_journaled() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = AnnotationStore::load(dir.path()).unwrap();
    assert!(matches!(
        store.edit("a.wav", class("sad")),
        Err(AnnotationError::NoAnnotator)
    ));
    store.set_annotator("alice").unwrap();
    store.edit("a.wav", class("angry")).unwrap();
    store.edit("b.wav", class("happy")).unwrap();
    store
        .edit(
            "a.wav",
            Op::PutSegment {
                segment: Segment {
                    id: 1,
                    start_s: 0.5,
                    end_s: 1.0,
                    class: "sad".into(),
                    attributes: BTreeMap::new(),
                },
            },
        )
        .unwrap();
    // Undo works across recordings, newest first.
    store.undo().unwrap();
    store.undo().unwrap();
    assert!(store.label("b.wav", "alice").unwrap().class.is_none());
    store.redo().unwrap();
    assert_eq!(
        store.label("b.wav", "alice").unwrap().class.as_deref(),
        Some("happy")
    );
    assert!(store.can_redo());
    store.edit("a.wav", class("neutral")).unwrap();
    assert!(!store.can_redo(), "a new edit clears redo");
    drop(store);

    let reloaded = AnnotationStore::load(dir.path()).unwrap();
    let a = reloaded.label("a.wav", "alice").unwrap();
    assert_eq!(a.class.as_deref(), Some("neutral"));
    assert!(a.segments.is_empty());
    assert_eq!(
        reloaded.label("b.wav", "alice").unwrap().class.as_deref(),
        Some("happy")
    );
    assert_eq!(reloaded.lines_loaded(), 7);
    assert!(reloaded.warnings().is_empty());
}

#[test]
fn a_torn_last_line_is_ignored_and_cut_before_the_next_edit() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = AnnotationStore::load(dir.path()).unwrap();
    store.set_annotator("bob").unwrap();
    store.edit("a.wav", class("sad")).unwrap();
    drop(store);
    let journal = dir.path().join("annotations/bob.jsonl");
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&journal)
        .unwrap();
    file.write_all(br#"{"v":1,"seq":2,"annotator":"bob","time_ms":1,"fi"#)
        .unwrap();
    drop(file);
    let mut store = AnnotationStore::load(dir.path()).unwrap();
    assert_eq!(store.warnings().len(), 1);
    assert!(
        store.warnings()[0]
            .to_string()
            .contains("bob.jsonl:2: torn")
    );
    store.set_annotator("bob").unwrap();
    store.edit("a.wav", class("happy")).unwrap();
    drop(store);
    let reloaded = AnnotationStore::load(dir.path()).unwrap();
    assert!(reloaded.warnings().is_empty());
    assert_eq!(
        reloaded.label("a.wav", "bob").unwrap().class.as_deref(),
        Some("happy")
    );
}

#[test]
fn malformed_lines_are_reported_and_the_rest_loads() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("annotations");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(
        folder.join("carol.jsonl"),
        concat!(
            r#"{"v":1,"seq":1,"annotator":"carol","time_ms":5,"file":"a.wav","op":"set_class","class":"sad"}"#,
            "\nnot json\n",
            r#"{"v":9,"seq":2,"annotator":"carol","time_ms":6,"file":"a.wav","op":"set_note","note":"x"}"#,
            "\n",
            r#"{"v":1,"seq":3,"annotator":"carol","time_ms":7,"file":"gone.wav","op":"set_note","note":"kept"}"#,
            "\n"
        ),
    )
    .unwrap();
    let store = AnnotationStore::load(dir.path()).unwrap();
    let messages: Vec<String> = store.warnings().iter().map(ToString::to_string).collect();
    assert_eq!(messages.len(), 2, "{messages:?}");
    assert!(messages[0].contains("carol.jsonl:2: not a valid edit"));
    assert!(messages[1].contains("carol.jsonl:3: unknown schema version 9"));
    assert_eq!(
        store.label("a.wav", "carol").unwrap().class.as_deref(),
        Some("sad")
    );
    assert_eq!(store.orphans(["a.wav"]), vec!["gone.wav".to_owned()]);
}

#[test]
fn a_second_writer_of_the_same_journal_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut first = AnnotationStore::load(dir.path()).unwrap();
    first.set_annotator("dana").unwrap();
    // A lock held by a live writer (the OS lock on the file) refuses a second writer.
    let mut holder = AnnotationStore::load(dir.path()).unwrap();
    holder.set_annotator("erin").unwrap();
    let mut second = AnnotationStore::load(dir.path()).unwrap();
    let error = second.set_annotator("erin").unwrap_err();
    assert!(
        error.to_string().contains("already being written"),
        "{error}"
    );
    drop(holder);
    // A stale lock (a process of this host that is gone: nobody holds the OS lock) is taken over.
    let host = gethostname::gethostname().to_string_lossy().into_owned();
    let erin_lock = dir.path().join("annotations/erin.lock");
    let stale = format!(r#"{{"pid": 4000000000, "host": "{host}"}}"#);
    std::fs::write(&erin_lock, stale).unwrap();
    second.set_annotator("erin").unwrap();
    drop(second);
    // A lock left by a studio on another machine is never taken over silently: on a network
    // file system the OS lock may not reach this machine.
    std::fs::write(&erin_lock, r#"{"pid": 7, "host": "another-machine"}"#).unwrap();
    let mut third = AnnotationStore::load(dir.path()).unwrap();
    let error = third.set_annotator("erin").unwrap_err().to_string();
    assert!(error.contains("process 7 on another-machine"), "{error}");
    assert!(matches!(
        third.set_annotator("no/slashes"),
        Err(AnnotationError::BadAnnotator(_))
    ));
    drop(first);
    assert!(!dir.path().join("annotations/dana.lock").exists());
}

#[test]
fn annotators_sign_in_any_script_and_case_twins_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = AnnotationStore::load(dir.path()).unwrap();
    // Typed with a combining diaeresis and a stray space: stored as the NFC name.
    store.set_annotator(" zoe\u{308}").unwrap();
    assert_eq!(store.annotator(), Some("zoë"));
    store.edit("a.wav", class("sad")).unwrap();
    store.set_annotator("王芳").unwrap();
    store.edit("a.wav", class("happy")).unwrap();
    drop(store);
    let store = AnnotationStore::load(dir.path()).unwrap();
    assert_eq!(
        store.label("a.wav", "zoë").unwrap().class.as_deref(),
        Some("sad")
    );
    assert_eq!(
        store.label("a.wav", "王芳").unwrap().class.as_deref(),
        Some("happy")
    );
    assert!(dir.path().join("annotations/zoë.jsonl").exists());
    let mut store = store;
    let error = store.set_annotator("Zoë").unwrap_err();
    assert!(
        matches!(&error, AnnotationError::CaseTwin { existing, .. } if existing == "zoë"),
        "{error}"
    );
}

#[test]
fn journals_of_two_annotators_merge_and_compaction_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = AnnotationStore::load(dir.path()).unwrap();
    store.set_annotator("alice").unwrap();
    store.edit("a.wav", class("angry")).unwrap();
    store.set_annotator("bob").unwrap();
    store.edit("a.wav", class("sad")).unwrap();
    store.compact().unwrap();
    store.edit("b.wav", class("happy")).unwrap();
    drop(store);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("annotations/bob.jsonl"))
            .unwrap()
            .lines()
            .count(),
        1
    );
    let store = AnnotationStore::load(dir.path()).unwrap();
    assert_eq!(store.annotators(), vec!["alice", "bob"]);
    let a = store.labels_of("a.wav").unwrap();
    assert_eq!(a["alice"].class.as_deref(), Some("angry"));
    assert_eq!(a["bob"].class.as_deref(), Some("sad"));
    assert_eq!(
        store.label("b.wav", "bob").unwrap().class.as_deref(),
        Some("happy")
    );
    // Sequence numbers go on after the snapshot.
    let mut store = store;
    store.set_annotator("bob").unwrap();
    let applied = store.edit("c.wav", class("sad")).unwrap();
    assert_eq!(applied.entry.seq, 3);
}
