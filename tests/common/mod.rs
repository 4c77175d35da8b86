//! Test fixtures: WAV files written byte by byte, so headers can be made to lie.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use merit_studio::playback::{AudioSink, PlaybackSource};
use merit_studio::ui::StudioApp;

pub const WAVE_FORMAT_PCM: u16 = 1;
pub const WAVE_FORMAT_IEEE_FLOAT: u16 = 3;

/// A WAV file's fields; `claimed_data_len` lets the header promise more data than follows.
pub struct Wav {
    pub format_tag: u16,
    pub extensible: bool,
    pub channels: u16,
    pub sample_rate_hz: u32,
    pub bits: u16,
    pub data: Vec<u8>,
    pub claimed_data_len: Option<u32>,
}

impl Wav {
    pub fn pcm16(sample_rate_hz: u32, channels: u16, samples: &[f32]) -> Self {
        let data = samples
            .iter()
            .flat_map(|s| ((s * 32767.0).round() as i16).to_le_bytes())
            .collect();
        Self {
            format_tag: WAVE_FORMAT_PCM,
            extensible: false,
            channels,
            sample_rate_hz,
            bits: 16,
            data,
            claimed_data_len: None,
        }
    }

    pub fn bytes(&self) -> Vec<u8> {
        let block_align = self.channels * self.bits / 8;
        let mut fmt = Vec::new();
        fmt.extend(
            if self.extensible {
                0xFFFE_u16
            } else {
                self.format_tag
            }
            .to_le_bytes(),
        );
        fmt.extend(self.channels.to_le_bytes());
        fmt.extend(self.sample_rate_hz.to_le_bytes());
        fmt.extend((self.sample_rate_hz * u32::from(block_align)).to_le_bytes());
        fmt.extend(block_align.to_le_bytes());
        fmt.extend(self.bits.to_le_bytes());
        if self.extensible {
            fmt.extend(22_u16.to_le_bytes());
            fmt.extend(self.bits.to_le_bytes());
            let mask: u32 = if self.channels >= 32 {
                u32::MAX
            } else {
                (1 << self.channels) - 1
            };
            fmt.extend(mask.to_le_bytes());
            fmt.extend(u32::from(self.format_tag).to_le_bytes());
            fmt.extend([
                0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71,
            ]);
        }
        let data_len = self.claimed_data_len.unwrap_or(self.data.len() as u32);
        let mut out = Vec::new();
        out.extend(b"RIFF");
        out.extend((4 + 8 + fmt.len() as u32 + 8 + data_len).to_le_bytes());
        out.extend(b"WAVE");
        out.extend(b"fmt ");
        out.extend((fmt.len() as u32).to_le_bytes());
        out.extend(&fmt);
        out.extend(b"data");
        out.extend(data_len.to_le_bytes());
        out.extend(&self.data);
        out
    }

    pub fn write(&self, path: &Path) -> PathBuf {
        std::fs::write(path, self.bytes()).unwrap();
        path.to_path_buf()
    }
}

/// `len` samples of a sine at `freq_hz`, amplitude 0.5, interleaved over `channels` (same in each).
pub fn sine(freq_hz: f32, sample_rate_hz: u32, frames: usize, channels: usize) -> Vec<f32> {
    (0..frames)
        .flat_map(|i| {
            let s = 0.5
                * (2.0 * std::f32::consts::PI * freq_hz * i as f32 / sample_rate_hz as f32).sin();
            std::iter::repeat_n(s, channels)
        })
        .collect()
}

/// The random test model with the Sparse MERIT contract.
pub fn tiny_model() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("models/sparse-merit-tiny.onnx")
}

/// Writes a "CPU variant" of `model` (a copy of the file, see `cpu_variant_path`) whose card says
/// `precision: "int8"` and names `made_from` as the model it was quantised from: the card is
/// appended as one more `merit` metadata entry, the last of which ONNX Runtime keeps (a ModelProto's
/// field 14, an entry of key 1 and value 2).
pub fn write_cpu_variant(model: &Path, made_from: &str) -> PathBuf {
    fn varint(mut value: usize, out: &mut Vec<u8>) {
        while value >= 0x80 {
            out.push((value as u8 & 0x7f) | 0x80);
            value >>= 7;
        }
        out.push(value as u8);
    }
    let options = merit_studio::model::SessionOptions {
        device: merit_studio::model::DeviceChoice::Cpu,
        threads: 1,
        float_on_cpu: true,
    };
    let session = merit_studio::model::MeritSession::load(model, options).unwrap();
    let mut card = serde_json::to_value(session.card()).unwrap();
    card["precision"] = "int8".into();
    card["cpu_variant_of"] = made_from.into();
    let value = card.to_string();
    let mut entry = vec![0x0a];
    varint(5, &mut entry);
    entry.extend_from_slice(b"merit");
    entry.push(0x12);
    varint(value.len(), &mut entry);
    entry.extend_from_slice(value.as_bytes());
    let mut bytes = std::fs::read(model).unwrap();
    bytes.push(0x72);
    varint(entry.len(), &mut bytes);
    bytes.extend(entry);
    let variant = merit_studio::model::cpu_variant_path(model);
    std::fs::write(&variant, bytes).unwrap();
    variant
}

