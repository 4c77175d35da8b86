//! Time-continuous traces through the command line: three annotators' traces imported from CSV,
//! `agreement --json` reporting each traced dimension's mean pairwise CCC under `ccc` (checked
//! against the library's own computation on the same series), the trace formats exported and
//! imported back into another annotator's journal unchanged, and malformed rows reported with
//! file and line while the rest is imported.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Output;

use common::copy_demo;
use merit_studio::annotation::AnnotationStore;
use merit_studio::annotation::trace::{TraceSeries, recording_series, trace_agreement};
use merit_studio::project::PassCombine;

const REC: &str = "audio/angry_m1.wav";

fn studio(args: &[&str]) -> Output {
    let cache = tempfile::tempdir().unwrap();
    std::process::Command::new(env!("CARGO_BIN_EXE_merit-studio"))
        .args(args)
        .env("RUST_LOG", "error")
        .env("XDG_CACHE_HOME", cache.path())
        .output()
        .unwrap()
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

fn ok(output: &Output) -> String {
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    text
}

/// A 25 Hz arousal trace of `frames` frames from frame `first`: a slow wave, shifted per annotator.
fn trace(first: usize, frames: usize, phase: f64, offset: f64) -> Vec<(f64, f64)> {
    (first..first + frames)
        .map(|k| {
            let t = k as f64 / 25.0;
            (
                t,
                (4.0 + 2.0 * (t * 2.0 + phase).sin() + offset).clamp(1.0, 7.0),
            )
        })
        .collect()
}

fn write_csv(path: &Path, column: &str, rows: &[(f64, f64)]) {
    let mut text = format!("time_s,{column}\n");
    for (t, v) in rows {
        text.push_str(&format!("{t},{v}\n"));
    }
    std::fs::write(path, text).unwrap();
}

/// A copy of the demo with alice, bob and carol's arousal traces of `REC` imported from CSV.
fn traced_project(dir: &Path) -> std::path::PathBuf {
    let project = copy_demo(dir);
    for (name, first, phase, offset) in [
        ("alice", 0, 0.0, 0.0),
        ("bob", 5, 0.3, 0.2),
        ("carol", 0, -0.4, -0.3),
    ] {
        let csv = dir.join(format!("{name}.arousal.csv"));
        write_csv(&csv, "value", &trace(first, 80, phase, offset));
        let text = ok(&studio(&[
            "import",
            p(&project),
            "--format",
            "traces-csv",
            p(&csv),
            "--annotator",
            name,
            "--file",
            REC,
        ]));
        assert!(text.contains("imported 80 frames of arousal"), "{text}");
    }
    project
}

fn series_of(project: &Path, annotator: &str) -> TraceSeries {
    let store = AnnotationStore::load(project).unwrap();
    let mut by = recording_series(
        store.labels_of(REC).unwrap(),
        "arousal",
        PassCombine::Final,
        25.0,
    );
    by.remove(annotator).unwrap()
}

#[test]
fn agreement_reports_each_traced_dimensions_mean_pairwise_ccc() {
    let dir = tempfile::tempdir().unwrap();
    let project = traced_project(dir.path());
    let json: serde_json::Value = serde_json::from_str(&ok(&studio(&[
        "agreement",
        p(&project),
        "--json",
        "--lag",
        "2",
    ])))
    .unwrap();
    let arousal = &json["traces"]["arousal"];
    let reported = arousal["ccc"].as_f64().unwrap();
    let by: BTreeMap<String, TraceSeries> = ["alice", "bob", "carol"]
        .into_iter()
        .map(|n| (n.to_owned(), series_of(&project, n)))
        .collect();
    let expected = trace_agreement(&[by], 25.0, None).ccc.unwrap();
    assert!(
        (reported - expected).abs() < 1e-12,
        "{reported} vs {expected}"
    );
    assert!(reported > 0.5 && reported < 1.0, "{reported}");
    assert_eq!(arousal["pairs"].as_array().unwrap().len(), 3);
    assert!(arousal["krippendorff_alpha"].as_f64().is_some());
    assert!(arousal["cronbach_alpha"].as_f64().is_some());
    assert!(arousal["lagged"]["ccc"].as_f64().unwrap() >= reported - 1e-12);
    assert!(
        json["traces"].get("valence").is_none(),
        "nobody traced valence"
    );
    // Bob starts 0.2 s late: his series starts there, on the grid.
    assert!((series_of(&project, "bob").start_s - 0.2).abs() < 1e-12);
}

#[test]
fn trace_formats_round_trip_into_another_annotators_journal() {
    let dir = tempfile::tempdir().unwrap();
    let project = traced_project(dir.path());
    let csv_out = dir.path().join("csv");
    ok(&studio(&[
        "export",
        p(&project),
        "--format",
        "traces-csv",
        "--out",
        p(&csv_out),
    ]));
    let csv = csv_out.join("audio/angry_m1.wav.arousal.csv");
    let text = std::fs::read_to_string(&csv).unwrap();
    assert!(text.starts_with("time_s,alice,bob,carol\n"), "{text}");
    ok(&studio(&[
        "import",
        p(&project),
        "--format",
        "traces-csv",
        p(&csv),
        "--annotator",
        "dave",
        "--file",
        REC,
        "--from-annotator",
        "bob",
    ]));
    assert_eq!(series_of(&project, "dave"), series_of(&project, "bob"));

    let nova_out = dir.path().join("nova");
    ok(&studio(&[
        "export",
        p(&project),
        "--format",
        "nova",
        "--out",
        p(&nova_out),
    ]));
    let header = nova_out.join("audio/angry_m1.wav.carol.arousal.annotation");
    let xml = std::fs::read_to_string(&header).unwrap();
    assert!(
        xml.contains(r#"type="CONTINUOUS""#) && xml.contains(r#"sr="25""#),
        "{xml}"
    );
    let data = std::fs::read_to_string(header.with_extension("annotation~")).unwrap();
    assert!(data.lines().all(|l| l.split(';').count() == 2), "{data}");
    ok(&studio(&[
        "import",
        p(&project),
        "--format",
        "nova",
        p(&header),
        "--annotator",
        "erin",
        "--file",
        REC,
    ]));
    let (erin, carol) = (series_of(&project, "erin"), series_of(&project, "carol"));
    assert_eq!(erin.start_s, carol.start_s);
    for (a, b) in erin.values.iter().zip(&carol.values) {
        assert!((a - b).abs() < 1e-9);
    }

    let jsonl = dir.path().join("traces.jsonl");
    ok(&studio(&[
        "export",
        p(&project),
        "--format",
        "traces-jsonl",
        "--out",
        p(&jsonl),
    ]));
    let line: serde_json::Value = serde_json::from_str(
        std::fs::read_to_string(&jsonl)
            .unwrap()
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    let arousal = &line["traces"]["arousal"];
    assert_eq!(arousal["rate_hz"], 25.0);
    // Frame 10: everyone traced it; the mean is theirs.
    let names = ["alice", "bob", "carol", "dave", "erin"];
    let values: Vec<f64> = names
        .iter()
        .map(|n| arousal["annotators"][n][10].as_f64().unwrap())
        .collect();
    let mean = arousal["mean"][10].as_f64().unwrap();
    assert!((mean - values.iter().sum::<f64>() / 5.0).abs() < 1e-9);
    assert!(arousal["annotators"]["bob"][0].is_null(), "bob starts late");

    let msp = dir.path().join("msp");
    ok(&studio(&[
        "export",
        p(&project),
        "--format",
        "msp",
        "--out",
        p(&msp),
    ]));
    let consensus = std::fs::read_to_string(msp.join("labels_consensus.csv")).unwrap();
    let mut reader = csv::Reader::from_reader(consensus.as_bytes());
    let headers = reader.headers().unwrap().clone();
    let column = headers.iter().position(|h| h == "EmoAct_trace").unwrap();
    let row = reader.records().next().unwrap().unwrap();
    let trace_mean: f64 = row[column].parse().unwrap();
    assert!((1.0..=7.0).contains(&trace_mean));
    assert_eq!(
        &row[headers.iter().position(|h| h == "EmoAct").unwrap()],
        "",
        "never over the ratings"
    );
}

#[test]
fn malformed_trace_rows_are_reported_with_file_and_line_and_the_rest_imported() {
    let dir = tempfile::tempdir().unwrap();
    let project = copy_demo(dir.path());
    let csv = dir.path().join("bad.csv");
    std::fs::write(
        &csv,
        "time_s,value\n0,4\n0.04,4.5\n0.04,5\n0.08,NaN\n0.1,5\n0.12,9\n0.16,5\n0.2,oops\n0.24,6\n",
    )
    .unwrap();
    let output = studio(&[
        "import",
        p(&project),
        "--format",
        "traces-csv",
        p(&csv),
        "--annotator",
        "frank",
        "--file",
        REC,
        "--dimension",
        "arousal",
    ]);
    assert_eq!(output.status.code(), Some(1));
    let errors = String::from_utf8_lossy(&output.stderr);
    for (line, reason) in [
        (4, "times must rise"),
        (5, "NaN"),
        (6, "grid"),
        (7, "outside the scale"),
        (9, "not a number"),
    ] {
        let needle = format!("bad.csv:{line}: ");
        let found = errors
            .lines()
            .find(|l| l.contains(&needle))
            .unwrap_or_else(|| panic!("{needle} in {errors}"));
        assert!(found.contains(reason), "{found}");
    }
    let frank = series_of(&project, "frank");
    // Frames 0, 1, 4, 6 kept; 2, 3 and 5 filled in between their neighbours.
    assert_eq!(frank.values.len(), 7);
    assert_eq!(frank.values[0], 4.0);
    assert!((frank.values[2] - 4.666_666_666_666_667).abs() < 1e-9);
    assert_eq!(frank.values[6], 6.0);
}

/// `import` SIGKILLed while it writes a long pass, 20 times into one journal: every replayed pass
/// is an exact prefix of the file's trace in whole half-second blocks (only the block being
/// written is lost), and the journal stays readable and appendable after each kill.
#[test]
fn a_kill_mid_pass_loses_at_most_the_block_being_written() {
    let dir = tempfile::tempdir().unwrap();
    let project = copy_demo(dir.path());
    let csv = dir.path().join("long.arousal.csv");
    // One hour at 25 Hz: far more blocks than a kill lets through.
    let rows: Vec<(f64, f64)> = (0..90_000)
        .map(|k: i32| {
            (
                f64::from(k) / 25.0,
                1.0 + 6.0 * (f64::from(k % 997) / 996.0),
            )
        })
        .collect();
    write_csv(&csv, "value", &rows);
    let mut rng = fastrand::Rng::with_seed(18);
    let mut cut_mid_pass = 0;
    for _ in 0..20 {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_merit-studio"))
            .args([
                "import",
                p(&project),
                "--format",
                "traces-csv",
                p(&csv),
                "--annotator",
                "kim",
                "--file",
                REC,
            ])
            .env("RUST_LOG", "error")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(rng.u64(100..700)));
        child.kill().unwrap();
        child.wait().unwrap();
        let store = AnnotationStore::load(&project).unwrap();
        for warning in store.warnings() {
            assert!(warning.message.contains("torn"), "{warning}");
        }
        let Some(label) = store.label(REC, "kim") else {
            continue;
        };
        cut_mid_pass = 0;
        for pass in &label.traces.passes {
            assert_eq!(pass.values.len() % 12, 0, "whole blocks only");
            if !pass.values.is_empty() && pass.values.len() < rows.len() {
                cut_mid_pass += 1;
                assert_eq!(pass.state, merit_studio::annotation::trace::PassState::Open);
            }
            for (value, (_, expected)) in pass.values.iter().zip(&rows) {
                assert_eq!(value, expected);
            }
        }
    }
    assert!(
        cut_mid_pass >= 5,
        "only {cut_mid_pass} kills landed mid-pass"
    );
}
