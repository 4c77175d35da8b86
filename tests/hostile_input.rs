//! Property tests over every parser of files other people make: random bytes and mutations of real
//! files must give a result or an error, never a panic or a hang (each case runs under a
//! watchdog: 2 s in the long release run, 20 s in the debug test suite), and errors name the file.
//!
//! CI runs a few hundred cases per property; `scripts/fuzz.sh` runs the same properties with
//! `MERIT_FUZZ_CASES` set high, in release mode, and prints the counts.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use merit_studio::annotation::journal::{self, JournalWriter};
use merit_studio::annotation::{ClassSource, Op};
use merit_studio::audio::{DecodeOptions, decode_file};
use merit_studio::export::import;
use merit_studio::model::contract::parse_card;
use merit_studio::project::manifest::read_manifest;
use merit_studio::project::{LabelScheme, ProjectFile};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

/// How long one case may run: `MERIT_FUZZ_WATCHDOG_S` (scripts/fuzz.sh: 2 s, release build), else
/// 20 s, which a hang still exceeds but a debug build on a loaded machine does not.
fn watchdog() -> Duration {
    let seconds = std::env::var("MERIT_FUZZ_WATCHDOG_S")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(20);
    Duration::from_secs(seconds)
}
const DEMO_AUDIO: &str = "projects/demo/audio";

/// Cases per property: `MERIT_FUZZ_CASES`, else `default`.
fn cases(default: u32) -> u32 {
    std::env::var("MERIT_FUZZ_CASES")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

fn runner(default: u32) -> TestRunner {
    TestRunner::new(Config {
        cases: cases(default),
        failure_persistence: None,
        ..Config::default()
    })
}

/// Runs `work` on its own thread; a panic or an overrun of the watchdog is a test failure that
/// names what was being parsed.
fn survives<T: Send + 'static>(
    what: &str,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, TestCaseError> {
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = sender.send(work());
    });
    let limit = watchdog();
    match receiver.recv_timeout(limit) {
        Ok(value) => Ok(value),
        Err(mpsc::RecvTimeoutError::Timeout) => Err(TestCaseError::fail(format!(
            "{what}: still running after {limit:?}"
        ))),
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            Err(TestCaseError::fail(format!("{what}: panicked")))
        }
    }
}

fn write(folder: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = folder.join(name);
    std::fs::write(&path, bytes).expect("temporary file");
    path
}

/// A real file changed: cut short, bytes overwritten, or a 32-bit field set to a huge value (a
/// header claiming 2^32 frames or bytes).
#[derive(Debug, Clone)]
enum Mutation {
    Truncate(usize),
    Overwrite(usize, Vec<u8>),
    HugeField(usize),
}

fn mutation(len: usize) -> impl Strategy<Value = Mutation> {
    let header = len.min(4096);
    prop_oneof![
        (0..len).prop_map(Mutation::Truncate),
        (0..header, prop::collection::vec(any::<u8>(), 1..16))
            .prop_map(|(at, bytes)| Mutation::Overwrite(at, bytes)),
        (0..len).prop_map(|at| Mutation::Overwrite(at, vec![0xff])),
        (0..header).prop_map(Mutation::HugeField),
    ]
}

fn mutate(original: &[u8], mutation: &Mutation) -> Vec<u8> {
    let mut bytes = original.to_vec();
    match mutation {
        Mutation::Truncate(at) => bytes.truncate(*at),
        Mutation::Overwrite(at, new) => {
            for (i, byte) in new.iter().enumerate() {
                if let Some(slot) = bytes.get_mut(at + i) {
                    *slot = *byte;
                }
            }
        }
        Mutation::HugeField(at) => {
            for (i, byte) in 0xffff_fff0_u32.to_le_bytes().iter().enumerate() {
                if let Some(slot) = bytes.get_mut(at + i) {
                    *slot = *byte;
                }
            }
        }
    }
    bytes
}

