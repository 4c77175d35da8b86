use std::collections::BTreeMap;
use std::io::Write;

use super::*;
use crate::annotation::AnnotationStore;
use crate::annotation::label::{Label, Op};
use crate::project::{DEFAULT_RATE_HZ, PassCombine, TraceScheme};

fn arousal() -> TraceScheme {
    TraceScheme {
        dimension: "arousal".into(),
        name: String::new(),
        mode: TraceMode::Bounded { min: 1.0, max: 7.0 },
        rate_hz: DEFAULT_RATE_HZ,
    }
}

fn ramp(n: usize) -> Vec<f64> {
    (0..n).map(|i| 1.0 + 6.0 * i as f64 / n as f64).collect()
}

#[test]
fn every_trace_edit_is_undone_by_its_inverse() {
    let edits = vec![
        TraceEdit::Begin {
            pass: 3,
            dimension: "arousal".into(),
            rate_hz: 25.0,
            mode: TraceMode::Relative,
            input: TraceInput::Mouse,
            start_index: 10,
        },
        TraceEdit::Block {
            pass: 3,
            values: vec![1.0, 2.0, 3.0],
        },
        TraceEdit::Block {
            pass: 3,
            values: vec![4.0],
        },
        TraceEdit::Truncate { pass: 3, len: 2 },
        TraceEdit::End {
            pass: 3,
            state: PassState::Incomplete,
        },
        TraceEdit::SetFinal {
            dimension: "arousal".into(),
            pass: Some(3),
        },
        TraceEdit::Discard { pass: 3, on: true },
        TraceEdit::Remove { pass: 3 },
    ];
    let mut label = Label::default();
    let mut states = vec![label.clone()];
    let mut inverses = Vec::new();
    for edit in edits {
        inverses.push(label.apply(&Op::trace(edit)));
        states.push(label.clone());
    }
    states.pop();
    while let Some(inverse) = inverses.pop() {
        label.apply(&inverse);
        assert_eq!(Some(&label), states.last());
        states.pop();
    }
    assert!(label.is_empty());
}

#[test]
fn trace_edits_read_as_the_journal_writes_them() {
    let op = Op::trace(TraceEdit::Block {
        pass: 7,
        values: vec![1.5, 2.0],
    });
    let json = serde_json::to_string(&op).unwrap();
    assert_eq!(
        json,
        r#"{"op":"trace","tv":1,"trace":"block","pass":7,"values":[1.5,2.0]}"#
    );
    assert_eq!(serde_json::from_str::<Op>(&json).unwrap(), op);
}

/// A pass of `n` samples by `annotator`, ended; returns its id.
fn trace_pass(store: &mut AnnotationStore, file: &str, values: &[f64]) -> u64 {
    let pass = store
        .begin_pass(file, &arousal(), TraceInput::Keys, 0)
        .unwrap();
    store.append_trace(file, pass, 25.0, values).unwrap();
    store.end_pass(file, pass, PassState::Complete).unwrap();
    pass
}

#[test]
fn a_pass_is_journaled_in_half_second_blocks_and_undone_as_one_step() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = AnnotationStore::load(dir.path()).unwrap();
    store.set_annotator("alice").unwrap();
    let pass = store
        .begin_pass("a.wav", &arousal(), TraceInput::Mouse, 5)
        .unwrap();
    // 2 s at 25 Hz: 50 samples in blocks of 12 (0.48 s) -> 5 lines.
    assert_eq!(
        store.append_trace("a.wav", pass, 25.0, &ramp(50)).unwrap(),
        5
    );
    store.end_pass("a.wav", pass, PassState::Complete).unwrap();
    let journal = std::fs::read_to_string(dir.path().join("annotations/alice.jsonl")).unwrap();
    assert_eq!(journal.lines().count(), 7);
    for line in journal.lines().filter(|l| l.contains("\"block\"")) {
        let entry: crate::annotation::journal::Entry = serde_json::from_str(line).unwrap();
        assert_eq!(entry.v, 1);
        let Op::Trace {
            tv: 1,
            edit: TraceEdit::Block { values, .. },
        } = entry.op
        else {
            panic!("{line}")
        };
        assert!(values.len() as f64 / 25.0 <= BLOCK_MAX_S);
    }
    let traces = &store.label("a.wav", "alice").unwrap().traces;
    assert_eq!(traces.pass(pass).unwrap().values, ramp(50));
    assert!((traces.pass(pass).unwrap().time_s(0) - 0.2).abs() < 1e-12);

    store.undo().unwrap();
    let traces = &store.label("a.wav", "alice").unwrap().traces;
    assert!(
        traces.kept("arousal").next().is_none(),
        "undo discards the pass"
    );
    store.redo().unwrap();
    drop(store);
    let reloaded = AnnotationStore::load(dir.path()).unwrap();
    let kept: Vec<_> = reloaded
        .label("a.wav", "alice")
        .unwrap()
        .traces
        .kept("arousal")
        .cloned()
        .collect();
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].state, PassState::Complete);
    assert_eq!(kept[0].values, ramp(50));
}

