//! ONNX models from strangers, made here from the tiny model by rewriting its protobuf: a tensor
//! whose external data lies outside the model's folder (absolute, `..`, a link out) is refused
//! before anything opens that file, and a card of tens of MB, malformed or nested too deep is a
//! clear error without holding it in memory.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write as _;
use std::ops::Range;
use std::path::{Path, PathBuf};

use inotify::{Inotify, WatchMask};
use merit_studio::model::session::model_digest;
use merit_studio::model::{DeviceChoice, MeritSession, ModelError, SessionOptions};

fn cpu() -> SessionOptions {
    SessionOptions {
        device: DeviceChoice::Cpu,
        threads: 1,
        float_on_cpu: false,
    }
}

fn read_varint(bytes: &[u8], at: &mut usize) -> u64 {
    let mut value = 0;
    for shift in (0..64).step_by(7) {
        let byte = bytes[*at];
        *at += 1;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            break;
        }
    }
    value
}

fn varint(mut value: u64) -> Vec<u8> {
    let mut out = Vec::new();
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
    out
}

/// One field of a protobuf message: its number, where it is as written and, when
/// length-delimited, where its payload is.
struct Field {
    number: u64,
    whole: Range<usize>,
    payload: Option<Range<usize>>,
}

/// The fields of a well-formed message.
fn fields(bytes: &[u8]) -> Vec<Field> {
    let mut found = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let start = at;
        let key = read_varint(bytes, &mut at);
        let payload = match key & 7 {
            0 => {
                read_varint(bytes, &mut at);
                None
            }
            1 => {
                at += 8;
                None
            }
            5 => {
                at += 4;
                None
            }
            2 => {
                let length = read_varint(bytes, &mut at) as usize;
                at += length;
                Some(at - length..at)
            }
            other => panic!("wire type {other} in the tiny model"),
        };
        found.push(Field {
            number: key >> 3,
            whole: start..at,
            payload,
        });
    }
    found
}

fn length_delimited(number: u64, payload: &[u8]) -> Vec<u8> {
    [
        varint((number << 3) | 2),
        varint(payload.len() as u64),
        payload.to_vec(),
    ]
    .concat()
}

fn entry(key: &str, value: &str) -> Vec<u8> {
    [
        length_delimited(1, key.as_bytes()),
        length_delimited(2, value.as_bytes()),
    ]
    .concat()
}

fn tiny_bytes() -> Vec<u8> {
    std::fs::read(common::tiny_model()).unwrap()
}

/// The tiny model with its first initializer's weights moved to external data at `location`;
/// returns the model and the weights' bytes (written where the location points, a model without
/// the guard loads).
fn with_external_weights(location: &str) -> (Vec<u8>, Vec<u8>) {
    let model = tiny_bytes();
    let mut out = Vec::new();
    let mut weights = Vec::new();
    for field in fields(&model) {
        let Some(graph) = field.payload.clone().filter(|_| field.number == 7) else {
            out.extend_from_slice(&model[field.whole]);
            continue;
        };
        let graph = &model[graph];
        let mut new_graph = Vec::new();
        for inner in fields(graph) {
            match inner.payload.clone() {
                Some(tensor) if inner.number == 5 && weights.is_empty() => {
                    let tensor = &graph[tensor];
                    let mut new_tensor = Vec::new();
                    for part in fields(tensor) {
                        if part.number == 9 {
                            weights = tensor[part.payload.unwrap()].to_vec();
                        } else {
                            new_tensor.extend_from_slice(&tensor[part.whole]);
                        }
                    }
                    new_tensor.extend(length_delimited(13, &entry("location", location)));
                    // data_location = EXTERNAL
                    new_tensor.extend([14 << 3, 1]);
                    new_graph.extend(length_delimited(5, &new_tensor));
                }
                _ => new_graph.extend_from_slice(&graph[inner.whole]),
            }
        }
        out.extend(length_delimited(7, &new_graph));
    }
    assert!(
        !weights.is_empty(),
        "the tiny model's first weights are raw"
    );
    (out, weights)
}

