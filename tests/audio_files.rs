//! Decoding real and deliberately broken files: unusual but valid files work; broken ones give a
//! typed error naming the file; nothing panics.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;

use common::{Wav, broken_files, demo_project, float_wav, int_wav, sine};
use merit_studio::audio::{ANALYSIS_RATE_HZ, AudioError, DecodeOptions, decode_file, probe};

fn decode(path: &Path) -> Result<merit_studio::audio::DecodedFile, AudioError> {
    decode_file(
        path,
        DecodeOptions {
            keep_original: true,
            ..DecodeOptions::default()
        },
    )
}

#[test]
fn every_demo_format_decodes_to_16k_mono() {
    let audio = demo_project().join("audio");
    let mut containers = Vec::new();
    for entry in std::fs::read_dir(&audio).unwrap() {
        let path = entry.unwrap().path();
        let decoded = decode(&path).unwrap_or_else(|e| panic!("{e}"));
        let expected = (decoded.decoded_frames as f64 * 16_000.0
            / f64::from(decoded.info.sample_rate_hz))
        .round();
        assert_eq!(
            decoded.analysis.len() as f64,
            expected,
            "{}",
            path.display()
        );
        assert!(decoded.duration_secs() > 2.0 && decoded.duration_secs() < 6.0);
        let original = decoded.original.unwrap();
        assert_eq!(original.frames() as u64, decoded.decoded_frames);
        let peak = decoded.analysis.iter().fold(0.0_f32, |m, s| m.max(s.abs()));
        assert!(
            peak > 0.05 && peak <= 1.0,
            "{}: peak {peak}",
            path.display()
        );
        containers.push(decoded.info.container);
    }
    containers.sort();
    assert_eq!(containers, ["flac", "isomp4", "mp3", "ogg", "wave", "wave"]);
}

#[test]
fn unusual_but_valid_wav_files_simply_work() {
    let dir = tempfile::tempdir().unwrap();
    let cases: Vec<(&str, u32, u16, Wav)> = vec![
        (
            "u8_8k.wav",
            8_000,
            1,
            int_wav(8_000, 1, 8, false, &sine(440.0, 8_000, 8_000, 1)),
        ),
        (
            "s16_96k.wav",
            96_000,
            1,
            int_wav(96_000, 1, 16, false, &sine(440.0, 96_000, 96_000, 1)),
        ),
        (
            "s24_ext_96k_stereo.wav",
            96_000,
            2,
            int_wav(96_000, 2, 24, true, &sine(440.0, 96_000, 48_000, 2)),
        ),
        (
            "s32_48k.wav",
            48_000,
            1,
            int_wav(48_000, 1, 32, false, &sine(440.0, 48_000, 24_000, 1)),
        ),
        (
            "s16_ext_12ch.wav",
            44_100,
            12,
            int_wav(44_100, 12, 16, true, &sine(440.0, 44_100, 22_050, 12)),
        ),
        (
            "f32_22k.wav",
            22_050,
            1,
            float_wav(22_050, 1, 32, &sine(440.0, 22_050, 22_050, 1)),
        ),
        (
            "f64_16k.wav",
            16_000,
            1,
            float_wav(16_000, 1, 64, &sine(440.0, 16_000, 16_000, 1)),
        ),
    ];
    for (name, rate, channels, wav) in cases {
        let path = wav.write(&dir.path().join(name));
        let decoded = decode(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(decoded.info.sample_rate_hz, rate, "{name}");
        assert_eq!(decoded.info.channels, usize::from(channels), "{name}");
        let frames = wav.data.len() / usize::from(channels * wav.bits / 8);
        assert_eq!(decoded.decoded_frames as usize, frames, "{name}");
        let expected_len =
            (frames as f64 * f64::from(ANALYSIS_RATE_HZ) / f64::from(rate)).round() as usize;
        assert_eq!(decoded.analysis.len(), expected_len, "{name}");
        // The 0.5-amplitude sine survives decoding, mixing and resampling.
        let peak = decoded.analysis[100..expected_len - 100]
            .iter()
            .fold(0.0_f32, |m, s| m.max(s.abs()));
        assert!((peak - 0.5).abs() < 0.02, "{name}: peak {peak}");
    }
}

#[test]
fn broken_files_give_typed_errors_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    for (path, expected_kinds) in broken_files(dir.path()) {
        let error = decode(&path).expect_err(&path.display().to_string());
        assert!(
            expected_kinds.contains(&error.kind()),
            "{}: expected {expected_kinds:?}, got {} ({error})",
            path.display(),
            error.kind()
        );
        assert_eq!(error.path(), path);
        assert!(
            error.to_string().starts_with(&path.display().to_string()),
            "{error}"
        );
    }
}

#[test]
fn non_finite_samples_are_counted_and_located() {
    let dir = tempfile::tempdir().unwrap();
    let files = broken_files(dir.path());
    let nan = files.iter().find(|(p, _)| p.ends_with("nan.wav")).unwrap();
    match decode(&nan.0) {
        Err(AudioError::NonFiniteSamples {
            count,
            first_at_secs,
            ..
        }) => {
            assert_eq!(count, 2);
            assert!((first_at_secs - 100.0 / 16_000.0).abs() < 1e-9);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn probe_reads_headers_without_decoding() {
    let info = probe(&demo_project().join("audio/sad_f1.flac")).unwrap();
    assert_eq!(info.container, "flac");
    assert_eq!(info.sample_rate_hz, 48_000);
    assert_eq!(info.bits_per_sample, Some(24));
    assert!(info.duration_secs().unwrap() > 2.0);
}

/// Demo files cut at many points, with bytes flipped, and random bytes under audio names: every
/// one decodes or fails with an error; none panics.
#[test]
fn mangled_files_never_panic() {
    let dir = tempfile::tempdir().unwrap();
    let mut state = 0x9E37_79B9_u32;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        state
    };
    let mut outcomes = (0, 0);
    for entry in std::fs::read_dir(demo_project().join("audio")).unwrap() {
        let original = std::fs::read(entry.unwrap().path()).unwrap();
        let name = |i: usize, ext: &str| dir.path().join(format!("m{i}.{ext}"));
        for i in 0..24 {
            let cut = (next() as usize) % original.len();
            let mut bytes = original[..cut].to_vec();
            if i % 2 == 1 {
                for _ in 0..8 {
                    let at = (next() as usize) % bytes.len().max(1);
                    if let Some(b) = bytes.get_mut(at) {
                        *b ^= (next() & 0xFF) as u8;
                    }
                }
            }
            let extension = ["wav", "flac", "mp3", "ogg", "m4a"][(next() as usize) % 5];
            let path = name(i, extension);
            std::fs::write(&path, &bytes).unwrap();
            match decode(&path) {
                Ok(_) => outcomes.0 += 1,
                Err(error) => {
                    assert_eq!(error.path(), path);
                    outcomes.1 += 1;
                }
            }
        }
    }
    assert!(outcomes.1 > 0, "{outcomes:?}");
}
