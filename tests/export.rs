//! Exports and imports: every format written from a project whose file names and notes are
//! awkward (commas, quotes, a leading '=', non-ASCII), and read back into another annotator's
//! journal with the same labels.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use common::{Wav, sine};
use merit_studio::annotation::{AnnotationStore, ClassSource, Comment, CommentRef, Op, Segment};

const NAMES: [&str; 4] = [
    "plain.wav",
    "comma, and \"quotes\".wav",
    "=formula.wav",
    "ünïcödé ünd ß.wav",
];

fn studio(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_merit-studio"))
        .args(args)
        .env("RUST_LOG", "error")
        .output()
        .unwrap()
}

/// A folder project of four 2-second clips, labelled by alice (class, attributes, a segment on
/// two of them) and bob (class).
fn labelled_project(dir: &Path) -> std::path::PathBuf {
    let project = dir.join("project");
    std::fs::create_dir_all(&project).unwrap();
    for name in NAMES {
        Wav::pcm16(16_000, 1, &sine(220.0, 16_000, 32_000, 1)).write(&project.join(name));
    }
    let mut store = AnnotationStore::load(&project).unwrap();
    store.set_annotator("alice").unwrap();
    for (index, name) in NAMES.iter().enumerate() {
        let class = ["angry", "sad", "happy", "neutral"][index];
        store
            .edit(
                name,
                Op::SetClass {
                    class: Some(class.into()),
                    source: ClassSource::Human,
                    model: None,
                },
            )
            .unwrap();
        store
            .edit(
                name,
                Op::SetAttributes {
                    values: [
                        ("arousal".to_owned(), Some(1.0 + index as f64)),
                        ("valence".to_owned(), Some(7.0 - index as f64)),
                    ]
                    .into(),
                },
            )
            .unwrap();
        if index % 2 == 1 {
            store
                .edit(
                    name,
                    Op::PutSegment {
                        segment: Segment {
                            id: 100 + index as u64,
                            start_s: 0.25,
                            end_s: 1.5,
                            class: "sad".into(),
                            attributes: BTreeMap::new(),
                        },
                    },
                )
                .unwrap();
        }
    }
    store.set_annotator("bob").unwrap();
    store
        .edit(
            NAMES[0],
            Op::SetClass {
                class: Some("angry".into()),
                source: ClassSource::AcceptedModel,
                model: None,
            },
        )
        .unwrap();
    project
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

fn export(project: &Path, format: &str, out: &Path, extra: &[&str]) {
    let mut args = vec!["export", p(project), "--format", format, "--out", p(out)];
    args.extend(extra);
    let output = studio(&args);
    assert!(
        output.status.success(),
        "{format}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn import(project: &Path, format: &str, input: &Path, annotator: &str, extra: &[&str]) {
    let mut args = vec![
        "import",
        p(project),
        "--format",
        format,
        p(input),
        "--annotator",
        annotator,
    ];
    args.extend(extra);
    let output = studio(&args);
    assert!(
        output.status.success(),
        "{format}: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn msp_and_jsonl_round_trip_alices_labels() {
    let dir = tempfile::tempdir().unwrap();
    let project = labelled_project(dir.path());
    let msp = dir.path().join("msp");
    export(&project, "msp", &msp, &["--annotator", "alice"]);
    let csv = std::fs::read_to_string(msp.join("labels_consensus.csv")).unwrap();
    assert!(csv.contains("\"comma, and \"\"quotes\"\".wav\""), "{csv}");
    assert!(csv.contains("'=formula.wav"), "formula neutralised: {csv}");
    assert!(msp.join("provenance.json").exists());
    import(
        &project,
        "msp",
        &msp.join("labels_consensus.csv"),
        "from_msp",
        &[],
    );
    let jsonl = dir.path().join("labels.jsonl");
    export(&project, "jsonl", &jsonl, &["--annotator", "alice"]);
    import(&project, "jsonl", &jsonl, "from_jsonl", &[]);
    let store = AnnotationStore::load(&project).unwrap();
    for name in NAMES {
        let alice = store.label(name, "alice").unwrap();
        for imported in ["from_msp", "from_jsonl"] {
            let label = store.label(name, imported).unwrap();
            assert_eq!(label.class, alice.class, "{imported} {name}");
            assert_eq!(label.attributes, alice.attributes, "{imported} {name}");
        }
    }
    // Nobody else's labels changed.
    assert_eq!(
        store.label(NAMES[0], "bob").unwrap().source,
        ClassSource::AcceptedModel
    );
}

#[test]
fn textgrid_and_audacity_round_trip_classes_and_segments() {
    let dir = tempfile::tempdir().unwrap();
    let project = labelled_project(dir.path());
    let textgrids = dir.path().join("textgrid");
    export(&project, "textgrid", &textgrids, &[]);
    let audacity = dir.path().join("audacity");
    export(&project, "audacity", &audacity, &["--annotator", "alice"]);
    for (index, name) in NAMES.iter().enumerate() {
        let grid = textgrids.join(format!("{name}.TextGrid"));
        import(
            &project,
            "textgrid",
            &grid,
            "tg",
            &["--file", name, "--tier", "alice"],
        );
        if index % 2 == 1 {
            import(
                &project,
                "textgrid",
                &grid,
                "tg",
                &["--file", name, "--tier", "alice segments"],
            );
        }
        let track = audacity.join(format!("{name}.txt"));
        import(&project, "audacity", &track, "aud", &["--file", name]);
    }
    let store = AnnotationStore::load(&project).unwrap();
    for name in NAMES {
        let alice = store.label(name, "alice").unwrap();
        for imported in ["tg", "aud"] {
            let label = store.label(name, imported).unwrap();
            assert_eq!(label.class, alice.class, "{imported} {name}");
            let spans = |l: &merit_studio::annotation::Label| {
                l.segments
                    .iter()
                    .map(|s| (s.start_s, s.end_s, s.class.clone()))
                    .collect::<Vec<_>>()
            };
            assert_eq!(spans(label), spans(alice), "{imported} {name}");
        }
    }
}

#[test]
fn eaf_and_audiofolder_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let project = labelled_project(dir.path());
    let eafs = dir.path().join("eaf");
    export(&project, "eaf", &eafs, &[]);
    let folder = dir.path().join("audiofolder");
    export(&project, "audiofolder", &folder, &["--annotator", "alice"]);
    import(&project, "audiofolder", &folder, "af", &[]);
    for (index, name) in NAMES.iter().enumerate() {
        let eaf = eafs.join(format!("{name}.eaf"));
        import(
            &project,
            "eaf",
            &eaf,
            "elan",
            &["--file", name, "--tier", "alice"],
        );
        if index % 2 == 1 {
            import(
                &project,
                "eaf",
                &eaf,
                "elan",
                &["--file", name, "--tier", "alice segments"],
            );
        }
    }
    let store = AnnotationStore::load(&project).unwrap();
    for name in NAMES {
        let alice = store.label(name, "alice").unwrap();
        let elan = store.label(name, "elan").unwrap();
        assert_eq!(elan.class, alice.class, "{name}");
        assert_eq!(
            elan.segments
                .iter()
                .map(|s| (s.start_s, s.end_s))
                .collect::<Vec<_>>(),
            alice
                .segments
                .iter()
                .map(|s| (s.start_s, s.end_s))
                .collect::<Vec<_>>(),
            "{name}"
        );
        let af = store.label(name, "af").unwrap();
        assert_eq!(af.class, alice.class, "{name}");
        assert_eq!(af.attributes, alice.attributes, "{name}");
    }
}

/// Every tier of an EAF file with its annotations (start ms, end ms, text), read with a real XML
/// parser: entities resolved, time slots looked up.
fn eaf_tiers(text: &str) -> BTreeMap<String, Vec<(u64, u64, String)>> {
    use quick_xml::events::Event;
    let attribute = |e: &quick_xml::events::BytesStart<'_>, name: &[u8]| {
        e.attributes()
            .flatten()
            .find(|a| a.key.as_ref() == name)
            .map(|a| String::from_utf8(a.value.into_owned()).unwrap())
    };
    let mut reader = quick_xml::Reader::from_str(text);
    let (mut slots, mut tiers) = (BTreeMap::new(), BTreeMap::new());
    let (mut tier, mut span, mut value) = (String::new(), (String::new(), String::new()), None);
    loop {
        match reader.read_event().expect("well-formed XML") {
            Event::Eof => break,
            Event::Start(e) | Event::Empty(e) => match e.name().as_ref() {
                b"TIME_SLOT" => {
                    let ms: u64 = attribute(&e, b"TIME_VALUE").unwrap().parse().unwrap();
                    slots.insert(attribute(&e, b"TIME_SLOT_ID").unwrap(), ms);
                }
                b"TIER" => {
                    tier = attribute(&e, b"TIER_ID").unwrap();
                    tiers.insert(tier.clone(), Vec::new());
                }
                b"ALIGNABLE_ANNOTATION" => {
                    span = (
                        attribute(&e, b"TIME_SLOT_REF1").unwrap(),
                        attribute(&e, b"TIME_SLOT_REF2").unwrap(),
                    );
                }
                b"ANNOTATION_VALUE" => value = Some(String::new()),
                _ => {}
            },
            Event::Text(t) => {
                if let Some(value) = &mut value {
                    value.push_str(&t.xml10_content().unwrap());
                }
            }
            Event::GeneralRef(r) => {
                let entity = match r.resolve_char_ref().unwrap() {
                    Some(c) => c.to_string(),
                    None => match &*r {
                        b"amp" => "&".into(),
                        b"lt" => "<".into(),
                        b"gt" => ">".into(),
                        b"quot" => "\"".into(),
                        b"apos" => "'".into(),
                        other => panic!("entity {other:?}"),
                    },
                };
                if let Some(value) = &mut value {
                    value.push_str(&entity);
                }
            }
            Event::End(e) if e.name().as_ref() == b"ANNOTATION_VALUE" => {
                let text = value.take().unwrap();
                tiers
                    .get_mut(&tier)
                    .unwrap()
                    .push((slots[&span.0], slots[&span.1], text));
            }
            _ => {}
        }
    }
    tiers
}

#[test]
fn eaf_carries_comment_threads_in_tiers_the_importer_refuses() {
    let dir = tempfile::tempdir().unwrap();
    let project = labelled_project(dir.path());
    let name = NAMES[1]; // alice's segment 101 lies at 0.25–1.5 s
    let comment = |id, segment, reply_to: Option<(&str, u64)>, time_ms, text: &str, resolved| {
        Op::PutComment {
            comment: Comment {
                id,
                segment,
                reply_to: reply_to.map(|(author, id)| CommentRef {
                    author: author.into(),
                    id,
                }),
                time_ms,
                text: text.into(),
                resolved,
            },
        }
    };
    let awkward = "laughs, \"twice\" <here> & there; 王芳说 «да»";
    let mut store = AnnotationStore::load(&project).unwrap();
    store.set_annotator("alice").unwrap();
    for op in [
        comment(900, None, None, 1_700_000_000_000, awkward, false),
        comment(
            901,
            Some(101),
            None,
            1_700_000_060_000,
            "sad, or <tired>?",
            false,
        ),
        comment(
            902,
            Some(999),
            None,
            1_700_000_120_000,
            "a removed segment's",
            false,
        ),
    ] {
        store.edit(name, op).unwrap();
    }
    store.set_annotator("bob").unwrap();
    for op in [
        comment(
            5,
            None,
            Some(("alice", 900)),
            1_700_000_030_000,
            "agreed & done",
            true,
        ),
        comment(
            6,
            Some(101),
            Some(("alice", 901)),
            1_700_000_090_000,
            "tired",
            false,
        ),
    ] {
        store.edit(name, op).unwrap();
    }
    drop(store);
    let eafs = dir.path().join("eaf");
    export(&project, "eaf", &eafs, &[]);
    let eaf = eafs.join(format!("{name}.eaf"));
    let text = std::fs::read_to_string(&eaf).unwrap();
    assert!(text.contains("<LINGUISTIC_TYPE GRAPHIC_REFERENCES=\"false\" LINGUISTIC_TYPE_ID=\"comment\" TIME_ALIGNABLE=\"true\"/>"), "{text}");
    let tiers = eaf_tiers(&text);
    assert_eq!(
        tiers["comments (recording)"],
        vec![(
            0,
            2000,
            format!(
                "alice (2023-11-14T22:13:20Z): {awkward}\n\
                 ↳ bob (2023-11-14T22:13:50Z, resolved): agreed & done\n\
                 (on alice's segment 999, which is not in this file)\n\
                 alice (2023-11-14T22:15:20Z): a removed segment's"
            )
        )]
    );
    assert_eq!(
        tiers["comments (alice segments)"],
        vec![(
            250,
            1500,
            "alice (2023-11-14T22:14:20Z): sad, or <tired>?\n\
             ↳ bob (2023-11-14T22:14:50Z): tired"
                .to_owned()
        )]
    );
    assert_eq!(tiers["alice segments"], vec![(250, 1500, "sad".to_owned())]);
    // The JSONL export has them all too, bob's replies though bob labelled nothing here.
    let jsonl = dir.path().join("labels.jsonl");
    export(&project, "jsonl", &jsonl, &[]);
    let rows = std::fs::read_to_string(&jsonl).unwrap();
    let row: serde_json::Value = rows
        .lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap())
        .find(|row| row["file"] == name)
        .unwrap();
    let texts: Vec<&str> = row["comments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts.len(), 5, "{texts:?}");
    assert!(texts.contains(&"agreed & done") && texts.contains(&awkward));
    // A comment tier is not read as classes or segments; the other tiers still are.
    let refused = studio(&[
        "import",
        p(&project),
        "--format",
        "eaf",
        p(&eaf),
        "--annotator",
        "elan",
        "--file",
        name,
        "--tier",
        "comments (alice segments)",
    ]);
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("holds comments, which are not imported"),
        "{stderr}"
    );
    import(
        &project,
        "eaf",
        &eaf,
        "elan",
        &["--file", name, "--tier", "alice"],
    );
    import(
        &project,
        "eaf",
        &eaf,
        "elan",
        &["--file", name, "--tier", "alice segments"],
    );
    let store = AnnotationStore::load(&project).unwrap();
    let elan = store.label(name, "elan").unwrap();
    assert_eq!(elan.class.as_deref(), Some("sad"));
    assert_eq!(elan.segments.len(), 1);
    assert!(elan.comments.is_empty());
}

