//! A loaded Sparse MERIT model: an ONNX Runtime session on CPU or CUDA, checked against the contract.

mod builder;
mod files;

use builder::session_builder;
use files::{checked, checked_digest, external_data_path};
pub use files::{cpu_variant_path, model_digest};

use std::path::{Path, PathBuf};

use ort::session::Session;
use ort::session::builder::SessionBuilder;
use ort::value::{Tensor, ValueType};

use crate::model::contract::{self, ContractError, ModelCard, TensorSpec};
use crate::model::onnx_file::OnnxFileError;
use crate::model::runtime::{self, RuntimeError};

/// Which execution provider to ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviceChoice {
    /// CUDA if it registers, else the CPU.
    #[default]
    Auto,
    Cpu,
    Cuda,
}

/// The execution provider that actually runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    Cpu,
    Cuda,
}

impl std::fmt::Display for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Cpu => "cpu",
            Self::Cuda => "cuda",
        })
    }
}

#[derive(Debug, Clone, Copy, Default)]
pub struct SessionOptions {
    pub device: DeviceChoice,
    /// Intra-op threads; 0 lets ONNX Runtime choose.
    pub threads: usize,
    /// Runs the chosen file on the CPU too, not its int8 variant ([`cpu_variant_path`]).
    pub float_on_cpu: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    #[error("{}: cannot read the model: {error}", path.display())]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{}: not a usable ONNX model: {reason}", path.display())]
    NotOnnx { path: PathBuf, reason: String },
    #[error("{}: refused before loading: {error}", path.display())]
    Refused { path: PathBuf, error: OnnxFileError },
    #[error("{}: breaks the Sparse MERIT contract: {error}", path.display())]
    Contract { path: PathBuf, error: ContractError },
    #[error("CUDA was asked for but is not available: {reason}")]
    CudaUnavailable { reason: String },
    #[error("inference failed: {0}")]
    Inference(String),
    /// Stopped on request: not a failure.
    #[error("cancelled")]
    Cancelled,
}

/// Outputs of one batch, flattened row-major with their shapes.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchOutputs {
    pub batch: usize,
    pub samples: usize,
    pub frames: usize,
    /// `[batch, classes]`
    pub emotion_logits: Vec<f32>,
    /// `[batch, samples]`
    pub enhanced: Vec<f32>,
    /// `[batch, frames, experts]`
    pub ser_gate: Vec<f32>,
    pub se_gate: Vec<f32>,
    /// `[batch, frames, classes]`, when the model has the one-pass trajectory output.
    pub trajectory: Option<Vec<f32>>,
    /// `[batch, statistics]`, the pooled emotion statistics of a speaker-relative model.
    pub statistics: Option<Vec<f32>>,
}

pub struct MeritSession {
    session: Session,
    card: ModelCard,
    provider: Provider,
    path: PathBuf,
    shape: contract::ContractShape,
    /// Samples between router frames, measured from the model's outputs at load.
    frame_hop_samples: usize,
    /// blake3 of the model (and its external weights): results cached under one model are never
    /// reused for another.
    model_hash: String,
    /// Bytes of the model file and its external weights.
    weight_bytes: u64,
}

/// Over this much weight (WavLM Large: 2.6 GB), a CPU run holds one chunk of at most 10 s: on the
/// authors' model, two 20 s chunks per run peaked 0.57 GB above one, one of 20 s 0.25 GB above 10 s.
const LARGE_MODEL_BYTES: u64 = 1 << 30;
const LARGE_MODEL_CHUNK_S: f64 = 10.0;

fn describe(name: &str, dtype: &ValueType) -> TensorSpec {
    match dtype {
        ValueType::Tensor { ty, shape, .. } => TensorSpec {
            name: name.to_owned(),
            element_type: ty.to_string(),
            shape: shape.to_vec(),
        },
        other => TensorSpec {
            name: name.to_owned(),
            element_type: format!("{other:?}"),
            shape: Vec::new(),
        },
    }
}