/// The tiny model's card, and the model without it.
fn without_card() -> (Vec<u8>, String) {
    let model = tiny_bytes();
    let mut out = Vec::new();
    let mut card = None;
    for field in fields(&model) {
        if field.number == 14 {
            let entry = &model[field.payload.clone().unwrap()];
            let parts = fields(entry);
            if &entry[parts[0].payload.clone().unwrap()] == b"merit" {
                card = Some(String::from_utf8(
                    entry[parts[1].payload.clone().unwrap()].to_vec(),
                ));
                continue;
            }
        }
        out.extend_from_slice(&model[field.whole]);
    }
    (out, card.unwrap().unwrap())
}

fn with_card(folder: &Path, card: &str) -> PathBuf {
    let (mut model, _) = without_card();
    model.extend(length_delimited(14, &entry("merit", card)));
    let path = folder.join("carded.onnx");
    std::fs::write(&path, model).unwrap();
    path
}

/// Peak resident memory of this process so far, in bytes (Linux).
fn peak_resident_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace()
        .nth(1)
        .unwrap()
        .parse::<u64>()
        .unwrap()
        * 1024
}

/// Watches `file` for opens and reads by any process, this one included.
fn watch_opens(file: &Path) -> Inotify {
    let watcher = Inotify::init().unwrap();
    watcher
        .watches()
        .add(file, WatchMask::OPEN | WatchMask::ACCESS)
        .unwrap();
    watcher
}

/// How many opens and reads the watcher has seen so far.
fn opens_seen(watcher: &mut Inotify) -> usize {
    let mut buffer = [0; 1024];
    match watcher.read_events(&mut buffer) {
        Ok(events) => events.count(),
        Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => 0,
        Err(error) => panic!("{error}"),
    }
}

#[test]
fn external_data_outside_the_models_folder_is_refused_before_it_is_opened() {
    let home = tempfile::tempdir().unwrap();
    let home = std::fs::canonicalize(home.path()).unwrap();
    let secret_folder = home.join("private");
    std::fs::create_dir(&secret_folder).unwrap();
    let secret = secret_folder.join("weights.bin");
    let model_folder = home.join("downloads");
    std::fs::create_dir(&model_folder).unwrap();
    std::os::unix::fs::symlink(&secret, model_folder.join("linked.bin")).unwrap();
    let cases = [
        (secret.display().to_string(), "an absolute path"),
        (
            "../private/weights.bin".to_owned(),
            "it climbs out with `..`",
        ),
        ("linked.bin".to_owned(), "a link out of the folder"),
    ];
    for (location, why) in cases {
        let (model, weights) = with_external_weights(&location);
        std::fs::write(&secret, weights).unwrap();
        let path = model_folder.join("stranger.onnx");
        std::fs::write(&path, model).unwrap();
        // Any open or read of the outside file by this process (the hash, ONNX Runtime) shows up.
        let mut watcher = watch_opens(&secret);

        let error = MeritSession::load(&path, cpu()).err().unwrap();

        let opened = opens_seen(&mut watcher);
        assert_eq!(
            opened, 0,
            "{location}: the outside file was opened ({error})"
        );
        assert!(
            matches!(error, ModelError::Refused { .. }),
            "{location}: {error}"
        );
        let message = error.to_string();
        assert!(
            message.starts_with(&path.display().to_string()),
            "{message}"
        );
        assert!(
            message.contains(&format!("`{location}`, outside the model's folder ({why}")),
            "{message}"
        );
    }
    // The same weights inside the folder load: the refusal is the location, not the rewriting.
    let (model, weights) = with_external_weights("stranger.onnx.data");
    std::fs::write(model_folder.join("stranger.onnx.data"), weights).unwrap();
    let path = model_folder.join("stranger.onnx");
    std::fs::write(&path, model).unwrap();
    MeritSession::load(&path, cpu()).unwrap();
}

