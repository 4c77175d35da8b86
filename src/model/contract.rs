//! The ONNX contract between the model pipeline (`models/training/merit/export.py`) and the studio:
//! names, ranks and dtypes of the input and outputs, and the `merit` metadata. Pure checks, so a
//! mismatching model is refused with a message that says what differs.

use serde::{Deserialize, Serialize};

pub const INPUT_NAME: &str = "waveform";
pub const OUTPUT_NAMES: [&str; 4] = ["emotion_logits", "enhanced", "ser_gate", "se_gate"];
/// Optional fifth output, `[batch, frames, classes]`: logits of the `trajectory_window_s` window
/// starting at each frame, so a whole trajectory comes from one pass.
pub const TRAJECTORY_OUTPUT: &str = "emotion_trajectory";
pub const METADATA_KEY: &str = "merit";
/// The shortest input the contract accepts (0.5 s at 16 kHz).
pub const MIN_SAMPLES: usize = crate::audio::ANALYSIS_RATE_HZ as usize / 2;
/// Ranks of the input and each output, in contract order.
const RANKS: [(&str, usize); 6] = [
    (INPUT_NAME, 2),
    ("emotion_logits", 2),
    ("enhanced", 2),
    ("ser_gate", 3),
    ("se_gate", 3),
    (TRAJECTORY_OUTPUT, 3),
];

/// What the `merit` metadata says about a model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelCard {
    pub sample_rate: u32,
    /// Class names in output order.
    pub classes: Vec<String>,
    /// Seconds between router frames.
    pub frame_hop_s: f64,
    pub n_experts: usize,
    pub top_k: usize,
    /// Model name, e.g. `sparse-merit-compact`.
    pub model: String,
    pub version: String,
    /// Window of the `emotion_trajectory` output, when the model has one.
    #[serde(default)]
    pub trajectory_window_s: Option<f64>,
    #[serde(default)]
    pub trained_on: String,
    /// Evaluation figures, as the pipeline wrote them.
    #[serde(default)]
    pub evaluation: serde_json::Value,
}

/// One input or output as the session describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorSpec {
    pub name: String,
    /// Element type, e.g. `f32`; anything else breaks the contract.
    pub element_type: String,
    /// Dimensions; -1 where dynamic.
    pub shape: Vec<i64>,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ContractError {
    #[error("no `merit` metadata (is this a Sparse MERIT model exported by models/training?)")]
    MissingMetadata,
    #[error("the `merit` metadata is not valid: {0}")]
    BadMetadata(String),
    #[error("inputs are [{found}], the contract needs [waveform]")]
    Inputs { found: String },
    #[error(
        "outputs are [{found}], the contract needs [emotion_logits, enhanced, ser_gate, se_gate] and optionally emotion_trajectory"
    )]
    Outputs { found: String },
    #[error("`{name}` has rank {found}, the contract needs {expected}")]
    Rank {
        name: String,
        found: usize,
        expected: usize,
    },
    #[error("`{name}` holds {found}, the contract needs f32")]
    ElementType { name: String, found: String },
    #[error("`{name}` has {outputs} classes but the metadata names {named}")]
    ClassCount {
        name: String,
        outputs: i64,
        named: usize,
    },
    #[error("`{name}` has {outputs} experts but the metadata says {named}")]
    ExpertCount {
        name: String,
        outputs: i64,
        named: usize,
    },
    #[error("the model expects {0} Hz audio; MERIT Studio analyses at 16000 Hz")]
    SampleRate(u32),
    #[error(
        "the metadata says router frames are {card_s} s apart, but the model's outputs are {measured_s} s apart"
    )]
    FrameHop { card_s: f64, measured_s: f64 },
}

/// Parses the `merit` metadata value.
///
/// # Errors
/// [`ContractError::BadMetadata`] naming the JSON problem or the inconsistency.
pub fn parse_card(json: &str) -> Result<ModelCard, ContractError> {
    let card: ModelCard =
        serde_json::from_str(json).map_err(|e| ContractError::BadMetadata(e.to_string()))?;
    if card.classes.is_empty() {
        return Err(ContractError::BadMetadata("no classes".into()));
    }
    if card.n_experts == 0 || card.top_k == 0 || card.top_k > card.n_experts {
        return Err(ContractError::BadMetadata(format!(
            "top_k {} with {} experts",
            card.top_k, card.n_experts
        )));
    }
    if card.frame_hop_s.is_nan() || card.frame_hop_s <= 0.0 {
        return Err(ContractError::BadMetadata(
            "frame_hop_s must be positive".into(),
        ));
    }
    if card
        .trajectory_window_s
        .is_some_and(|w| w.is_nan() || w <= 0.0)
    {
        return Err(ContractError::BadMetadata(
            "trajectory_window_s must be positive".into(),
        ));
    }
    if card.sample_rate != crate::audio::ANALYSIS_RATE_HZ {
        return Err(ContractError::SampleRate(card.sample_rate));
    }
    Ok(card)
}