fn decode_survives(path: PathBuf) -> Result<(), TestCaseError> {
    let shown = path.display().to_string();
    let result = survives(&shown, move || {
        decode_file(&path, DecodeOptions::default())
            .map(|_| ())
            .map_err(|e| e.to_string())
    })?;
    if let Err(message) = result {
        let name = Path::new(&shown)
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        prop_assert!(
            message.contains(&name),
            "the error does not name the file: {message}"
        );
    }
    Ok(())
}

#[test]
fn audio_decoding_survives_random_bytes_under_every_extension() {
    let folder = tempfile::tempdir().expect("temporary folder");
    for extension in ["wav", "flac", "mp3", "ogg", "m4a", "aiff"] {
        let folder = folder.path().to_path_buf();
        runner(64)
            .run(&prop::collection::vec(any::<u8>(), 0..2048), |bytes| {
                decode_survives(write(&folder, &format!("random.{extension}"), &bytes))
            })
            .expect(extension);
    }
}

#[test]
fn audio_decoding_survives_mutations_of_real_files() {
    let folder = tempfile::tempdir().expect("temporary folder");
    for entry in std::fs::read_dir(DEMO_AUDIO).expect("demo audio") {
        let path = entry.expect("demo file").path();
        let original = std::fs::read(&path).expect("demo file");
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .expect("file name")
            .to_owned();
        let folder = folder.path().to_path_buf();
        runner(24)
            .run(&mutation(original.len()), |change| {
                decode_survives(write(&folder, &name, &mutate(&original, &change)))
            })
            .expect(&name);
    }
}

/// Text that looks enough like the format to get past the first checks: lines of plausible fields.
fn texty(fields: &'static [&'static str]) -> impl Strategy<Value = String> {
    let field = prop_oneof![
        prop::sample::select(fields).prop_map(str::to_owned),
        "[ -~]{0,12}",
        "\\PC{0,6}",
        Just(String::new()),
        any::<f64>().prop_map(|x| x.to_string()),
    ];
    let separator = prop::sample::select(&[",", "\t", ";", "\"", " = ", ":"][..]);
    let line = prop::collection::vec((field, separator), 0..8).prop_map(|parts| {
        parts
            .into_iter()
            .map(|(f, s)| format!("{f}{s}"))
            .collect::<String>()
    });
    prop::collection::vec(line, 0..12).prop_map(|lines| lines.join("\n"))
}

#[test]
fn manifests_survive_hostile_text() {
    let folder = tempfile::tempdir().expect("temporary folder");
    let fields = &[
        "path",
        "file",
        "FileName",
        "EmoClass",
        "speaker",
        "split",
        "label",
        "audio/a.wav",
        "A",
        "{\"path\": \"x.wav\"}",
        "Test1",
    ];
    for name in ["m.csv", "m.tsv", "m.jsonl", "labels_consensus.csv"] {
        let folder = folder.path().to_path_buf();
        runner(128)
            .run(&texty(fields), |text| {
                let path = write(&folder, name, text.as_bytes());
                survives(name, move || {
                    read_manifest(&path).map(|_| ()).map_err(|e| e.to_string())
                })?
                .ok();
                Ok(())
            })
            .expect(name);
    }
}

#[test]
fn project_files_survive_hostile_json() {
    let keys = &[
        "{",
        "}",
        "[",
        "]",
        "\"schema_version\"",
        "\"sources\"",
        "\"kind\"",
        "\"folder\"",
        "\"path\"",
        "\"label_scheme\"",
        "\"classes\"",
        "1e999",
        "null",
        "\"..\"",
    ];
    runner(256)
        .run(&texty(keys), |text| {
            survives("project.json", move || {
                ProjectFile::parse(&text, Path::new("hostile/project.json"))
                    .map_err(|e| e.to_string())
            })?
            .err()
            .map_or(Ok(()), |message| {
                prop_assert!(
                    message.contains("project.json"),
                    "the error does not name the file: {message}"
                );
                Ok(())
            })
        })
        .expect("project.json");
}

