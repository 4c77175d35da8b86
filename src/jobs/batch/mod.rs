//! Batch analysis of a collection: which files, which shard, and what each file's results are on
//! disk (`results.jsonl` rows, enhanced WAVs, router-probability `.npy` sidecars). One bad file
//! gives an error row; the batch goes on.

use std::path::{Path, PathBuf};

use serde_json::json;

use super::cache::AnalysisCache;
use crate::audio::{ANALYSIS_RATE_HZ, AudioError, DecodeOptions, decode_file, wav};
use crate::model::analysis::{
    AnalysisParams, RouterTrace, SignalAnalysis, Steering, analyze_signal,
};
use crate::model::{MeritSession, ModelError};
use crate::project::{Collection, Project, ProjectError};

/// One file to analyse: where it is and the relative path its outputs mirror.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchInput {
    /// Position in the whole input list (kept through sharding, so shards merge in order).
    pub index: usize,
    pub path: PathBuf,
    /// As listed by its folder or manifest, or as given on the command line.
    pub listed: String,
}

/// Expands files, folders, manifests and projects into the list of files, in order. Problems in
/// collections (missing files, malformed rows) are returned alongside.
///
/// # Errors
/// A folder, manifest or project that cannot be opened at all.
pub fn collect_inputs(inputs: &[PathBuf]) -> Result<(Vec<BatchInput>, Vec<String>), ProjectError> {
    let mut files = Vec::new();
    let mut problems = Vec::new();
    for input in inputs {
        if input.is_file() && crate::audio::has_audio_extension(input) {
            files.push((input.clone(), input.to_string_lossy().into_owned()));
            continue;
        }
        let project = Project::open(input)?;
        let collection = Collection::load(&project);
        problems.extend(collection.issues.iter().map(ToString::to_string));
        files.extend(
            collection
                .recordings
                .into_iter()
                .map(|r| (r.path, r.listed_path)),
        );
    }
    let inputs = files
        .into_iter()
        .enumerate()
        .map(|(index, (path, listed))| BatchInput {
            index,
            path,
            listed,
        })
        .collect();
    Ok((inputs, problems))
}

/// A shard `k` of `n` (1-based): files whose listed path hashes to it, so every machine of an array
/// job picks the same split without coordination, and the shards' union is the whole.
#[must_use]
pub fn shard(inputs: Vec<BatchInput>, k: usize, n: usize) -> Vec<BatchInput> {
    if n <= 1 {
        return inputs;
    }
    inputs
        .into_iter()
        .filter(|input| {
            let hash = blake3::hash(input.listed.as_bytes());
            let mut bytes = [0_u8; 8];
            bytes.copy_from_slice(&hash.as_bytes()[..8]);
            (u64::from_le_bytes(bytes) % n as u64) as usize == k - 1
        })
        .collect()
}

/// What is wrong with a `K/N` shard text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShardError {
    #[error("shard `{0}` is not of the form K/N")]
    NotKOverN(String),
    #[error("shard {part} `{text}` is not a number")]
    NotANumber { part: &'static str, text: String },
    #[error("shard {k}/{n}: need 1 <= K <= N")]
    OutOfRange { k: usize, n: usize },
}

/// Parses `K/N` (1 <= K <= N).
///
/// # Errors
/// [`ShardError`] saying what is wrong with the text.
pub fn parse_shard(text: &str) -> Result<(usize, usize), ShardError> {
    let (k, n) = text
        .split_once('/')
        .ok_or_else(|| ShardError::NotKOverN(text.to_owned()))?;
    let number = |part: &'static str, text: &str| {
        text.trim()
            .parse::<usize>()
            .map_err(|_| ShardError::NotANumber {
                part,
                text: text.to_owned(),
            })
    };
    let (k, n) = (number("index", k)?, number("count", n)?);
    if n == 0 || k == 0 || k > n {
        return Err(ShardError::OutOfRange { k, n });
    }
    Ok((k, n))
}