#[test]
fn malformed_rows_are_reported_and_the_rest_imported() {
    let dir = tempfile::tempdir().unwrap();
    let project = labelled_project(dir.path());
    let csv = dir.path().join("bad.csv");
    std::fs::write(
        &csv,
        "FileName,EmoClass,EmoAct\nplain.wav,A,3\nmissing.wav,S,2\n=formula.wav,Q,1\n\"comma, and \"\"quotes\"\".wav\",H,x\n",
    )
    .unwrap();
    let output = studio(&[
        "import",
        p(&project),
        "--format",
        "msp",
        p(&csv),
        "--annotator",
        "carol",
    ]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("bad.csv:4: unknown class \"Q\""),
        "{stderr}"
    );
    assert!(
        stderr.contains("bad.csv:5: arousal \"x\" is not a number"),
        "{stderr}"
    );
    assert!(
        stderr.contains("\"missing.wav\" is not a recording"),
        "{stderr}"
    );
    let store = AnnotationStore::load(&project).unwrap();
    assert_eq!(
        store
            .label("plain.wav", "carol")
            .and_then(|l| l.class.as_deref()),
        Some("angry")
    );
    assert_eq!(
        store
            .label(NAMES[1], "carol")
            .and_then(|l| l.class.as_deref()),
        Some("happy")
    );
}