/// The tiny model's speaker-relative sibling (`make_tiny.py --speaker-relative`).
pub fn tiny_relative_model() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("models/sparse-merit-tiny-relative.onnx")
}

/// A copy of the demo project under `dir` (for tests that write annotations); returns its folder.
pub fn copy_demo(dir: &Path) -> PathBuf {
    let from = demo_project();
    let to = dir.join("demo");
    for entry in walkdir::WalkDir::new(&from) {
        let entry = entry.unwrap();
        let target = to.join(entry.path().strip_prefix(&from).unwrap());
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
    to
}

/// The bundled demo project.
pub fn demo_project() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("projects/demo")
}

pub fn float_wav(sample_rate_hz: u32, channels: u16, bits: u16, samples: &[f32]) -> Wav {
    let data = match bits {
        32 => samples.iter().flat_map(|s| s.to_le_bytes()).collect(),
        _ => samples
            .iter()
            .flat_map(|s| f64::from(*s).to_le_bytes())
            .collect(),
    };
    Wav {
        format_tag: WAVE_FORMAT_IEEE_FLOAT,
        extensible: false,
        channels,
        sample_rate_hz,
        bits,
        data,
        claimed_data_len: None,
    }
}

pub fn int_wav(
    sample_rate_hz: u32,
    channels: u16,
    bits: u16,
    extensible: bool,
    samples: &[f32],
) -> Wav {
    let data = samples
        .iter()
        .flat_map(|&s| match bits {
            8 => vec![((s * 127.0).round() as i16 + 128) as u8],
            16 => ((s * 32767.0).round() as i16).to_le_bytes().to_vec(),
            24 => ((s * 8_388_607.0).round() as i32).to_le_bytes()[..3].to_vec(),
            _ => ((f64::from(s) * 2_147_483_647.0).round() as i32)
                .to_le_bytes()
                .to_vec(),
        })
        .collect();
    Wav {
        format_tag: WAVE_FORMAT_PCM,
        extensible,
        channels,
        sample_rate_hz,
        bits,
        data,
        claimed_data_len: None,
    }
}

/// Writes each broken file and returns (path, expected error kind).
pub fn broken_files(dir: &Path) -> Vec<(PathBuf, &'static [&'static str])> {
    let write = |name: &str, bytes: &[u8]| {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    };
    let tone = sine(440.0, 16_000, 16_000, 1);
    let mut lying = Wav::pcm16(16_000, 1, &tone[..4_000]);
    lying.claimed_data_len = Some(32_000);
    let mut zero_channels = Wav::pcm16(16_000, 1, &tone);
    zero_channels.channels = 0;
    let zero_rate = Wav::pcm16(0, 1, &tone);
    let mut nan = float_wav(16_000, 1, 32, &tone);
    nan.data[400..404].copy_from_slice(&f32::NAN.to_le_bytes());
    nan.data[800..804].copy_from_slice(&f32::INFINITY.to_le_bytes());
    let header_only = Wav::pcm16(16_000, 1, &[]);
    let flac = std::fs::read(demo_project().join("audio/sad_f1.flac")).unwrap();
    let mut corrupt_flac = flac.clone();
    for byte in &mut corrupt_flac[flac.len() / 3..flac.len() / 3 + 2000] {
        *byte ^= 0x5A;
    }
    vec![
        (write("empty.wav", b""), &["empty"][..]),
        (
            write("text.wav", b"this is a text file, not audio\n"),
            &["unrecognised-format"][..],
        ),
        (
            lying.write(&dir.join("header_claims_more.wav")),
            &["truncated"][..],
        ),
        (
            zero_channels.write(&dir.join("zero_channels.wav")),
            &["invalid-header"][..],
        ),
        (
            zero_rate.write(&dir.join("zero_rate.wav")),
            &["invalid-header"][..],
        ),
        (nan.write(&dir.join("nan.wav")), &["non-finite-samples"][..]),
        (
            header_only.write(&dir.join("header_only.wav")),
            &["no-audio"][..],
        ),
        (
            write("cut.flac", &flac[..flac.len() / 2]),
            &["truncated", "corrupt"][..],
        ),
        // FLAC readers resync past damaged frames, so damage shows as missing frames.
        (
            write("corrupt.flac", &corrupt_flac),
            &["corrupt", "truncated"][..],
        ),
        (
            write("garbage.mp3", &[0x55; 4096]),
            &["unrecognised-format", "no-audio", "corrupt"][..],
        ),
        (
            write(
                "garbage.m4a",
                b"\x00\x00\x00\x18ftypM4A \x00\x00\x00\x00garbage",
            ),
            &[
                "invalid-header",
                "no-audio-track",
                "unrecognised-format",
                "truncated",
                "corrupt",
            ][..],
        ),
    ]
}