#[test]
fn the_hash_of_a_model_does_not_follow_weights_linked_out_of_its_folder() {
    let home = tempfile::tempdir().unwrap();
    let secret = home.path().join("secret.bin");
    std::fs::write(&secret, b"not yours").unwrap();
    let model_folder = home.path().join("downloads");
    std::fs::create_dir(&model_folder).unwrap();
    let model = model_folder.join("stranger.onnx");
    std::fs::write(&model, tiny_bytes()).unwrap();
    std::os::unix::fs::symlink(&secret, model_folder.join("stranger.onnx.data")).unwrap();
    let mut watcher = watch_opens(&secret);

    let error = model_digest(&model).unwrap_err();

    let opened = opens_seen(&mut watcher);
    assert_eq!(opened, 0, "the linked file was read ({error})");
    let message = error.to_string();
    assert!(message.contains("stranger.onnx.data"), "{message}");
    assert!(message.contains("a link out of the folder"), "{message}");
    // A real weights file beside it is hashed with the model.
    std::fs::remove_file(model_folder.join("stranger.onnx.data")).unwrap();
    let alone = model_digest(&model).unwrap();
    std::fs::write(model_folder.join("stranger.onnx.data"), b"weights").unwrap();
    assert_ne!(model_digest(&model).unwrap(), alone);
}

#[test]
fn a_card_of_tens_of_megabytes_is_refused_without_holding_it() {
    let dir = tempfile::tempdir().unwrap();
    merit_studio::model::runtime::initialise().unwrap();
    let (mut model, card) = without_card();
    // Valid JSON, so only its size is wrong: the card's own fields and 32 MiB of notes, written
    // in pieces so the test itself holds no copy.
    let card = card.trim_end().strip_suffix('}').unwrap();
    let card_start = format!(r#"{card}, "notes": {{"text": ""#);
    let (filler, pieces) = ("x".repeat(1 << 20), 32);
    let card_end = "\"}}";
    let card_bytes = card_start.len() + filler.len() * pieces + card_end.len();
    let value_header = [varint(2 << 3 | 2), varint(card_bytes as u64)].concat();
    let key = length_delimited(1, b"merit");
    model.extend(varint(14 << 3 | 2));
    model.extend(varint((key.len() + value_header.len() + card_bytes) as u64));
    model.extend(key);
    model.extend(value_header);
    model.extend(card_start.as_bytes());
    let path = dir.path().join("huge-card.onnx");
    let mut file = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    file.write_all(&model).unwrap();
    for _ in 0..pieces {
        file.write_all(filler.as_bytes()).unwrap();
    }
    file.write_all(card_end.as_bytes()).unwrap();
    file.into_inner().unwrap().sync_all().unwrap();
    drop((model, filler));

    let peak_before = peak_resident_bytes();
    let error = MeritSession::load(&path, cpu()).err().unwrap();
    let grown_mib = peak_resident_bytes().saturating_sub(peak_before) >> 20;
    let message = error.to_string();
    assert!(matches!(error, ModelError::Refused { .. }), "{message}");
    assert!(
        message.starts_with(&path.display().to_string()),
        "{message}"
    );
    assert!(
        message.contains(&format!("the `merit` card is {card_bytes} bytes")),
        "{message}"
    );
    assert!(grown_mib < 16, "peak memory grew by {grown_mib} MiB");
}

#[test]
fn malformed_and_deeply_nested_cards_are_errors_naming_the_model() {
    let dir = tempfile::tempdir().unwrap();
    let deep = format!(
        r#"{{"evaluation": {}{}}}"#,
        "[".repeat(500_000),
        "]".repeat(500_000)
    );
    for (card, says) in [
        ("{\"classes\": [\"angry\", ", "EOF while parsing"),
        ("?? \u{ffff}", "expected value"),
        (deep.as_str(), "recursion limit exceeded"),
        ("{}", "missing field"),
    ] {
        let path = with_card(dir.path(), card);
        let error = MeritSession::load(&path, cpu()).err().unwrap();
        let message = error.to_string();
        assert!(matches!(error, ModelError::Contract { .. }), "{message}");
        assert!(
            message.starts_with(&path.display().to_string()),
            "{message}"
        );
        assert!(message.contains(says), "{message}");
    }
}
