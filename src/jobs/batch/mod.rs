//! Batch analysis of a collection: which files, which shard, and what each file's results are on
//! disk (`results.jsonl` rows, enhanced WAVs, router-probability `.npy` sidecars). One bad file
//! gives an error row; the batch goes on.

use std::path::{Path, PathBuf};

use serde_json::json;

use super::cache::AnalysisCache;
use super::references::{CollectionReferences, StatisticsPass, StatisticsSource, voice_of};
use crate::audio::{ANALYSIS_RATE_HZ, AudioError, DecodeOptions, decode_file, wav};
use crate::model::analysis::{
    AnalysisParams, RouterTrace, SignalAnalysis, Steering, analyze_signal,
};
use crate::model::reference::{SpeakerReference, Voice};
use crate::model::{MeritSession, ModelError};
use crate::project::{Collection, Project, ProjectError};

mod shard;
pub use shard::{ShardError, parse_shard, shard};

/// One file to analyse: where it is and the relative path its outputs mirror.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchInput {
    /// Position in the whole input list (kept through sharding, so shards merge in order).
    pub index: usize,
    pub path: PathBuf,
    /// As listed by its folder or manifest, or as given on the command line.
    pub listed: String,
    /// The speaker and gender, when a manifest names them (a speaker-relative model's reference
    /// comes from the speaker's other recordings, else from the gender).
    pub voice: Voice,
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
            files.push((
                input.clone(),
                input.to_string_lossy().into_owned(),
                Voice::default(),
            ));
            continue;
        }
        let project = Project::open(input)?;
        let collection = Collection::load(&project);
        problems.extend(collection.issues.iter().map(ToString::to_string));
        files.extend(
            collection
                .recordings
                .into_iter()
                .map(|r| (r.path.clone(), r.listed_path.clone(), voice_of(&r))),
        );
    }
    let inputs = files
        .into_iter()
        .enumerate()
        .map(|(index, (path, listed, voice))| BatchInput {
            index,
            path,
            listed,
            voice,
        })
        .collect();
    Ok((inputs, problems))
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

/// Decodes and analyses one file against a speaker `reference` (speaker-relative models), or takes
/// its analysis from `cache` (keyed by the file's content, the model, the parameters and the
/// reference); returns it and whether it came from the cache.
///
/// # Errors
/// [`AnalyzeError`] naming the file: unreadable, undecodable, or inference failed; or
/// [`AnalyzeError::Cancelled`].
pub fn analyze_path(
    session: &mut MeritSession,
    path: &Path,
    reference: Option<&SpeakerReference>,
    params: &AnalysisParams,
    cache: Option<&AnalysisCache>,
    cancel: Option<&std::sync::atomic::AtomicBool>,
) -> Result<(SignalAnalysis, bool), AnalyzeError> {
    let recording = Recording {
        path,
        decoded: None,
        reference,
    };
    analyze_recording(session, &recording, params, cache, Steering::cancel(cancel))
}

/// One recording to analyse: its file, its 16 kHz mono signal when the caller has already decoded
/// it (the window has, for its waveform), and its speaker reference.
pub struct Recording<'a> {
    pub path: &'a Path,
    pub decoded: Option<&'a [f32]>,
    pub reference: Option<&'a SpeakerReference>,
}

/// [`analyze_path`] with steering; given the decoded signal, the file is read only to hash it for
/// the cache, never decoded a second time.
///
/// # Errors
/// As [`analyze_path`].
pub fn analyze_recording(
    session: &mut MeritSession,
    recording: &Recording<'_>,
    params: &AnalysisParams,
    cache: Option<&AnalysisCache>,
    steering: Steering<'_>,
) -> Result<(SignalAnalysis, bool), AnalyzeError> {
    let &Recording {
        path,
        decoded,
        reference,
    } = recording;
    // Other models ignore the reference: it must not split their cache entries either.
    let reference = reference.filter(|_| session.statistics_size().is_some());
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
        .and_then(|(cache, hash)| cache.load(hash, session.model_hash(), params, reference))
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
    let analysis = analyze_signal(session, signal, reference, params, steering).map_err(
        |error| match error {
            ModelError::Cancelled => AnalyzeError::Cancelled,
            error => AnalyzeError::Inference {
                path: path.to_path_buf(),
                error,
            },
        },
    )?;
    if let (Some(cache), Some(hash)) = (cache, audio_hash.as_deref()) {
        cache.store(hash, session.model_hash(), params, reference, &analysis);
        cache.remember(path, session.model_hash(), params, &analysis);
    }
    Ok((analysis, false))
}

/// Decodes, analyses (against `reference`) and writes one file's outputs under `out`.
pub fn analyze_file(
    session: &mut MeritSession,
    input: BatchInput,
    reference: Option<&SpeakerReference>,
    out: &Path,
    params: &AnalysisParams,
    cache: Option<&AnalysisCache>,
) -> FileOutcome {
    let mut cached = false;
    let result = (|| {
        let (analysis, from_cache) =
            analyze_path(session, &input.path, reference, params, cache, None)?;
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

/// The speaker references of `inputs` for a speaker-relative model (see [`StatisticsPass`]), one
/// progress unit per recording whose statistics are gathered.
#[must_use]
pub fn batch_references(
    session: &mut MeritSession,
    inputs: &[BatchInput],
    params: &AnalysisParams,
    cache: Option<&AnalysisCache>,
    context: &super::JobContext,
) -> CollectionReferences {
    let recordings: Vec<(PathBuf, Voice)> = inputs
        .iter()
        .map(|input| (input.path.clone(), input.voice.clone()))
        .collect();
    let pass = StatisticsPass::plan(session, &recordings);
    context.set_total((inputs.len() + pass.len()) as u64);
    pass.run(
        session,
        (params, cache),
        StatisticsSource::RecalledOrAnalysed,
        Some(context.cancel_flag()),
        || context.advance(1),
    )
}

/// Analyses `inputs` in order, one progress unit per file, handing each outcome to `on_outcome`
/// (which writes it somewhere). A speaker-relative model first gathers the statistics that make
/// the speakers' references ([`batch_references`]). Stops early, between files, when the job is
/// cancelled; returns how many files failed.
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
    let references = batch_references(session, &inputs, params, cache, context);
    let mut failed = 0;
    for input in inputs {
        if context.is_cancelled() {
            break;
        }
        let path = input.path.clone();
        let reference = references.for_path(&path);
        let outcome = super::contain_panic(&path, || {
            analyze_file(
                session,
                input.clone(),
                reference.as_ref(),
                out,
                params,
                cache,
            )
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
                "speaker_reference": analysis.reference,
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