#[test]
fn a_kill_mid_pass_loses_at_most_the_last_block() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = AnnotationStore::load(dir.path()).unwrap();
    store.set_annotator("bob").unwrap();
    let pass = store
        .begin_pass("a.wav", &arousal(), TraceInput::Gamepad, 0)
        .unwrap();
    store.append_trace("a.wav", pass, 25.0, &ramp(36)).unwrap();
    drop(store);
    // The studio dies while writing the next block: half a line on disk.
    let path = dir.path().join("annotations/bob.jsonl");
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    file.write_all(br#"{"v":1,"seq":6,"annotator":"bob","time_ms":1,"file":"a.wav","op":"trace","tv":1,"trace":"block","pass":1,"values":[4.0,4."#).unwrap();
    drop(file);
    let mut reloaded = AnnotationStore::load(dir.path()).unwrap();
    assert!(
        reloaded
            .warnings()
            .iter()
            .any(|w| w.message.contains("torn"))
    );
    let traces = &reloaded.label("a.wav", "bob").unwrap().traces;
    let replayed = traces.pass(pass).unwrap();
    assert_eq!(replayed.values, ramp(36), "every fsynced block is back");
    assert_eq!(
        replayed.state,
        PassState::Open,
        "an interrupted pass stays open"
    );
    // The next annotator session appends after the torn line and the journal stays readable.
    reloaded.set_annotator("bob").unwrap();
    reloaded
        .end_pass("a.wav", pass, PassState::Incomplete)
        .unwrap();
    drop(reloaded);
    let again = AnnotationStore::load(dir.path()).unwrap();
    assert!(again.warnings().is_empty(), "{:?}", again.warnings());
    let state = again
        .label("a.wav", "bob")
        .unwrap()
        .traces
        .pass(pass)
        .unwrap()
        .state;
    assert_eq!(state, PassState::Incomplete);
}

#[test]
fn a_trace_edit_of_a_newer_version_is_skipped_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("annotations");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(
        folder.join("carol.jsonl"),
        "{\"v\":1,\"seq\":1,\"annotator\":\"carol\",\"time_ms\":1,\"file\":\"a.wav\",\"op\":\"trace\",\"tv\":9,\"trace\":\"remove\",\"pass\":1}\n",
    )
    .unwrap();
    let store = AnnotationStore::load(dir.path()).unwrap();
    assert_eq!(store.warnings()[0].line, Some(1));
    assert!(store.warnings()[0].message.contains("newer version"));
}

#[test]
fn final_pass_or_mean_stands_for_the_annotator() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = AnnotationStore::load(dir.path()).unwrap();
    store.set_annotator("alice").unwrap();
    let first = trace_pass(&mut store, "a.wav", &[2.0; 10]);
    let _second = trace_pass(&mut store, "a.wav", &[4.0; 20]);
    let traces = store.label("a.wav", "alice").unwrap().traces.clone();
    let latest = annotator_series(&traces, "arousal", PassCombine::Final, 25.0).unwrap();
    assert_eq!(latest.values, vec![4.0; 20], "no pass marked: the latest");
    let mean = annotator_series(&traces, "arousal", PassCombine::Mean, 25.0).unwrap();
    assert_eq!(&mean.values[..10], &[3.0; 10]);
    assert_eq!(&mean.values[10..], &[4.0; 10]);
    store
        .edit(
            "a.wav",
            Op::trace(TraceEdit::SetFinal {
                dimension: "arousal".into(),
                pass: Some(first),
            }),
        )
        .unwrap();
    let traces = &store.label("a.wav", "alice").unwrap().traces;
    let marked = annotator_series(traces, "arousal", PassCombine::Final, 25.0).unwrap();
    assert_eq!(marked.values, vec![2.0; 10]);
    // 25 Hz to 10 Hz: the grid points k / 10 inside 0..0.36 s.
    let coarse = marked.resampled(10.0);
    assert_eq!(coarse.values.len(), 4);
}