fn names(specs: &[TensorSpec]) -> String {
    specs
        .iter()
        .map(|s| s.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Checks the session's inputs and outputs against the contract and the card; returns whether the
/// model has the optional one-pass trajectory output.
///
/// # Errors
/// The first [`ContractError`] found.
pub fn check_contract(
    inputs: &[TensorSpec],
    outputs: &[TensorSpec],
    card: &ModelCard,
) -> Result<bool, ContractError> {
    if inputs.len() != 1 || inputs[0].name != INPUT_NAME {
        return Err(ContractError::Inputs {
            found: names(inputs),
        });
    }
    let has_trajectory = outputs.len() == OUTPUT_NAMES.len() + 1
        && outputs[OUTPUT_NAMES.len()].name == TRAJECTORY_OUTPUT;
    if (outputs.len() != OUTPUT_NAMES.len() && !has_trajectory)
        || outputs.iter().zip(OUTPUT_NAMES).any(|(o, n)| o.name != n)
    {
        return Err(ContractError::Outputs {
            found: names(outputs),
        });
    }
    for spec in inputs.iter().chain(outputs) {
        let expected = RANKS
            .iter()
            .find(|(name, _)| *name == spec.name)
            .map_or(0, |(_, rank)| *rank);
        if spec.shape.len() != expected {
            return Err(ContractError::Rank {
                name: spec.name.clone(),
                found: spec.shape.len(),
                expected,
            });
        }
        if spec.element_type != "f32" {
            return Err(ContractError::ElementType {
                name: spec.name.clone(),
                found: spec.element_type.clone(),
            });
        }
    }
    let class_outputs = [(&outputs[0], 1)]
        .into_iter()
        .chain(outputs.get(OUTPUT_NAMES.len()).map(|t| (t, 2)));
    for (output, axis) in class_outputs {
        let classes = output.shape[axis];
        if classes >= 0 && usize::try_from(classes).ok() != Some(card.classes.len()) {
            return Err(ContractError::ClassCount {
                name: output.name.clone(),
                outputs: classes,
                named: card.classes.len(),
            });
        }
    }
    if has_trajectory && card.trajectory_window_s.is_none() {
        return Err(ContractError::BadMetadata(
            "the model has an emotion_trajectory output but no trajectory_window_s".into(),
        ));
    }
    for gate in &outputs[2..OUTPUT_NAMES.len()] {
        let experts = gate.shape[2];
        if experts >= 0 && usize::try_from(experts).ok() != Some(card.n_experts) {
            return Err(ContractError::ExpertCount {
                name: gate.name.clone(),
                outputs: experts,
                named: card.n_experts,
            });
        }
    }
    Ok(has_trajectory)
}

/// Samples between router frames, measured from the frame counts the model gives for two input
/// lengths (the difference cancels the frames its first layers lose at the edges).
///
/// # Errors
/// [`ContractError::FrameHop`] when the card's `frame_hop_s` disagrees with the measured hop (or the
/// outputs do not step by a whole number of samples).
pub fn frame_hop_samples(
    card: &ModelCard,
    (short_samples, short_frames): (usize, usize),
    (long_samples, long_frames): (usize, usize),
) -> Result<usize, ContractError> {
    let rate = f64::from(crate::audio::ANALYSIS_RATE_HZ);
    let added_samples = long_samples.saturating_sub(short_samples);
    let added_frames = long_frames.saturating_sub(short_frames);
    let measured = (added_frames > 0 && added_samples % added_frames == 0)
        .then(|| added_samples / added_frames);
    match measured {
        Some(hop) if (hop as f64 / rate - card.frame_hop_s).abs() < 1e-6 => Ok(hop),
        _ => Err(ContractError::FrameHop {
            card_s: card.frame_hop_s,
            measured_s: if added_frames == 0 {
                f64::INFINITY
            } else {
                added_samples as f64 / added_frames as f64 / rate
            },
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(name: &str, shape: &[i64]) -> TensorSpec {
        TensorSpec {
            name: name.into(),
            element_type: "f32".into(),
            shape: shape.to_vec(),
        }
    }

    fn card() -> ModelCard {
        parse_card(
            r#"{"sample_rate": 16000, "classes": ["angry", "sad", "happy", "neutral"],
                "frame_hop_s": 0.02, "n_experts": 3, "top_k": 1, "model": "m", "version": "1"}"#,
        )
        .unwrap()
    }

    fn good() -> (Vec<TensorSpec>, Vec<TensorSpec>) {
        (
            vec![spec("waveform", &[-1, -1])],
            vec![
                spec("emotion_logits", &[-1, 4]),
                spec("enhanced", &[-1, -1]),
                spec("ser_gate", &[-1, -1, 3]),
                spec("se_gate", &[-1, -1, 3]),
            ],
        )
    }

    #[test]
    fn a_conforming_model_passes() {
        let (inputs, outputs) = good();
        assert_eq!(check_contract(&inputs, &outputs, &card()), Ok(false));
    }

    #[test]
    fn the_trajectory_output_is_optional_and_checked() {
        let (inputs, mut outputs) = good();
        outputs.push(spec(TRAJECTORY_OUTPUT, &[-1, -1, 4]));
        assert!(matches!(
            check_contract(&inputs, &outputs, &card()),
            Err(ContractError::BadMetadata(_))
        ));
        let mut with_window = card();
        with_window.trajectory_window_s = Some(3.0);
        assert_eq!(check_contract(&inputs, &outputs, &with_window), Ok(true));
        outputs[4].shape = vec![-1, -1, 5];
        assert!(matches!(
            check_contract(&inputs, &outputs, &with_window),
            Err(ContractError::ClassCount { name, .. }) if name == TRAJECTORY_OUTPUT
        ));
        outputs[4].name = "extra".into();
        assert!(matches!(
            check_contract(&inputs, &outputs, &with_window),
            Err(ContractError::Outputs { .. })
        ));
    }

    #[test]
    fn each_difference_is_named() {
        let (inputs, mut outputs) = good();
        outputs[0].name = "logits".into();
        let error = check_contract(&inputs, &outputs, &card()).unwrap_err();
        assert!(error.to_string().contains("logits, enhanced"), "{error}");

        let (inputs, mut outputs) = good();
        outputs[0].shape = vec![-1, 8];
        assert_eq!(
            check_contract(&inputs, &outputs, &card()),
            Err(ContractError::ClassCount {
                name: "emotion_logits".into(),
                outputs: 8,
                named: 4
            })
        );

        let (mut inputs, outputs) = good();
        inputs[0].shape = vec![-1, -1, 1];
        assert!(matches!(
            check_contract(&inputs, &outputs, &card()),
            Err(ContractError::Rank { .. })
        ));

        let (mut inputs, outputs) = good();
        inputs[0].element_type = "f16".into();
        assert!(matches!(
            check_contract(&inputs, &outputs, &card()),
            Err(ContractError::ElementType { .. })
        ));

        let (inputs, mut outputs) = good();
        outputs[3].shape = vec![-1, -1, 5];
        assert!(matches!(
            check_contract(&inputs, &outputs, &card()),
            Err(ContractError::ExpertCount { .. })
        ));
    }

    #[test]
    fn metadata_problems_are_reported() {
        assert!(matches!(
            parse_card("{"),
            Err(ContractError::BadMetadata(_))
        ));
        let wrong_rate = r#"{"sample_rate": 8000, "classes": ["a"], "frame_hop_s": 0.02,
            "n_experts": 2, "top_k": 1, "model": "m", "version": "1"}"#;
        assert_eq!(parse_card(wrong_rate), Err(ContractError::SampleRate(8000)));
        let bad_k = r#"{"sample_rate": 16000, "classes": ["a"], "frame_hop_s": 0.02,
            "n_experts": 2, "top_k": 3, "model": "m", "version": "1"}"#;
        assert!(matches!(
            parse_card(bad_k),
            Err(ContractError::BadMetadata(_))
        ));
    }

    #[test]
    fn the_cards_frame_hop_must_match_the_models_outputs() {
        let mut card = parse_card(
            r#"{"sample_rate": 16000, "classes": ["a"], "frame_hop_s": 0.02,
            "n_experts": 2, "top_k": 1, "model": "m", "version": "1"}"#,
        )
        .unwrap();
        // A WavLM-style front end: 8,000 samples give 24 frames, 16,000 give 49.
        assert_eq!(frame_hop_samples(&card, (8_000, 24), (16_000, 49)), Ok(320));
        card.frame_hop_s = 0.01;
        assert!(matches!(
            frame_hop_samples(&card, (8_000, 24), (16_000, 49)),
            Err(ContractError::FrameHop { measured_s, .. }) if (measured_s - 0.02).abs() < 1e-9
        ));
        assert!(frame_hop_samples(&card, (8_000, 24), (16_000, 24)).is_err());
    }
}
