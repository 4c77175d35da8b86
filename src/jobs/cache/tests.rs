use super::*;
use crate::model::Provider;
use crate::model::analysis::{RouterTrace, Trajectory};

fn sample() -> SignalAnalysis {
    SignalAnalysis {
        duration_s: 1.5,
        padded_from_s: None,
        classes: vec!["a".into(), "b".into()],
        probs: vec![0.25, 0.75],
        trajectory: Trajectory {
            times_s: vec![0.75],
            probs: vec![vec![0.25, 0.75]],
        },
        enhanced: vec![0.1, -0.2, 0.3],
        ser: RouterTrace::new(
            Array2::from_shape_vec((1, 2), vec![0.4, 0.6]).unwrap(),
            0.02,
        ),
        se: RouterTrace::new(
            Array2::from_shape_vec((1, 2), vec![0.9, 0.1]).unwrap(),
            0.02,
        ),
        provider: Provider::Cpu,
        inference_s: 0.01,
        statistics: Some(vec![0.5, -1.5]),
        reference: None,
    }
}

#[test]
fn summaries_are_recalled_for_unchanged_files_only() {
    let dir = tempfile::tempdir().unwrap();
    let cache = AnalysisCache::new(dir.path().join("cache"));
    let params = AnalysisParams::default();
    let (a, b) = (dir.path().join("a.wav"), dir.path().join("b.wav"));
    std::fs::write(&a, b"RIFF a").unwrap();
    std::fs::write(&b, b"RIFF b").unwrap();
    for _ in 0..3 {
        cache.remember(&a, "model", &params, &sample());
    }
    let recalled = cache.recall("model", &params, &[a.clone(), b.clone()]);
    assert_eq!(recalled[0].as_ref().map(|s| s.class.as_str()), Some("b"));
    assert_eq!(
        recalled[0].as_ref().map(|s| s.probs.clone()),
        Some(vec![0.25, 0.75])
    );
    assert_eq!(recalled[1], None, "never analysed");
    assert_eq!(
        cache.recall("other model", &params, std::slice::from_ref(&a)),
        vec![None]
    );
    // A file changed since (another size) is not trusted.
    std::fs::write(&a, b"RIFF a, longer").unwrap();
    assert_eq!(cache.recall("model", &params, &[a]), vec![None]);
}

#[test]
fn round_trip_and_keys() {
    let dir = tempfile::tempdir().unwrap();
    let cache = AnalysisCache::new(dir.path().to_path_buf());
    let params = AnalysisParams::default();
    assert!(cache.load("audio", "model", &params, None).is_none());
    cache.store("audio", "model", &params, None, &sample());
    assert_eq!(cache.load("audio", "model", &params, None), Some(sample()));
    assert!(cache.load("audio", "other-model", &params, None).is_none());
    let other = AnalysisParams {
        hop_s: 1.0,
        ..params
    };
    assert!(cache.load("audio", "model", &other, None).is_none());
    // An analysis against a speaker reference is kept apart from one without, and from one
    // against another reference.
    let reference = SpeakerReference {
        basis: ReferenceNote::Speaker {
            speaker: "ann".into(),
            recordings: 2,
        },
        values: vec![0.5, -1.5],
    };
    assert!(
        cache
            .load("audio", "model", &params, Some(&reference))
            .is_none()
    );
    let mut relative = sample();
    relative.reference = Some(reference.note());
    cache.store("audio", "model", &params, Some(&reference), &relative);
    assert_eq!(
        cache.load("audio", "model", &params, Some(&reference)),
        Some(relative)
    );
    assert_eq!(cache.load("audio", "model", &params, None), Some(sample()));
    let moved = SpeakerReference {
        values: vec![0.5, -1.0],
        ..reference
    };
    assert!(
        cache
            .load("audio", "model", &params, Some(&moved))
            .is_none()
    );
}

#[test]
fn damaged_or_foreign_files_are_ignored() {
    let bytes = encode(&sample()).unwrap();
    assert!(decode(&bytes[..bytes.len() - 5]).is_err());
    let mut flipped = bytes.clone();
    flipped[20] ^= 1;
    assert!(decode(&flipped).is_err());
    let mut other_version = bytes.clone();
    other_version[7] = b'9';
    assert!(
        decode(&other_version)
            .unwrap_err()
            .to_string()
            .contains("version")
    );
    assert!(decode(b"").is_err());
}

#[test]
fn a_file_whose_parts_disagree_in_size_is_ignored() {
    // A well-formed file (right checksum) written by a buggy or foreign encoder: the window
    // would index the trajectory and the routers by these sizes.
    let mut short_row = sample();
    short_row.trajectory.probs[0].pop();
    let mut extra_time = sample();
    extra_time.trajectory.times_s.push(9.0);
    let mut usage = sample();
    usage.se.usage.push(0.0);
    let mut hop = sample();
    hop.ser.hop_s = 0.0;
    for (damaged, expected) in [
        (short_row, "trajectory row"),
        (extra_time, "trajectory times"),
        (usage, "SE router"),
        (hop, "frame hop"),
    ] {
        let error = decode(&encode(&damaged).unwrap()).unwrap_err().to_string();
        assert!(error.contains(expected), "{error}");
    }
    assert!(decode(&encode(&sample()).unwrap()).is_ok());
}