impl MeritSession {
    /// Loads and checks a model. With [`DeviceChoice::Auto`], CUDA is tried first and the CPU used if
    /// it does not register; [`MeritSession::provider`] says which one runs. On the CPU, the model's
    /// int8 variant beside it ([`cpu_variant_path`]) runs in its place when it was quantised from this
    /// very file (unless [`SessionOptions::float_on_cpu`]); [`MeritSession::path`] names the file that
    /// runs, [`MeritSession::model_hash`] stays the chosen model's.
    ///
    /// # Errors
    /// [`ModelError`]: no runtime, unreadable or non-ONNX file, contract mismatch, CUDA unavailable.
    pub fn load(path: &Path, options: SessionOptions) -> Result<Self, ModelError> {
        let runtime = runtime::initialise()?;
        let model_hash = checked_digest(path)?;
        let (mut builder, provider) = session_builder(runtime, options, path)?;
        let variant = cpu_variant_path(path);
        if provider == Provider::Cpu && !options.float_on_cpu && variant.is_file() {
            // The card is compared before the frame-hop runs: a stale variant costs one load only.
            // The variant keeps the chosen model's hash, so its own file is never hashed.
            let loaded = checked(&variant)
                .and_then(|()| Self::commit(&variant, builder, provider, model_hash.clone()));
            match loaded {
                Ok(loaded)
                    if loaded.card.cpu_variant_of.as_deref() == Some(model_hash.as_str()) =>
                {
                    tracing::info!(
                        "on the CPU, {} runs in place of {}",
                        variant.display(),
                        path.display()
                    );
                    return loaded.measured();
                }
                Ok(_) => tracing::warn!(
                    "{} was not quantised from {}; the float model runs",
                    variant.display(),
                    path.display()
                ),
                Err(error) => tracing::warn!("{error}; the float model runs"),
            }
            let on_cpu = SessionOptions {
                device: DeviceChoice::Cpu,
                ..options
            };
            builder = session_builder(runtime, on_cpu, path)?.0;
        }
        Self::commit(path, builder, provider, model_hash)?.measured()
    }

    /// The session of the (checked) file at `path` from `builder`, checked against the contract;
    /// its frame hop is measured by [`Self::measured`].
    fn commit(
        path: &Path,
        mut builder: SessionBuilder,
        provider: Provider,
        model_hash: String,
    ) -> Result<Self, ModelError> {
        let not_onnx = |reason: String| ModelError::NotOnnx {
            path: path.to_path_buf(),
            reason,
        };
        // From the file, not from memory: a large model's weights sit in `<model>.data` beside it,
        // which ONNX Runtime finds relative to the model's path.
        let session = builder
            .commit_from_file(path)
            .map_err(|e| not_onnx(e.to_string()))?;
        let contract_error = |error| ModelError::Contract {
            path: path.to_path_buf(),
            error,
        };
        let metadata = session
            .metadata()
            .map_err(|e| not_onnx(e.to_string()))?
            .custom(contract::METADATA_KEY)
            .ok_or(ContractError::MissingMetadata)
            .map_err(contract_error)?;
        let card = contract::parse_card(&metadata).map_err(contract_error)?;
        let inputs: Vec<_> = session
            .inputs()
            .iter()
            .map(|o| describe(o.name(), o.dtype()))
            .collect();
        let outputs: Vec<_> = session
            .outputs()
            .iter()
            .map(|o| describe(o.name(), o.dtype()))
            .collect();
        let shape = contract::check_contract(&inputs, &outputs, &card).map_err(contract_error)?;
        if provider == Provider::Cpu && card.precision.as_deref() == Some("fp16") {
            tracing::warn!(
                "{}: an fp16 model is made for CUDA; on the CPU it runs slower than its float32 or int8 conversion",
                path.display()
            );
        }
        let file_bytes = |file: &Path| std::fs::metadata(file).map_or(0, |m| m.len());
        let weight_bytes = file_bytes(path) + file_bytes(&external_data_path(path));
        Ok(Self {
            session,
            card,
            provider,
            path: path.to_path_buf(),
            shape,
            // Replaced by `measured`, which runs the session.
            frame_hop_samples: 1,
            model_hash,
            weight_bytes,
        })
    }

    fn measured(mut self) -> Result<Self, ModelError> {
        self.frame_hop_samples = self.measure_frame_hop()?;
        Ok(self)
    }

    /// Runs two silent inputs of the contract's minimum length and twice that, and checks the
    /// card's `frame_hop_s` against the frame rate they give.
    fn measure_frame_hop(&mut self) -> Result<usize, ModelError> {
        let short = contract::MIN_SAMPLES;
        let frames_of = |session: &mut Self, samples: usize| {
            session
                .run(vec![0.0; samples], 1, None)
                .map(|out| out.frames)
        };
        let short_frames = frames_of(self, short)?;
        let long_frames = frames_of(self, 2 * short)?;
        contract::frame_hop_samples(&self.card, (short, short_frames), (2 * short, long_frames))
            .map_err(|error| ModelError::Contract {
                path: self.path.clone(),
                error,
            })
    }

    /// Samples between router frames (checked against the card when the model was loaded).
    #[must_use]
    pub fn frame_hop_samples(&self) -> usize {
        self.frame_hop_samples
    }

    #[must_use]
    pub fn card(&self) -> &ModelCard {
        &self.card
    }

    #[must_use]
    pub fn provider(&self) -> Provider {
        self.provider
    }

    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The most chunks one run may hold: one for a large model on the CPU, where memory, not the
    /// batch, is what limits a laptop.
    #[must_use]
    pub fn chunks_per_run_limit(&self) -> Option<usize> {
        self.is_large_on_cpu().then_some(1)
    }