#[test]
fn model_cards_survive_hostile_json() {
    let keys = &[
        "{",
        "}",
        "[",
        "]",
        "\"classes\"",
        "\"frame_hop_s\"",
        "\"experts\"",
        "\"contract_version\"",
        "0",
        "-1",
        "1e308",
        "\"angry\"",
    ];
    runner(256)
        .run(&texty(keys), |text| {
            survives("model card", move || {
                parse_card(&text).map(|_| ()).map_err(|e| e.to_string())
            })?
            .ok();
            Ok(())
        })
        .expect("model card");
}

/// A journal of a few real edits, as the writer leaves it.
fn real_journal(folder: &Path) -> Vec<u8> {
    let contents = journal::read_journal(folder, "ann").expect("empty journal");
    let mut writer = JournalWriter::open(folder, "ann", &contents).expect("journal writer");
    for (i, class) in ["angry", "sad", "happy"].into_iter().enumerate() {
        let op = Op::SetClass {
            class: Some(class.to_owned()),
            source: ClassSource::Human,
            model: None,
        };
        writer
            .append(&format!("audio/{i}.wav"), op, None)
            .expect("append");
    }
    drop(writer);
    std::fs::read(journal::journal_path(folder, "ann")).expect("journal file")
}

#[test]
fn journals_survive_truncation_garbage_and_interleaving() {
    let folder = tempfile::tempdir().expect("temporary folder");
    let original = real_journal(folder.path());
    let garbage_line = prop_oneof![
        "\\PC{0,40}",
        Just("{\"v\":1,\"seq\":99}".to_owned()),
        Just("{\"v\":999,\"seq\":1,\"annotator\":\"ann\",\"time_ms\":0,\"file\":\"x\",\"op\":\"set_class\"}".to_owned()),
    ];
    let strategy = (
        mutation(original.len()),
        prop::collection::vec((0..original.len(), garbage_line), 0..4),
    );
    let root = folder.path().to_path_buf();
    runner(256)
        .run(&strategy, |(change, insertions)| {
            let mut bytes = mutate(&original, &change);
            for (at, line) in insertions {
                let at = at.min(bytes.len());
                bytes.splice(at..at, format!("\n{line}\n").into_bytes());
            }
            let case = tempfile::tempdir_in(&root).expect("case folder");
            let folder = case.path().to_path_buf();
            std::fs::write(journal::journal_path(&folder, "ann"), &bytes).expect("journal");
            survives("journal", move || {
                journal::read_journal(&folder, "ann")
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            })?
            .ok();
            Ok(())
        })
        .expect("journal");
}