/// Why one file has no analysis. Every variant names the file, except a cancel, which is not a
/// failure (the caller asked for it).
#[derive(Debug, thiserror::Error)]
pub enum AnalyzeError {
    #[error("{}: cannot read the file: {error}", path.display())]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error(transparent)]
    Decode(AudioError),
    /// The model could not be loaded (it names the model file).
    #[error(transparent)]
    Model(ModelError),
    #[error("{}: {error}", path.display())]
    Inference { path: PathBuf, error: ModelError },
    #[error("{}: cannot write the enhanced audio: {error}", path.display())]
    WriteAudio { path: PathBuf, error: hound::Error },
    #[error("{}: cannot write the router probabilities: {error}", path.display())]
    WriteGate {
        path: PathBuf,
        error: ndarray_npy::WriteNpyError,
    },
    #[error("{}: {error}", path.display())]
    CreateFolder {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error(transparent)]
    Internal(super::FilePanicked),
    #[error("cancelled")]
    Cancelled,
}

impl AnalyzeError {
    /// Whether the analysis stopped because it was asked to (not a failure).
    #[must_use]
    pub fn is_cancelled(&self) -> bool {
        matches!(self, Self::Cancelled)
    }
}

impl From<AudioError> for AnalyzeError {
    fn from(error: AudioError) -> Self {
        match error {
            AudioError::Cancelled { .. } => Self::Cancelled,
            other => Self::Decode(other),
        }
    }
}

impl From<ModelError> for AnalyzeError {
    fn from(error: ModelError) -> Self {
        match error {
            ModelError::Cancelled => Self::Cancelled,
            other => Self::Model(other),
        }
    }
}

/// The output files of one analysed file, relative to the batch's output folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputFiles {
    pub enhanced: PathBuf,
    pub ser_gate: PathBuf,
    pub se_gate: PathBuf,
}

/// What analysing one file produced.
pub struct FileOutcome {
    pub input: BatchInput,
    pub result: Result<(SignalAnalysis, OutputFiles), AnalyzeError>,
    /// The analysis came from the cache.
    pub cached: bool,
}

fn write_gate(path: &Path, trace: &RouterTrace) -> Result<(), AnalyzeError> {
    ndarray_npy::write_npy(path, &trace.probs).map_err(|error| AnalyzeError::WriteGate {
        path: path.to_path_buf(),
        error,
    })
}

/// Decodes and analyses one file, or takes its analysis from `cache` (keyed by the file's content,
/// the model and the parameters); returns it and whether it came from the cache.
///
/// # Errors
/// [`AnalyzeError`] naming the file: unreadable, undecodable, or inference failed; or
/// [`AnalyzeError::Cancelled`].
pub fn analyze_path(
    session: &mut MeritSession,
    path: &Path,
    params: &AnalysisParams,
    cache: Option<&AnalysisCache>,
    cancel: Option<&std::sync::atomic::AtomicBool>,
) -> Result<(SignalAnalysis, bool), AnalyzeError> {
    analyze_recording(session, path, None, params, cache, Steering::cancel(cancel))
}

/// [`analyze_path`], given the recording's 16 kHz mono signal when the caller has already decoded
/// it (the window has, for its waveform): then the file is read only to hash it for the cache,
/// never decoded a second time.
///
/// # Errors
/// As [`analyze_path`].
pub fn analyze_recording(
    session: &mut MeritSession,
    path: &Path,
    decoded: Option<&[f32]>,
    params: &AnalysisParams,
    cache: Option<&AnalysisCache>,
    steering: Steering<'_>,
) -> Result<(SignalAnalysis, bool), AnalyzeError> {
    let audio_hash = cache
        .map(|_| {
            crate::fsio::blake3_of_files(&[path]).map_err(|error| AnalyzeError::Read {
                path: path.to_path_buf(),
                error,
            })
        })
        .transpose()?;
    if let Some(hit) = cache
        .zip(audio_hash.as_deref())
        .and_then(|(cache, hash)| cache.load(hash, session.model_hash(), params))
    {
        if let Some(cache) = cache {
            cache.remember(path, session.model_hash(), params, &hit);
        }
        return Ok((hit, true));
    }
    let decoded_here;
    let signal = match decoded {
        Some(signal) => signal,
        None => {
            decoded_here = decode_file(
                path,
                DecodeOptions {
                    keep_original: false,
                    cancel: steering.cancel,
                },
            )?
            .analysis;
            &decoded_here
        }
    };
    let analysis =
        analyze_signal(session, signal, params, steering).map_err(|error| match error {
            ModelError::Cancelled => AnalyzeError::Cancelled,
            error => AnalyzeError::Inference {
                path: path.to_path_buf(),
                error,
            },
        })?;
    if let (Some(cache), Some(hash)) = (cache, audio_hash.as_deref()) {
        cache.store(hash, session.model_hash(), params, &analysis);
        cache.remember(path, session.model_hash(), params, &analysis);
    }
    Ok((analysis, false))
}