    /// The chunk length analyses use when `requested_s` is asked for: at most 10 s for a large
    /// model on the CPU, for the same reason (activations grow with the chunk).
    #[must_use]
    pub fn chunk_seconds(&self, requested_s: f64) -> f64 {
        let limit = self.is_large_on_cpu().then_some(LARGE_MODEL_CHUNK_S);
        limit.map_or(requested_s, |limit| requested_s.min(limit))
    }

    fn is_large_on_cpu(&self) -> bool {
        self.provider == Provider::Cpu && self.weight_bytes > LARGE_MODEL_BYTES
    }

    /// The window of the model's one-pass trajectory output, if it has one.
    #[must_use]
    pub fn trajectory_window_s(&self) -> Option<f64> {
        self.card
            .trajectory_window_s
            .filter(|_| self.shape.has_trajectory)
    }

    /// A speaker-relative model's statistics width: the length of a speaker reference, and of the
    /// per-recording statistics its analyses carry. `None` for other models.
    #[must_use]
    pub fn statistics_size(&self) -> Option<usize> {
        self.shape.statistics_size
    }

    /// blake3 hex digest of the model file (and its external weights).
    #[must_use]
    pub fn model_hash(&self) -> &str {
        &self.model_hash
    }

    /// Runs a batch of equal-length 16 kHz mono windows (`batch * samples` values, row-major). A
    /// speaker-relative model classifies every window against `reference` (one row of
    /// [`Self::statistics_size`] values), or against its population reference without one; other
    /// models ignore it.
    ///
    /// # Errors
    /// [`ModelError::Inference`] when ONNX Runtime fails, the reference has the wrong length, or the
    /// model returns shapes outside the contract.
    pub fn run(
        &mut self,
        waveforms: Vec<f32>,
        batch: usize,
        reference: Option<&[f32]>,
    ) -> Result<BatchOutputs, ModelError> {
        let inference = |e: &dyn std::fmt::Display| ModelError::Inference(e.to_string());
        if batch == 0 || !waveforms.len().is_multiple_of(batch) {
            return Err(ModelError::Inference(format!(
                "{} samples do not split into {batch} equal windows",
                waveforms.len()
            )));
        }
        let samples = waveforms.len() / batch;
        let shape = [batch as i64, samples as i64];
        let input = Tensor::from_array((shape, waveforms)).map_err(|e| inference(&e))?;
        let outputs = match self.shape.statistics_size {
            None => self
                .session
                .run(ort::inputs![contract::INPUT_NAME => input]),
            Some(size) => {
                let row = match reference {
                    Some(row) if row.len() == size => row.to_vec(),
                    Some(row) => {
                        return Err(ModelError::Inference(format!(
                            "a speaker reference of {} values; the model needs {size}",
                            row.len()
                        )));
                    }
                    None => vec![f32::NAN; size],
                };
                let rows = Tensor::from_array(([batch as i64, size as i64], row.repeat(batch)))
                    .map_err(|e| inference(&e))?;
                self.session.run(ort::inputs![
                    contract::INPUT_NAME => input,
                    contract::REFERENCE_INPUT => rows
                ])
            }
        }
        .map_err(|e| inference(&e))?;
        let extract =
            |name: &str, expected_len: Option<usize>| -> Result<(Vec<i64>, Vec<f32>), ModelError> {
                let (shape, data) = outputs[name]
                    .try_extract_tensor::<f32>()
                    .map_err(|e| inference(&e))?;
                if expected_len.is_some_and(|len| len != data.len()) {
                    return Err(ModelError::Inference(format!(
                        "`{name}` has shape {:?}, outside the contract",
                        shape.to_vec()
                    )));
                }
                Ok((shape.to_vec(), data.to_vec()))
            };
        let classes = self.card.classes.len();
        let (_, emotion_logits) = extract("emotion_logits", Some(batch * classes))?;
        let (_, enhanced) = extract("enhanced", Some(batch * samples))?;
        let (gate_shape, ser_gate) = extract("ser_gate", None)?;
        let frames = usize::try_from(gate_shape.get(1).copied().unwrap_or(0)).unwrap_or(0);
        let gate_len = batch * frames * self.card.n_experts;
        if ser_gate.len() != gate_len {
            return Err(ModelError::Inference(format!(
                "`ser_gate` has shape {gate_shape:?}, outside the contract"
            )));
        }
        let (_, se_gate) = extract("se_gate", Some(gate_len))?;
        let trajectory = if self.shape.has_trajectory {
            Some(extract(contract::TRAJECTORY_OUTPUT, Some(batch * frames * classes))?.1)
        } else {
            None
        };
        let statistics = match self.shape.statistics_size {
            Some(size) => Some(extract(contract::STATISTICS_OUTPUT, Some(batch * size))?.1),
            None => None,
        };
        Ok(BatchOutputs {
            batch,
            samples,
            frames,
            emotion_logits,
            enhanced,
            ser_gate,
            se_gate,
            trajectory,
            statistics,
        })
    }
}