#[test]
fn relative_passes_are_rescaled_to_their_own_range() {
    let pass = TracePass {
        id: 1,
        dimension: "tension".into(),
        rate_hz: 10.0,
        mode: TraceMode::Relative,
        input: TraceInput::Keys,
        start_index: 0,
        values: vec![-5.0, 0.0, 15.0],
        state: PassState::Complete,
        discarded: false,
    };
    assert_eq!(TraceSeries::of_pass(&pass).values, [0.0, 0.25, 1.0]);
}

#[test]
fn ccc_basics_and_the_best_lag_is_found() {
    let x: Vec<f64> = (0..200).map(|i| (f64::from(i) / 10.0).sin()).collect();
    assert!((ccc(&x, &x).unwrap() - 1.0).abs() < 1e-12);
    let shifted: Vec<f64> = x.iter().map(|v| v + 1.0).collect();
    assert!(ccc(&x, &shifted).unwrap() < 0.5, "CCC punishes an offset");
    // y follows x 0.4 s (10 frames) later.
    let late: Vec<f64> = (0..200).map(|i| (f64::from(i - 10) / 10.0).sin()).collect();
    let best = best_lag_ccc(&x, &late, 50, 25.0).unwrap();
    assert!((best.lag_s - 0.4).abs() < 1e-12, "{best:?}");
    assert!(best.ccc > 0.99);
}

#[test]
fn proxy_follows_the_circumplex() {
    let classes: Vec<String> = ["angry", "sad", "other"].map(String::from).to_vec();
    let probs = vec![vec![1.0, 0.0, 0.0], vec![0.0, 0.5, 0.5]];
    let series = proxy_series(&classes, &[0.0, 1.0], &probs, "arousal", (1.0, 7.0), 2.0).unwrap();
    // angry arousal 0.8 -> 6.4; sad (other has no place) -0.5 -> 2.5; halfway at 0.5 s.
    assert_eq!(series.values.len(), 3);
    assert!((series.values[0] - 6.4).abs() < 1e-12);
    assert!((series.values[1] - 4.45).abs() < 1e-12);
    assert!((series.values[2] - 2.5).abs() < 1e-12);
    assert!(proxy_series(&classes, &[0.0], &probs, "dominance", (1.0, 7.0), 2.0).is_none());
}

/// Figures computed by `tests/fixtures/traces/reference.py` (NumPy, PyPI `krippendorff`).
#[derive(serde::Deserialize)]
struct Fixture {
    rate_hz: f64,
    recordings: Vec<BTreeMap<String, FixtureSeries>>,
    reference: Reference,
}

#[derive(serde::Deserialize)]
struct FixtureSeries {
    start_s: f64,
    values: Vec<f64>,
}

#[derive(serde::Deserialize)]
struct Reference {
    pair_ccc: Vec<Vec<(String, String, f64)>>,
    mean_pairwise_ccc: f64,
    krippendorff_alpha: f64,
    cronbach_alpha: f64,
}

#[test]
fn agreement_equals_the_reference_implementations() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/traces/agreement.json"
    );
    let fixture: Fixture = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let recordings: Vec<BTreeMap<String, TraceSeries>> = fixture
        .recordings
        .iter()
        .map(|r| {
            r.iter()
                .map(|(name, s)| {
                    let series = TraceSeries {
                        rate_hz: fixture.rate_hz,
                        start_s: s.start_s,
                        values: s.values.clone(),
                    };
                    (name.clone(), series)
                })
                .collect()
        })
        .collect();
    let close = |a: f64, b: f64| assert!((a - b).abs() < 1e-9, "{a} vs reference {b}");
    for (recording, pairs) in recordings.iter().zip(&fixture.reference.pair_ccc) {
        let ours = pair_cccs(recording);
        assert_eq!(ours.len(), pairs.len());
        for ((a, b, value), (ra, rb, expected)) in ours.iter().zip(pairs) {
            assert_eq!((a, b), (ra, rb));
            close(value.unwrap(), *expected);
        }
    }
    let report = trace_agreement(&recordings, fixture.rate_hz, Some(2.0));
    close(report.ccc.unwrap(), fixture.reference.mean_pairwise_ccc);
    close(
        report.krippendorff_alpha.unwrap(),
        fixture.reference.krippendorff_alpha,
    );
    close(
        report.cronbach_alpha.unwrap(),
        fixture.reference.cronbach_alpha,
    );
    let [low, high] = report.ccc_interval.unwrap();
    assert!(low <= report.ccc.unwrap() && report.ccc.unwrap() <= high);
    assert!(low < high, "recordings differ, so the interval has a width");
    assert!(report.lagged.unwrap().ccc >= report.ccc.unwrap() - 1e-12);
}
