//! The ONNX contract between the model pipeline (`models/training/merit/export.py`) and the studio:
//! names, ranks and dtypes of the input and outputs, and the `merit` metadata. Pure checks, so a
//! mismatching model is refused with a message that says what differs.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub const INPUT_NAME: &str = "waveform";
pub const OUTPUT_NAMES: [&str; 4] = ["emotion_logits", "enhanced", "ser_gate", "se_gate"];
/// Optional fifth output, `[batch, frames, classes]`: logits of the `trajectory_window_s` window
/// starting at each frame, so a whole trajectory comes from one pass.
pub const TRAJECTORY_OUTPUT: &str = "emotion_trajectory";
/// A speaker-relative model's second input, `[batch, statistics]`: the mean emotion statistics of the
/// speaker's other recordings; NaN values take the population reference stored in the model.
pub const REFERENCE_INPUT: &str = "speaker_reference";
/// A speaker-relative model's last output, `[batch, statistics]`: the pooled statistics its emotion
/// head classified (what a speaker reference is the mean of).
pub const STATISTICS_OUTPUT: &str = "emotion_statistics";
pub const METADATA_KEY: &str = "merit";
/// The shortest input the contract accepts (0.5 s at 16 kHz).
pub const MIN_SAMPLES: usize = crate::audio::ANALYSIS_RATE_HZ as usize / 2;
/// Ranks of the inputs and each output, in contract order.
const RANKS: [(&str, usize); 8] = [
    (INPUT_NAME, 2),
    (REFERENCE_INPUT, 2),
    (STATISTICS_OUTPUT, 2),
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
    /// Whether the emotion head classifies against a speaker reference (the model then has the
    /// `speaker_reference` input and the `emotion_statistics` output).
    #[serde(default)]
    pub speaker_relative: bool,
    /// A speaker-relative model's mean statistics of its training recordings by gender (`female`,
    /// `male`): the reference of a recording of known gender without one of its speaker.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub gender_references: BTreeMap<String, Vec<f32>>,
    /// `fp16` for a model made for CUDA (`convert_official.py --fp16`), `int8` for one whose matrix
    /// products run in int8 on the CPU (`merit.cpu_int8`); absent for float32 weights.
    #[serde(default)]
    pub precision: Option<String>,
    /// For a CPU variant shipped beside its float model (`X.cpu-int8.onnx` beside `X.onnx`): the
    /// blake3 of the float model it was quantised from, which the CPU runs it in place of.
    #[serde(default)]
    pub cpu_variant_of: Option<String>,
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
    #[error("inputs are [{found}], the contract needs [{needed}]")]
    Inputs { found: String, needed: String },
    #[error(
        "outputs are [{found}], the contract needs [emotion_logits, enhanced, ser_gate, se_gate], optionally emotion_trajectory, and emotion_statistics when the metadata says speaker_relative"
    )]
    Outputs { found: String },
    #[error(
        "`{name}` has {found} values per row, `speaker_reference` needs a fixed number ({expected})"
    )]
    StatisticsSize {
        name: String,
        found: i64,
        expected: String,
    },
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

/// What a model that keeps the contract offers beyond the required outputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContractShape {
    /// The one-pass `emotion_trajectory` output.
    pub has_trajectory: bool,
    /// A speaker-relative model's statistics width (its `speaker_reference` row).
    pub statistics_size: Option<usize>,
}

/// Checks the session's inputs and outputs against the contract and the card; returns which
/// optional parts the model has.
///
/// # Errors
/// The first [`ContractError`] found.
pub fn check_contract(
    inputs: &[TensorSpec],
    outputs: &[TensorSpec],
    card: &ModelCard,
) -> Result<ContractShape, ContractError> {
    let needed: &[&str] = if card.speaker_relative {
        &[INPUT_NAME, REFERENCE_INPUT]
    } else {
        &[INPUT_NAME]
    };
    if inputs.len() != needed.len() || inputs.iter().zip(needed).any(|(i, n)| i.name != *n) {
        return Err(ContractError::Inputs {
            found: names(inputs),
            needed: needed.join(", "),
        });
    }
    // After the required outputs: the trajectory if the model has one, then the statistics of a
    // speaker-relative model.
    let mut optional = outputs
        .iter()
        .skip(OUTPUT_NAMES.len())
        .map(|o| o.name.as_str());
    let mut next = optional.next();
    let has_trajectory = next == Some(TRAJECTORY_OUTPUT);
    if has_trajectory {
        next = optional.next();
    }
    let statistics_expected = card.speaker_relative.then_some(STATISTICS_OUTPUT);
    if outputs.len() < OUTPUT_NAMES.len()
        || outputs.iter().zip(OUTPUT_NAMES).any(|(o, n)| o.name != n)
        || next != statistics_expected
        || optional.next().is_some()
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
        .chain(has_trajectory.then(|| (&outputs[OUTPUT_NAMES.len()], 2)));
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
    Ok(ContractShape {
        has_trajectory,
        statistics_size: statistics_size(inputs, outputs, card)?,
    })
}

/// A speaker-relative model's reference width: fixed on the input, and the statistics output agrees.
fn statistics_size(
    inputs: &[TensorSpec],
    outputs: &[TensorSpec],
    card: &ModelCard,
) -> Result<Option<usize>, ContractError> {
    if !card.speaker_relative {
        if !card.gender_references.is_empty() {
            return Err(ContractError::BadMetadata(
                "gender_references belong to a speaker_relative model".into(),
            ));
        }
        return Ok(None);
    }
    let reference = inputs[1].shape[1];
    let size = usize::try_from(reference)
        .ok()
        .filter(|&size| size > 0)
        .ok_or_else(|| ContractError::StatisticsSize {
            name: REFERENCE_INPUT.into(),
            found: reference,
            expected: "a fixed positive number".into(),
        })?;
    let statistics = outputs[outputs.len() - 1].shape[1];
    if statistics >= 0 && statistics != reference {
        return Err(ContractError::StatisticsSize {
            name: STATISTICS_OUTPUT.into(),
            found: statistics,
            expected: reference.to_string(),
        });
    }
    for (gender, values) in &card.gender_references {
        if values.len() != size || values.iter().any(|v| !v.is_finite()) {
            return Err(ContractError::StatisticsSize {
                name: format!("gender_references.{gender}"),
                found: i64::try_from(values.len()).unwrap_or(i64::MAX),
                expected: format!("{size} finite values"),
            });
        }
    }
    Ok(Some(size))
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
mod tests;
