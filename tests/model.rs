//! The engine's model layer on the shipped tiny model: contract checks, CPU inference that matches
//! PyTorch's reference outputs, and clear errors for bad models and missing CUDA.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use merit_studio::model::{DeviceChoice, MeritSession, ModelError, Provider, SessionOptions};

mod common;

use common::{reference_input, tiny_model as tiny};

fn cpu() -> SessionOptions {
    SessionOptions {
        device: DeviceChoice::Cpu,
        threads: 1,
        float_on_cpu: false,
    }
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
    let out = session.run(reference_input(16_000), 1, None).unwrap();
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
    let out = session.run(vec![0.01; 3 * 8_000], 3, None).unwrap();
    assert_eq!((out.batch, out.samples, out.frames), (3, 8_000, 24));
    assert_eq!(out.emotion_logits.len(), 3 * 4);
    assert_eq!(out.enhanced.len(), 3 * 8_000);
    assert_eq!(out.trajectory.map(|t| t.len()), Some(3 * 24 * 4));
    assert_eq!(session.trajectory_window_s(), Some(3.0));
    for probs in out.ser_gate.chunks(3).chain(out.se_gate.chunks(3)) {
        assert!((probs.iter().sum::<f32>() - 1.0).abs() < 1e-4);
    }
    assert!(matches!(
        session.run(vec![0.0; 10], 3, None),
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
        float_on_cpu: false,
    };
    let error = MeritSession::load(&tiny(), options).err().unwrap();
    assert!(
        matches!(error, ModelError::CudaUnavailable { .. }),
        "{error}"
    );
    let auto = SessionOptions {
        device: DeviceChoice::Auto,
        threads: 1,
        float_on_cpu: false,
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

mod analysis {
    use super::{cpu, reference_input, tiny};
    use merit_studio::model::MeritSession;
    use merit_studio::model::analysis::{AnalysisParams, Steering, analyze_signal};

    fn snr_db(reference: &[f32], estimate: &[f32]) -> f64 {
        let signal: f64 = reference.iter().map(|x| f64::from(*x).powi(2)).sum();
        let noise: f64 = reference
            .iter()
            .zip(estimate)
            .map(|(a, b)| f64::from(a - b).powi(2))
            .sum();
        10.0 * (signal / noise.max(1e-20)).log10()
    }

    #[test]
    fn short_clips_are_padded_and_say_so() {
        let mut session = MeritSession::load(&tiny(), cpu()).unwrap();
        let clip = reference_input(4_800);
        let analysis = analyze_signal(
            &mut session,
            &clip,
            None,
            &AnalysisParams::default(),
            Steering::default(),
        )
        .unwrap();
        assert_eq!(analysis.padded_from_s, Some(0.3));
        assert_eq!(analysis.enhanced.len(), clip.len());
        assert!((analysis.probs.iter().sum::<f32>() - 1.0).abs() < 1e-5);
        assert_eq!(analysis.trajectory.times_s.len(), 1);
    }

    /// The reference input repeated to `samples` samples.
    fn looped_reference(samples: usize) -> Vec<f32> {
        reference_input(16_000)
            .iter()
            .cycle()
            .take(samples)
            .copied()
            .collect()
    }

    #[test]
    fn a_steered_analysis_does_the_part_in_view_first_and_ends_the_same() {
        let mut session = MeritSession::load(&tiny(), cpu()).unwrap();
        let signal = looped_reference(95 * 16_000);
        let params = AnalysisParams {
            chunk_s: 12.0,
            overlap_s: 2.0,
            ..AnalysisParams::default()
        };
        let plain =
            analyze_signal(&mut session, &signal, None, &params, Steering::default()).unwrap();
        let focus = || Some(70.0..80.0);
        let mut partials = Vec::new();
        let mut keep = |partial| partials.push(partial);
        let steering = Steering {
            focus: Some(&focus),
            partial: Some(&mut keep),
            ..Steering::default()
        };
        let steered = analyze_signal(&mut session, &signal, None, &params, steering).unwrap();
        // Chunks are independent: the order they ran in changes nothing.
        assert_eq!(steered.enhanced, plain.enhanced);
        assert_eq!(steered.ser, plain.ser);
        assert_eq!(steered.trajectory, plain.trajectory);
        assert_eq!(steered.probs, plain.probs);
        // A model run holds as much audio as a batch of 16 trajectory windows of 3 s: four chunks
        // of 12 s. The 95 s take three runs, so two partial reports come before the last.
        let fractions: Vec<f64> = partials.iter().map(|p| p.done_fraction).collect();
        assert_eq!(fractions.len(), 2, "{fractions:?}");
        assert!(fractions.windows(2).all(|f| f[0] < f[1]));
        let first = &partials[0].so_far;
        assert!(first.enhanced.is_empty());
        let at = |t: f64| first.ser.is_analysed(first.ser.frame_at(t).unwrap());
        assert!(at(70.0) && at(79.9), "the part in view comes first");
        assert!(!at(5.0), "the start waits");
        // Its trajectory has only windows whose chunk ran, with the final analysis's values.
        assert!(!first.trajectory.times_s.is_empty());
        for (time, probs) in first.trajectory.times_s.iter().zip(&first.trajectory.probs) {
            let row = plain
                .trajectory
                .times_s
                .iter()
                .position(|t| t == time)
                .unwrap();
            assert_eq!(probs, &plain.trajectory.probs[row]);
        }
    }

    #[test]
    fn chunked_analysis_agrees_with_a_single_pass_away_from_chunk_edges() {
        let mut session = MeritSession::load(&tiny(), cpu()).unwrap();
        // 47 s: the reference signal repeated with a slow level change.
        let signal: Vec<f32> = looped_reference(47 * 16_000 + 123)
            .iter()
            .enumerate()
            .map(|(i, s)| s * (0.6 + 0.4 * (i as f32 / 200_000.0).sin()))
            .collect();
        let single = AnalysisParams {
            chunk_s: 60.0,
            ..AnalysisParams::default()
        };
        let chunked = AnalysisParams {
            chunk_s: 12.0,
            overlap_s: 2.0,
            ..AnalysisParams::default()
        };
        let whole =
            analyze_signal(&mut session, &signal, None, &single, Steering::default()).unwrap();
        let parts =
            analyze_signal(&mut session, &signal, None, &chunked, Steering::default()).unwrap();
        assert_eq!(parts.enhanced.len(), signal.len());
        assert_eq!(whole.enhanced.len(), signal.len());
        assert_eq!(parts.ser.frames(), whole.ser.frames());
        // Chunks of 12 s every 10 s: compare the middle 6 s of each chunk.
        let mut worst = f64::INFINITY;
        for chunk in 0..4 {
            let from = (chunk * 10 + 3) * 16_000;
            let to = from + 6 * 16_000;
            worst = worst.min(snr_db(&whole.enhanced[from..to], &parts.enhanced[from..to]));
        }
        assert!(
            worst > 25.0,
            "chunked vs single pass only {worst:.1} dB apart"
        );
        let gate_error = whole
            .ser
            .probs
            .iter()
            .zip(&parts.ser.probs)
            .skip(200 * 3)
            .take(250 * 3)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0_f32, f32::max);
        assert!(
            gate_error < 0.05,
            "router probabilities differ by {gate_error}"
        );
        // One-pass trajectories: every window is read whole from one chunk.
        assert_eq!(parts.trajectory.times_s, whole.trajectory.times_s);
        let trajectory_error = whole
            .trajectory
            .probs
            .iter()
            .flatten()
            .zip(parts.trajectory.probs.iter().flatten())
            .map(|(a, b)| (a - b).abs())
            .fold(0.0_f32, f32::max);
        assert!(
            trajectory_error < 0.05,
            "trajectory probabilities differ by {trajectory_error}"
        );
    }

    #[test]
    fn windows_the_model_has_no_trajectory_output_for_are_run_one_by_one() {
        let mut session = MeritSession::load(&tiny(), cpu()).unwrap();
        let signal = reference_input(16_000 * 6);
        let params = AnalysisParams {
            window_s: 2.0,
            hop_s: 1.0,
            ..AnalysisParams::default()
        };
        let analysis =
            analyze_signal(&mut session, &signal, None, &params, Steering::default()).unwrap();
        assert_eq!(analysis.trajectory.times_s, vec![1.0, 2.0, 3.0, 4.0, 5.0]);
        // The last window, run on its own, gives the last row.
        let last = session.run(signal[4 * 16_000..].to_vec(), 1, None).unwrap();
        let max = last.emotion_logits.iter().copied().fold(f32::MIN, f32::max);
        let exps: Vec<f32> = last
            .emotion_logits
            .iter()
            .map(|l| (l - max).exp())
            .collect();
        let sum: f32 = exps.iter().sum();
        for (p, e) in analysis.trajectory.probs[4].iter().zip(&exps) {
            assert!((p - e / sum).abs() < 1e-5);
        }
    }

    #[test]
    fn trajectory_windows_sit_at_their_centres() {
        let mut session = MeritSession::load(&tiny(), cpu()).unwrap();
        let signal = reference_input(16_000 * 10);
        let params = AnalysisParams {
            window_s: 3.0,
            hop_s: 0.5,
            ..AnalysisParams::default()
        };
        let analysis =
            analyze_signal(&mut session, &signal, None, &params, Steering::default()).unwrap();
        let times = &analysis.trajectory.times_s;
        assert_eq!(times.len(), 15); // starts 0, 0.5, ..., 7.0
        assert!((times[0] - 1.5).abs() < 1e-9 && (times[14] - 8.5).abs() < 1e-9);
        assert!(times.windows(2).all(|w| (w[1] - w[0] - 0.5).abs() < 1e-9));
        for row in &analysis.trajectory.probs {
            assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-5);
        }
        let total_usage: f64 = analysis.se.usage.iter().sum();
        assert!((total_usage - 1.0).abs() < 1e-9);
    }
}

#[test]
fn batch_analysis_runs_as_a_cancellable_job() {
    use merit_studio::jobs::Job;
    use merit_studio::jobs::batch::{analyze_batch, collect_inputs};
    use merit_studio::model::analysis::AnalysisParams;
    use std::sync::mpsc;

    let demo = common::demo_project();
    let (inputs, problems) = collect_inputs(&[demo]).unwrap();
    assert!(problems.is_empty() && inputs.len() == 6);
    let out = tempfile::tempdir().unwrap();
    let out_path = out.path().to_path_buf();
    let (first_done, wait_for_first) = mpsc::channel();
    let (go_on, wait_for_go) = mpsc::channel::<()>();
    let job = Job::spawn("analysis", None, move |context| {
        let mut session = MeritSession::load(&tiny(), cpu()).unwrap();
        let mut seen = 0;
        let failed = analyze_batch(
            &mut session,
            inputs,
            &out_path,
            &AnalysisParams::default(),
            None,
            context,
            |_| {
                seen += 1;
                if seen == 1 {
                    first_done.send(()).unwrap();
                    wait_for_go.recv().unwrap();
                }
            },
        );
        (seen, failed)
    })
    .unwrap();
    wait_for_first.recv().unwrap();
    assert_eq!(job.progress().total, 6);
    job.cancel();
    go_on.send(()).unwrap();
    let (seen, failed) = job.wait().unwrap();
    assert_eq!(
        (seen, failed),
        (1, 0),
        "the job went on after being cancelled"
    );
}

#[test]
fn the_shipped_compact_model_follows_the_contract() {
    let path = merit_studio::model::shipped_model_path();
    let mut session = MeritSession::load(&path, cpu()).unwrap();
    let card = session.card().clone();
    assert_eq!(card.model, "sparse-merit-compact");
    assert_eq!(card.classes, ["angry", "sad", "happy", "neutral"]);
    assert_eq!((card.n_experts, card.top_k), (4, 1));
    assert!(card.trained_on.contains("not real human emotion"));
    assert!(card.evaluation["ser_macro_f1"]["unseen/-5dB"].is_number());
    let out = session.run(reference_input(24_000), 1, None).unwrap();
    assert_eq!((out.samples, out.frames), (24_000, 74));
    // A CPU variant committed beside it must be the shipped model's own (merit.ship writes both):
    // a stale one would only warn at run time and leave every CPU user on the slower file.
    let variant = merit_studio::model::cpu_variant_path(&path);
    if variant.exists() {
        assert_eq!(session.path(), variant);
        assert_eq!(session.card().precision.as_deref(), Some("int8"));
    }
}

#[test]
fn on_the_cpu_the_int8_variant_beside_a_model_runs_in_its_place_only_when_made_from_it() {
    let folder = tempfile::tempdir().unwrap();
    let model = folder.path().join("m.onnx");
    std::fs::copy(tiny(), &model).unwrap();
    let float_hash = merit_studio::model::session::model_digest(&model).unwrap();
    let variant = merit_studio::model::cpu_variant_path(&model);
    assert_eq!(variant, folder.path().join("m.cpu-int8.onnx"));
    common::write_cpu_variant(&model, &float_hash);
    let session = MeritSession::load(&model, cpu()).unwrap();
    assert_eq!(session.path(), variant);
    assert_eq!(session.card().precision.as_deref(), Some("int8"));
    // The cache and the journal name the model chosen, whichever file runs.
    assert_eq!(session.model_hash(), float_hash);
    let float = SessionOptions {
        float_on_cpu: true,
        ..cpu()
    };
    assert_eq!(MeritSession::load(&model, float).unwrap().path(), model);

    // Made from another model (e.g. left over from the model before a retraining), or broken: the
    // float model runs.
    common::write_cpu_variant(&model, &"0".repeat(64));
    let session = MeritSession::load(&model, cpu()).unwrap();
    assert_eq!(
        (session.path(), session.card().precision.as_deref()),
        (model.as_path(), None)
    );
    std::fs::write(&variant, b"not a model").unwrap();
    assert_eq!(MeritSession::load(&model, cpu()).unwrap().path(), model);
}