#[test]
fn importers_survive_hostile_files() {
    let folder = tempfile::tempdir().expect("temporary folder");
    let fields = &[
        "FileName",
        "EmoClass",
        "EmoAct",
        "Annotator",
        "a.wav",
        "A",
        "N",
        "path",
        "label",
        "File type = \"ooTextFile\"",
        "item [1]:",
        "intervals [1]:",
        "xmin",
        "xmax",
        "text",
        "name",
        "<ANNOTATION_DOCUMENT>",
        "<TIER TIER_ID=\"x\">",
        "<TIME_SLOT TIME_SLOT_ID=\"ts1\" TIME_VALUE=\"-5\"/>",
        "<ANNOTATION_VALUE>",
        "<!DOCTYPE x [<!ENTITY a \"aaaa\">]>",
        "&a;&a;&a;",
        "file_name",
        "metadata.jsonl",
        "1.5",
        "-1",
        "NaN",
        "time_s",
        "0.04",
        "1e300",
        "4;1",
        "<scheme name=\"arousal\" type=\"CONTINUOUS\" sr=\"25\" min=\"1\" max=\"7\"/>",
        "<scheme type=\"continuous\" sr=\"1e-300\"/>",
        "<info size=\"99999999999\"/>",
    ];
    let scheme = LabelScheme::sparse_merit();
    let arousal = merit_studio::project::TraceSettings::default()
        .scheme(&scheme, "arousal")
        .expect("arousal is traceable");
    let root = folder.path().to_path_buf();
    runner(128)
        .run(&texty(fields), |text| {
            let scheme = scheme.clone();
            let arousal = arousal.clone();
            let root = root.clone();
            survives("importers", move || {
                let traces = write(&root, "a.arousal.csv", text.as_bytes());
                let _ = import::traces_csv(&traces, &arousal, None);
                let nova = write(&root, "a.annotation", text.as_bytes());
                write(&root, "a.annotation~", text.as_bytes());
                let _ = import::nova(&nova, &arousal);
                let msp = write(&root, "labels.csv", text.as_bytes());
                let _ = import::msp_csv(&msp, &scheme, None);
                let jsonl = write(&root, "labels.jsonl", text.as_bytes());
                let _ = import::jsonl(&jsonl);
                let audacity = write(&root, "labels.txt", text.as_bytes());
                let _ = import::audacity(&audacity, "a.wav", 1);
                let textgrid = write(&root, "a.TextGrid", text.as_bytes());
                let _ = import::textgrid(&textgrid, "a.wav", "ann", 1);
                let eaf = write(&root, "a.eaf", text.as_bytes());
                let _ = import::eaf(&eaf, "a.wav", "ann", 1);
                let audiofolder = root.join("folder");
                std::fs::create_dir_all(&audiofolder).expect("folder");
                write(&audiofolder, "metadata.jsonl", text.as_bytes());
                let _ = import::audiofolder(&audiofolder);
            })
        })
        .expect("importers");
}

/// Found by `audio_decoding_survives_mutations_of_real_files`: a WAV whose fmt chunk claims 65,535
/// channels overflowed symphonia's block-align arithmetic (a panic in debug builds).
#[test]
fn a_wav_claiming_65535_channels_is_an_error_not_a_crash() {
    let folder = tempfile::tempdir().unwrap();
    let mut bytes = std::fs::read(Path::new(DEMO_AUDIO).join("angry_m1.wav")).unwrap();
    assert_eq!(&bytes[12..16], b"fmt ");
    bytes[22..24].copy_from_slice(&u16::MAX.to_le_bytes());
    let path = write(folder.path(), "channels.wav", &bytes);
    let error = decode_file(&path, DecodeOptions::default())
        .unwrap_err()
        .to_string();
    assert!(error.contains("channels.wav"), "{error}");
}

/// Found by `scripts/fuzz.sh` (`audio_decoding_survives_mutations_of_real_files`): a WAV whose fmt
/// chunk claims 4,294,967,280 Hz took 11 s and 3 GB to resample (the FFT plan), one claiming 2 Hz
/// 4 s and 1 GB (8,000 samples out of each one in). Rates outside 1 kHz to 1 MHz are refused.
#[test]
fn a_wav_claiming_an_absurd_sample_rate_is_an_error_at_once() {
    let folder = tempfile::tempdir().unwrap();
    let original = std::fs::read(Path::new(DEMO_AUDIO).join("neutral_m3.wav")).unwrap();
    assert_eq!(&original[12..16], b"fmt ");
    for rate_hz in [0xffff_fff0_u32, 2, 999] {
        let mut bytes = original.clone();
        bytes[24..28].copy_from_slice(&rate_hz.to_le_bytes());
        let path = write(folder.path(), "rate.wav", &bytes);
        let started = std::time::Instant::now();
        let error = decode_file(&path, DecodeOptions::default())
            .unwrap_err()
            .to_string();
        assert!(
            started.elapsed() < Duration::from_millis(500),
            "{rate_hz} Hz"
        );
        assert!(error.contains("rate.wav"), "{error}");
        assert!(
            error.contains(&format!("sample rate {rate_hz} Hz is outside")),
            "{error}"
        );
    }
}
