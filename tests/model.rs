//! The engine's model layer on the shipped tiny model: contract checks, CPU inference that matches
//! PyTorch's reference outputs, and clear errors for bad models and missing CUDA.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use merit_studio::model::{DeviceChoice, MeritSession, ModelError, Provider, SessionOptions};

fn tiny() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("models/sparse-merit-tiny.onnx")
}

fn cpu() -> SessionOptions {
    SessionOptions {
        device: DeviceChoice::Cpu,
        threads: 1,
    }
}

/// The signal `make_tiny.py` wrote its reference outputs for.
fn reference_input(samples: usize) -> Vec<f32> {
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

fn close(a: &[f32], b: &[f64], tolerance: f64) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| (f64::from(*x) - y).abs() <= tolerance)
}

#[test]
fn tiny_model_loads_and_matches_pytorch() {
    let mut session = MeritSession::load(&tiny(), cpu()).unwrap();
    assert_eq!(session.provider(), Provider::Cpu);
    let card = session.card().clone();
    assert_eq!(card.classes, ["angry", "sad", "happy", "neutral"]);
    assert_eq!((card.n_experts, card.top_k), (3, 1));
    let reference: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(tiny().with_extension("reference.json")).unwrap(),
    )
    .unwrap();
    let floats = |key: &str| -> Vec<f64> {
        reference[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect()
    };
    let out = session.run(reference_input(16_000), 1).unwrap();
    assert_eq!(out.frames, reference["frames"].as_u64().unwrap() as usize);
    assert!(
        close(&out.emotion_logits, &floats("emotion_logits"), 1e-4),
        "{:?}",
        out.emotion_logits
    );
    assert!(close(&out.enhanced[..32], &floats("enhanced_first"), 1e-4));
    let energy: f64 = out.enhanced.iter().map(|x| f64::from(*x).powi(2)).sum();
    assert!(
        (energy - reference["enhanced_energy"].as_f64().unwrap()).abs() < 1e-3 * energy.max(1e-9)
    );
    assert!(close(&out.ser_gate[..3], &floats("ser_gate_frame0"), 1e-5));
    let last = out.se_gate.len() - 3;
    assert!(close(&out.se_gate[last..], &floats("se_gate_last"), 1e-5));
}

#[test]
fn batches_have_the_contract_shapes() {
    let mut session = MeritSession::load(&tiny(), cpu()).unwrap();
    let out = session.run(vec![0.01; 3 * 8_000], 3).unwrap();
    assert_eq!((out.batch, out.samples, out.frames), (3, 8_000, 24));
    assert_eq!(out.emotion_logits.len(), 3 * 4);
    assert_eq!(out.enhanced.len(), 3 * 8_000);
    for probs in out.ser_gate.chunks(3).chain(out.se_gate.chunks(3)) {
        assert!((probs.iter().sum::<f32>() - 1.0).abs() < 1e-4);
    }
    assert!(matches!(
        session.run(vec![0.0; 10], 3),
        Err(ModelError::Inference(_))
    ));
}

#[test]
fn cuda_without_a_gpu_build_is_a_clear_error() {
    if merit_studio::model::runtime::locate().is_ok_and(|lib| lib.has_cuda_provider) {
        return; // a CUDA build is installed here: covered by scripts/gpu-check.sh instead
    }
    let options = SessionOptions {
        device: DeviceChoice::Cuda,
        threads: 1,
    };
    let error = MeritSession::load(&tiny(), options).err().unwrap();
    assert!(
        matches!(error, ModelError::CudaUnavailable { .. }),
        "{error}"
    );
    let auto = SessionOptions {
        device: DeviceChoice::Auto,
        threads: 1,
    };
    assert_eq!(
        MeritSession::load(&tiny(), auto).unwrap().provider(),
        Provider::Cpu
    );
}

#[test]
fn files_that_are_not_models_are_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("model.onnx");
    std::fs::write(&fake, b"not a protobuf").unwrap();
    let error = MeritSession::load(&fake, cpu()).err().unwrap();
    assert!(matches!(error, ModelError::NotOnnx { .. }), "{error}");
    assert!(error.to_string().starts_with(&fake.display().to_string()));
    let missing = MeritSession::load(&dir.path().join("none.onnx"), cpu())
        .err()
        .unwrap();
    assert!(matches!(missing, ModelError::Io { .. }), "{missing}");
}