#[test]
fn model_labels_and_enhanced_audio_come_with_the_model_hash() {
    let dir = tempfile::tempdir().unwrap();
    let project = labelled_project(dir.path());
    // A recording nobody labelled.
    Wav::pcm16(16_000, 1, &sine(330.0, 16_000, 24_000, 1)).write(&project.join("unlabelled.wav"));
    let out = dir.path().join("labels.jsonl");
    let tiny = common::tiny_model();
    let output = Command::new(env!("CARGO_BIN_EXE_merit-studio"))
        .args([
            "export",
            p(&project),
            "--format",
            "jsonl",
            "--out",
            p(&out),
            "--annotator",
            "alice",
            "--model-labels",
            "--enhanced",
            "--model",
            p(&tiny),
        ])
        .env("RUST_LOG", "error")
        .env("XDG_CACHE_HOME", dir.path().join("cache"))
        .output()
        .unwrap();
    common::assert_success(&output);
    let rows = common::jsonl_rows(&out);
    assert_eq!(rows.len(), 5);
    let unlabelled = rows.iter().find(|r| r["file"] == "unlabelled.wav").unwrap();
    assert_eq!(unlabelled["source"], "model");
    assert!(unlabelled["label"].is_string());
    let provenance: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.with_extension("provenance.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(provenance["model_hash"].as_str().unwrap().len(), 64);
    let enhanced = out.with_extension("enhanced").join("unlabelled.wav.wav");
    let reader = hound::WavReader::open(&enhanced).unwrap();
    assert_eq!((reader.spec().sample_rate, reader.len()), (16_000, 24_000));
}

#[test]
fn every_format_writes_into_an_empty_folder_only() {
    let dir = tempfile::tempdir().unwrap();
    let project = labelled_project(dir.path());
    for format in ["msp", "audiofolder", "textgrid", "eaf", "audacity"] {
        let out = dir.path().join(format);
        export(&project, format, &out, &["--split", "0.25,0.25"]);
        let again = studio(&["export", p(&project), "--format", format, "--out", p(&out)]);
        assert_eq!(again.status.code(), Some(2), "{format}");
        assert!(String::from_utf8_lossy(&again.stderr).contains("not empty"));
    }
    let eaf =
        std::fs::read_to_string(dir.path().join("eaf").join(format!("{}.eaf", NAMES[1]))).unwrap();
    assert!(eaf.contains("comma, and &quot;quotes&quot;.wav"));
    assert!(eaf.contains("<CONTROLLED_VOCABULARY CV_ID=\"emotions\">"));
    let metadata = std::fs::read_to_string(dir.path().join("audiofolder/metadata.jsonl")).unwrap();
    assert_eq!(metadata.lines().count(), 4);
    assert!(!dir.path().join("audiofolder/metadata.csv").exists());
    let csv_folder = dir.path().join("audiofolder-csv");
    export(&project, "audiofolder", &csv_folder, &["--metadata-csv"]);
    let csv = std::fs::read_to_string(csv_folder.join("metadata.csv")).unwrap();
    assert!(csv.starts_with("file_name,label,"));
    assert!(
        dir.path().join("audiofolder").join(NAMES[3]).exists(),
        "audio beside the metadata"
    );
}

/// Names Label Studio must carry through unchanged: commas, quotes, `=`, a tab, non-Latin scripts.
const AWKWARD: [&str; 4] = [
    "comma, \"quoted\" =1.wav",
    "tab\there.wav",
    "王芳 说话.wav",
    "Ζωή (ελληνικά).wav",
];

#[test]
fn labelstudio_round_trips_labels_and_segments_with_predictions() {
    let dir = tempfile::tempdir().unwrap();
    let project = labelled_project(dir.path());
    let mut store = AnnotationStore::load(&project).unwrap();
    store.set_annotator("zoë").unwrap();
    for (index, name) in AWKWARD.iter().enumerate() {
        Wav::pcm16(16_000, 1, &sine(180.0, 16_000, 32_000, 1)).write(&project.join(name));
        let class = ["sad", "happy", "neutral", "angry"][index];
        let edits = [
            Op::SetClass {
                class: Some(class.into()),
                source: ClassSource::Human,
                model: None,
            },
            Op::SetAttributes {
                values: [("arousal".to_owned(), Some(2.0 + index as f64))].into(),
            },
            Op::PutSegment {
                segment: Segment {
                    id: 500,
                    start_s: 0.123,
                    end_s: 0.987,
                    class: "angry".into(),
                    attributes: [
                        ("arousal".to_owned(), 7.0 - index as f64),
                        ("valence".to_owned(), 1.5),
                    ]
                    .into(),
                },
            },
            Op::PutSegment {
                segment: Segment {
                    id: 501,
                    start_s: 0.987,
                    end_s: 1.999,
                    class: class.into(),
                    attributes: BTreeMap::new(),
                },
            },
        ];
        for op in edits {
            store.edit(name, op).unwrap();
        }
    }
    drop(store);
    let out = dir.path().join("ls");
    export(&project, "labelstudio", &out, &["--annotator", "zoë"]);
    let tasks: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("tasks.json")).unwrap()).unwrap();
    let config = std::fs::read_to_string(out.join("labeling-config.xml")).unwrap();
    assert!(out.join("provenance.json").is_file());
    // The documented task format: data, annotations and predictions with results of controls the
    // config defines, region ids unique in the file (a per-region rating has the id and times of
    // the region it rates), regions in seconds inside the recording.
    let mut regions = std::collections::HashMap::new();
    let tasks = tasks.as_array().unwrap();
    assert_eq!(tasks.len(), AWKWARD.len(), "zoë's recordings");
    for task in tasks {
        let file = task["data"]["file"].as_str().unwrap();
        assert_eq!(task["data"]["audio"], file);
        let predictions = task["predictions"].as_array().unwrap();
        assert_eq!(predictions.len(), 1, "{file}");
        let model_version = predictions[0]["model_version"].as_str().unwrap();
        assert_eq!(model_version.len(), 64, "the model's blake3 hash");
        let score = predictions[0]["score"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&score));
        let annotations = task["annotations"].as_array().unwrap();
        let results = annotations
            .iter()
            .chain(predictions)
            .flat_map(|a| a["result"].as_array().unwrap());
        for result in results {
            let id = result["id"].as_str().unwrap().to_owned();
            let control = result["from_name"].as_str().unwrap();
            let span = (&result["value"]["start"], &result["value"]["end"]);
            if control.starts_with("segment_") {
                assert_eq!(regions.get(&id), Some(&span), "{result}");
                assert!(config.contains(&format!("name=\"{control}\" toName=\"audio\"")));
                assert!(config.contains("perRegion=\"true\""));
            } else {
                assert!(regions.insert(id, span).is_none(), "{result}");
            }
            assert_eq!(result["to_name"], "audio");
            assert!(config.contains(&format!("name=\"{control}\"")), "{control}");
            if result["type"] == "labels" {
                let (start, end) = (
                    result["value"]["start"].as_f64().unwrap(),
                    result["value"]["end"].as_f64().unwrap(),
                );
                assert!(0.0 <= start && start < end && end <= 2.0 + 1e-9, "{result}");
                let label = result["value"]["labels"][0].as_str().unwrap();
                assert!(config.contains(&format!("<Label value=\"{label}\"/>")));
            }
        }
    }
    import(
        &project,
        "labelstudio",
        &out.join("tasks.json"),
        "back",
        &["--from-annotator", "zoë"],
    );
    let store = AnnotationStore::load(&project).unwrap();
    for name in AWKWARD {
        let (zoe, back) = (
            store.label(name, "zoë").unwrap(),
            store.label(name, "back").unwrap(),
        );
        assert_eq!(back.class, zoe.class, "{name}");
        assert_eq!(back.attributes, zoe.attributes, "{name}");
        let spans = |l: &merit_studio::annotation::Label| {
            l.segments
                .iter()
                .map(|s| {
                    (
                        (s.start_s * 1000.0).round(),
                        (s.end_s * 1000.0).round(),
                        s.class.clone(),
                        s.attributes.clone(),
                    )
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(spans(back), spans(zoe), "{name}");
        assert_eq!(back.segments[0].attributes.len(), 2, "{name}");
    }
}

#[test]
fn labelstudio_problems_are_reported_per_task_and_the_rest_imported() {
    let dir = tempfile::tempdir().unwrap();
    let project = labelled_project(dir.path());
    let tasks = serde_json::json!([
        {"id": 7, "data": {"audio": "/data/upload/3/plain.wav"}, "annotations": [{"result": [
            {"id": "a", "from_name": "emotion", "to_name": "audio", "type": "choices", "value": {"choices": ["Happy"]}},
            {"id": "b", "from_name": "segment", "to_name": "audio", "type": "labels", "value": {"start": 0.5, "end": 1.25, "labels": ["sad"]}},
            {"id": "c", "from_name": "segment", "to_name": "audio", "type": "labels", "value": {"start": 1.5, "end": 9.0, "labels": ["sad"]}},
            {"id": "d", "from_name": "transcript", "to_name": "audio", "type": "textarea", "value": {"text": ["hi"]}},
            {"id": "e", "from_name": "valence", "to_name": "audio", "type": "rating", "value": {"rating": 3}},
            // Per-region ratings: Label Studio names the control as it likes and links the rating
            // to its region by id.
            {"id": "b", "from_name": "arousal", "to_name": "audio", "type": "rating", "value": {"start": 0.5, "end": 1.25, "rating": 5}},
            {"id": "b", "from_name": "segment_valence", "to_name": "audio", "type": "number", "value": {"start": 0.5, "end": 1.25, "number": 9}},
            {"id": "zz", "from_name": "segment_arousal", "to_name": "audio", "type": "number", "value": {"start": 0.1, "end": 0.2, "number": 2}}
        ]}]},
        {"id": 8, "data": {"audio": "missing.wav"}, "annotations": [{"result": []}]}
    ]);
    let input = dir.path().join("export.json");
    std::fs::write(&input, serde_json::to_vec(&tasks).unwrap()).unwrap();
    let output = studio(&[
        "import",
        p(&project),
        "--format",
        "labelstudio",
        p(&input),
        "--annotator",
        "ls",
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "problems give a non-zero exit");
    assert!(
        stderr.contains("task 7 (plain.wav)") && stderr.contains("ends past the recording's end"),
        "{stderr}"
    );
    assert!(
        stderr.contains("unknown control \"transcript\""),
        "{stderr}"
    );
    assert!(
        stderr.contains("task 8: \"missing.wav\" is not a recording"),
        "{stderr}"
    );
    let store = AnnotationStore::load(&project).unwrap();
    let label = store.label("plain.wav", "ls").unwrap();
    assert_eq!(label.class.as_deref(), Some("happy"));
    assert_eq!(label.attributes.get("valence"), Some(&3.0));
    let spans: Vec<_> = label
        .segments
        .iter()
        .map(|s| (s.start_s, s.end_s))
        .collect();
    assert_eq!(spans, vec![(0.5, 1.25)]);
    assert_eq!(
        label.segments[0].attributes,
        [("arousal".to_owned(), 5.0)].into()
    );
    assert!(
        stderr.contains("region b: valence 9 is outside its scale"),
        "{stderr}"
    );
    assert!(
        stderr.contains("rates region \"zz\", which is not"),
        "{stderr}"
    );
}
