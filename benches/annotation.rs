//! Annotation storage: edits per second sustained with an fsync per edit, the time to open a
//! project of 100,000 recordings whose journals hold 500,000 lines, and the replay of an hour-long
//! trace pass (90,000 samples in 7,500 half-second blocks; issue 18's target is under 100 ms).
//! Prints figures; asserts nothing.
//!
//!     cargo bench --bench annotation
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fmt::Write as _;
use std::time::Instant;

use merit_studio::annotation::{AnnotationStore, ClassSource, Op};
use merit_studio::project::{Collection, Project};

const RECORDINGS: usize = 100_000;
const ANNOTATORS: usize = 5;
const LINES_EACH: usize = 100_000;
const CLASSES: [&str; 4] = ["angry", "sad", "happy", "neutral"];

fn sustained_edits() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = AnnotationStore::load(dir.path()).unwrap();
    store.set_annotator("bench").unwrap();
    let edits = 2_000;
    let started = Instant::now();
    for i in 0..edits {
        store
            .edit(
                &format!("audio/{:06}.wav", i % 500),
                Op::SetClass {
                    class: Some(CLASSES[i % 4].to_owned()),
                    source: ClassSource::Human,
                    model: None,
                },
            )
            .unwrap();
    }
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "edits, each fsynced before it returns: {edits} in {seconds:.2} s = {:.0} edits/s ({:.2} ms each)",
        edits as f64 / seconds,
        seconds * 1000.0 / edits as f64
    );
}

fn open_large_project() {
    let dir = tempfile::tempdir().unwrap();
    let mut manifest = String::from("path,speaker,label\n");
    for i in 0..RECORDINGS {
        writeln!(
            manifest,
            "audio/{i:06}.wav,spk{:04},{}",
            i % 1000,
            CLASSES[i % 4]
        )
        .unwrap();
    }
    std::fs::write(dir.path().join("manifest.csv"), manifest).unwrap();
    let journals = dir.path().join("annotations");
    std::fs::create_dir_all(&journals).unwrap();
    for annotator in 0..ANNOTATORS {
        let mut text = String::new();
        for seq in 1..=LINES_EACH {
            let file = (seq * 7 + annotator * 13) % RECORDINGS;
            writeln!(
                text,
                r#"{{"v":1,"seq":{seq},"annotator":"rater{annotator}","time_ms":1795700000000,"file":"audio/{file:06}.wav","op":"set_class","class":"{}","source":"human"}}"#,
                CLASSES[(seq + annotator) % 4]
            )
            .unwrap();
        }
        std::fs::write(journals.join(format!("rater{annotator}.jsonl")), text).unwrap();
    }
    let started = Instant::now();
    let project = Project::open(&dir.path().join("manifest.csv")).unwrap();
    let collection = Collection::load(&project);
    let listed = started.elapsed();
    let store = AnnotationStore::load(&project.root).unwrap();
    let total = started.elapsed();
    assert_eq!(collection.recordings.len(), RECORDINGS);
    println!(
        "open a project of {} recordings with {} journal lines ({} annotators): {:.2} s \
         (collection {:.2} s, journals {:.2} s)",
        collection.recordings.len(),
        store.lines_loaded(),
        ANNOTATORS,
        total.as_secs_f64(),
        listed.as_secs_f64(),
        (total - listed).as_secs_f64()
    );
}

fn trace_replay() {
    let dir = tempfile::tempdir().unwrap();
    let journals = dir.path().join("annotations");
    std::fs::create_dir_all(&journals).unwrap();
    let mut text = String::from(
        r#"{"v":1,"seq":1,"annotator":"tracer","time_ms":1795700000000,"file":"a.wav","op":"trace","tv":1,"trace":"begin","pass":1,"dimension":"arousal","rate_hz":25.0,"mode":{"kind":"bounded","min":1.0,"max":7.0},"input":"mouse","start_index":0}"#,
    );
    text.push('\n');
    let blocks = 90_000 / 12;
    for block in 0..blocks {
        let values: Vec<String> = (0..12)
            .map(|i| {
                format!(
                    "{:.4}",
                    4.0 + 2.5 * (f64::from(block * 12 + i) / 40.0).sin()
                )
            })
            .collect();
        writeln!(
            text,
            r#"{{"v":1,"seq":{},"annotator":"tracer","time_ms":1795700000000,"file":"a.wav","op":"trace","tv":1,"trace":"block","pass":1,"values":[{}]}}"#,
            block + 2,
            values.join(",")
        )
        .unwrap();
    }
    std::fs::write(journals.join("tracer.jsonl"), text).unwrap();
    let started = Instant::now();
    let store = AnnotationStore::load(dir.path()).unwrap();
    let seconds = started.elapsed().as_secs_f64();
    let samples = store.label("a.wav", "tracer").unwrap().traces.passes[0]
        .values
        .len();
    println!(
        "replay a 1-hour trace pass: {samples} samples in {} blocks in {:.1} ms",
        blocks,
        seconds * 1000.0
    );
}

fn main() {
    sustained_edits();
    open_large_project();
    trace_replay();
}