/// Stands in for the sound card: keeps the last source so the test can play it.
#[derive(Clone, Default)]
pub struct FakeSink(Arc<Mutex<Option<PlaybackSource>>>);

impl AudioSink for FakeSink {
    fn play(&mut self, source: PlaybackSource) {
        *self.0.lock().unwrap() = Some(source);
    }
}

impl FakeSink {
    /// Pulls `samples` from the current source, as a device would (nothing before a recording
    /// is attached).
    pub fn pull(&self, samples: usize) -> Vec<f32> {
        let mut source = self.0.lock().unwrap();
        source
            .as_mut()
            .map(|s| s.by_ref().take(samples).collect())
            .unwrap_or_default()
    }
}

pub const TONE_CLASSES: [&str; 4] = ["angry", "sad", "happy", "neutral"];
pub const TONE_SPEAKERS: usize = 10;

/// A project of `TONE_SPEAKERS` speakers × the four classes, one second each (a tone per class),
/// listed in a manifest with speakers (`audio/CLASS_SPEAKER.wav`); returns its folder.
pub fn tone_project(dir: &Path) -> PathBuf {
    let project = dir.join("tones");
    std::fs::create_dir_all(project.join("audio")).unwrap();
    let mut manifest = String::from("path,speaker\n");
    for speaker in 0..TONE_SPEAKERS {
        for (index, class) in TONE_CLASSES.iter().enumerate() {
            let name = format!("audio/{class}_{speaker}.wav");
            let freq = 150.0 * 2f32.powi(i32::try_from(index).unwrap()) + speaker as f32 * 7.0;
            float_wav(16_000, 1, 32, &sine(freq, 16_000, 16_000, 1)).write(&project.join(&name));
            manifest.push_str(&format!("{name},s{speaker}\n"));
        }
    }
    std::fs::write(project.join("recordings.csv"), manifest).unwrap();
    std::fs::write(
        project.join("project.json"),
        r#"{"schema_version": 1, "name": "tones", "sources": [{"kind": "manifest", "path": "recordings.csv"}]}"#,
    )
    .unwrap();
    project
}

/// Labels every tone of `classes` with its own class as `annotator` (`merit-studio label`).
pub fn label_tones(project: &Path, dir: &Path, classes: &[&str], annotator: &str) {
    use std::io::Write;
    let edits: String = (0..TONE_SPEAKERS)
        .flat_map(|speaker| {
            classes.iter().map(move |class| {
                format!("{{\"file\": \"audio/{class}_{speaker}.wav\", \"class\": \"{class}\"}}\n")
            })
        })
        .collect();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_merit-studio"))
        .args(["label", project.to_str().unwrap(), "--annotator", annotator])
        .env("XDG_CACHE_HOME", dir.join("cache"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(edits.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{output:?}");
}

/// The signal `make_tiny.py` wrote its reference outputs for.
pub fn reference_input(samples: usize) -> Vec<f32> {
    (0..samples)
        .map(|i| {
            let t = i as f64 / 16_000.0;
            let chirp = 0.1 * (2.0 * std::f64::consts::PI * (200.0 + 300.0 * t) * t).sin();
            let phase = (2.0 * std::f64::consts::PI * 7.0 * t).sin();
            let square = 0.05
                * if phase > 0.0 {
                    1.0
                } else if phase < 0.0 {
                    -1.0
                } else {
                    0.0
                };
            (chirp + square) as f32
        })
        .collect()
}

/// Steps the UI until background work is done (or fails the test after 60 s).
pub fn settle(harness: &mut egui_kittest::Harness<'static, StudioApp>) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        harness.step();
        if !harness.state().is_busy() {
            harness.step();
            if !harness.state().is_busy() {
                break;
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "background work did not finish"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    harness.run();
}

/// The JSON objects of a JSON Lines file (an `analyze` run's `results.jsonl`, an export).
pub fn jsonl_rows(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// Fails the test with the command's standard error unless it succeeded.
pub fn assert_success(output: &std::process::Output) {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