/// Decodes, analyses and writes one file's outputs under `out`.
pub fn analyze_file(
    session: &mut MeritSession,
    input: BatchInput,
    out: &Path,
    params: &AnalysisParams,
    cache: Option<&AnalysisCache>,
) -> FileOutcome {
    let mut cached = false;
    let result = (|| {
        let (analysis, from_cache) = analyze_path(session, &input.path, params, cache, None)?;
        cached = from_cache;
        let stem = crate::fsio::safe_relative(&input.listed);
        let files = OutputFiles {
            enhanced: Path::new("enhanced").join(&stem).with_extension("wav"),
            ser_gate: Path::new("gates").join(&stem).with_extension("ser.npy"),
            se_gate: Path::new("gates").join(&stem).with_extension("se.npy"),
        };
        let enhanced = out.join(&files.enhanced);
        wav::write_mono_f32(&enhanced, &analysis.enhanced, ANALYSIS_RATE_HZ).map_err(|error| {
            AnalyzeError::WriteAudio {
                path: enhanced.clone(),
                error,
            }
        })?;
        if let Some(folder) = out.join(&files.ser_gate).parent() {
            std::fs::create_dir_all(folder).map_err(|error| AnalyzeError::CreateFolder {
                path: folder.to_path_buf(),
                error,
            })?;
        }
        write_gate(&out.join(&files.ser_gate), &analysis.ser)?;
        write_gate(&out.join(&files.se_gate), &analysis.se)?;
        Ok((analysis, files))
    })();
    FileOutcome {
        input,
        result,
        cached,
    }
}

/// Analyses `inputs` in order, one progress unit per file, handing each outcome to `on_outcome`
/// (which writes it somewhere). Stops early, between files, when the job is cancelled; returns how
/// many files failed.
pub fn analyze_batch(
    session: &mut MeritSession,
    inputs: Vec<BatchInput>,
    out: &Path,
    params: &AnalysisParams,
    cache: Option<&AnalysisCache>,
    context: &super::JobContext,
    mut on_outcome: impl FnMut(&FileOutcome),
) -> usize {
    context.set_total(inputs.len() as u64);
    let mut failed = 0;
    for input in inputs {
        if context.is_cancelled() {
            break;
        }
        let path = input.path.clone();
        let outcome = super::contain_panic(&path, || {
            analyze_file(session, input.clone(), out, params, cache)
        })
        .unwrap_or_else(|panicked| FileOutcome {
            input,
            result: Err(AnalyzeError::Internal(panicked)),
            cached: false,
        });
        failed += usize::from(outcome.result.is_err());
        on_outcome(&outcome);
        context.advance(1);
    }
    failed
}

/// The `results.jsonl` row for one file (see the README for the format).
#[must_use]
pub fn result_row(outcome: &FileOutcome) -> serde_json::Value {
    match &outcome.result {
        Ok((analysis, files)) => {
            let probs: serde_json::Map<String, serde_json::Value> = analysis
                .classes
                .iter()
                .zip(&analysis.probs)
                .map(|(class, p)| (class.clone(), json!(p)))
                .collect();
            let labels: Vec<&str> = analysis
                .trajectory
                .probs
                .iter()
                .map(|row| {
                    let best = row
                        .iter()
                        .enumerate()
                        .max_by(|a, b| a.1.total_cmp(b.1))
                        .map_or(0, |(i, _)| i);
                    analysis.classes[best].as_str()
                })
                .collect();
            json!({
                "index": outcome.input.index,
                "file": outcome.input.listed,
                "duration_s": analysis.duration_s,
                "emotion": analysis.top_class(),
                "probs": probs,
                "trajectory": {
                    "times_s": analysis.trajectory.times_s,
                    "labels": labels,
                    "probs": analysis.trajectory.probs,
                },
                "experts": {"se_usage": analysis.se.usage, "ser_usage": analysis.ser.usage},
                "enhanced": files.enhanced,
                "gates": {"ser": files.ser_gate, "se": files.se_gate, "frame_hop_s": analysis.ser.hop_s},
                "padded_from_s": analysis.padded_from_s,
                "provider": analysis.provider,
                "inference_s": analysis.inference_s,
                "cached": outcome.cached,
                "error": null,
            })
        }
        Err(error) => json!({
            "index": outcome.input.index,
            "file": outcome.input.listed,
            "error": error.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests;
