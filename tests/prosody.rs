//! The prosody lane's F0 against Praat's (tests/fixtures/pitch: the demo's 16 kHz WAV and two real
//! prompt recordings, a woman's and a man's): on frames both call voiced, the median relative
//! difference is under 2 %, and most of Praat's voiced frames are voiced here too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use merit_studio::audio::pitch::prosody_track;
use merit_studio::audio::{DecodeOptions, decode_file};

#[test]
fn f0_agrees_with_praat_on_the_demo_and_on_real_speech() {
    let reference: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string("tests/fixtures/pitch/reference.json").unwrap(),
    )
    .unwrap();
    for (name, entry) in reference.as_object().unwrap() {
        let decoded = decode_file(
            Path::new(entry["path"].as_str().unwrap()),
            DecodeOptions::default(),
        )
        .unwrap();
        let track = prosody_track(&decoded.analysis, 2);
        let praat: Vec<Option<f64>> = entry["f0_hz"]
            .as_array()
            .unwrap()
            .iter()
            .map(serde_json::Value::as_f64)
            .collect();
        assert_eq!(track.f0_hz.len(), praat.len(), "{name}: frame count");
        let mut errors = Vec::new();
        let mut praat_voiced = 0;
        let mut only_ours = 0;
        for (ours, theirs) in track.f0_hz.iter().zip(&praat) {
            if theirs.is_none() && ours.is_finite() {
                only_ours += 1;
            }
            if let Some(theirs) = theirs {
                praat_voiced += 1;
                if ours.is_finite() {
                    errors.push((f64::from(*ours) - theirs).abs() / theirs);
                }
            }
        }
        errors.sort_by(f64::total_cmp);
        let median = errors[errors.len() / 2];
        let agreement = errors.len() as f64 / f64::from(praat_voiced);
        let octave_errors = errors.iter().filter(|e| **e > 0.3).count();
        let voiced_here = errors.len() + only_ours;
        println!(
            "{name}: median error {:.2} %, {} of {praat_voiced} Praat-voiced frames voiced, {octave_errors} off by > 30 %, {only_ours} of {voiced_here} voiced frames unvoiced in Praat",
            median * 100.0,
            errors.len()
        );
        assert!(median < 0.02, "{name}: median relative difference {median}");
        assert!(
            agreement > 0.7,
            "{name}: only {agreement} of Praat's voiced frames voiced"
        );
        assert!(
            (only_ours as f64) < 0.3 * voiced_here as f64,
            "{name}: {only_ours} frames voiced here only"
        );
    }
}
