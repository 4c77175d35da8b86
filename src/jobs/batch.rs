//! Batch analysis of a collection: which files, which shard, and what each file's results are on
//! disk (`results.jsonl` rows, enhanced WAVs, router-probability `.npy` sidecars). One bad file
//! gives an error row; the batch goes on.

use std::path::{Path, PathBuf};

use serde_json::json;

use super::cache::AnalysisCache;
use crate::audio::{ANALYSIS_RATE_HZ, DecodeOptions, decode_file, wav};
use crate::model::analysis::{AnalysisParams, SignalAnalysis, analyze_signal};
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

/// Parses `K/N` (1 <= K <= N).
///
/// # Errors
/// A message saying what is wrong with the text.
pub fn parse_shard(text: &str) -> Result<(usize, usize), String> {
    let (k, n) = text
        .split_once('/')
        .ok_or_else(|| format!("shard `{text}` is not of the form K/N"))?;
    let k: usize = k
        .trim()
        .parse()
        .map_err(|_| format!("shard index `{k}` is not a number"))?;
    let n: usize = n
        .trim()
        .parse()
        .map_err(|_| format!("shard count `{n}` is not a number"))?;
    if n == 0 || k == 0 || k > n {
        return Err(format!("shard {k}/{n}: need 1 <= K <= N"));
    }
    Ok((k, n))
}

/// What analysing one file produced.
pub struct FileOutcome {
    pub input: BatchInput,
    pub result: Result<(SignalAnalysis, PathBuf, PathBuf, PathBuf), String>,
    /// The analysis came from the cache.
    pub cached: bool,
}

fn write_gate(path: &Path, gate: &[f32], experts: usize) -> Result<(), String> {
    let frames = gate.len() / experts.max(1);
    let array = ndarray::Array2::from_shape_vec((frames, experts), gate.to_vec())
        .map_err(|e| e.to_string())?;
    ndarray_npy::write_npy(path, &array).map_err(|e| format!("{}: {e}", path.display()))
}

/// Decodes and analyses one file, or takes its analysis from `cache` (keyed by the file's content,
/// the model and the parameters); returns it and whether it came from the cache.
///
/// # Errors
/// A message naming the file: unreadable, undecodable, or inference failed.
pub fn analyze_path(
    session: &mut MeritSession,
    path: &Path,
    params: &AnalysisParams,
    cache: Option<&AnalysisCache>,
    cancel: Option<&std::sync::atomic::AtomicBool>,
) -> Result<(SignalAnalysis, bool), String> {
    let audio_hash = cache
        .map(|_| {
            crate::fsio::blake3_of_files(&[path])
                .map_err(|e| format!("{}: cannot read the file: {e}", path.display()))
        })
        .transpose()?;
    if let Some(hit) = cache
        .zip(audio_hash.as_deref())
        .and_then(|(cache, hash)| cache.load(hash, session.model_hash(), params))
    {
        return Ok((hit, true));
    }
    let decoded = decode_file(
        path,
        DecodeOptions {
            keep_original: false,
            cancel,
        },
    )
    .map_err(|e| e.to_string())?;
    let analysis = analyze_signal(session, &decoded.analysis, params, cancel)
        .map_err(|e: ModelError| format!("{}: {e}", path.display()))?;
    if let (Some(cache), Some(hash)) = (cache, audio_hash.as_deref()) {
        cache.store(hash, session.model_hash(), params, &analysis);
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
        let enhanced = Path::new("enhanced").join(&stem).with_extension("wav");
        let ser_gate = Path::new("gates").join(&stem).with_extension("ser.npy");
        let se_gate = Path::new("gates").join(&stem).with_extension("se.npy");
        wav::write_mono_f32(&out.join(&enhanced), &analysis.enhanced, ANALYSIS_RATE_HZ)
            .map_err(|e| format!("{}: {e}", out.join(&enhanced).display()))?;
        if let Some(folder) = out.join(&ser_gate).parent() {
            std::fs::create_dir_all(folder).map_err(|e| format!("{}: {e}", folder.display()))?;
        }
        write_gate(&out.join(&ser_gate), &analysis.ser_gate, analysis.experts)?;
        write_gate(&out.join(&se_gate), &analysis.se_gate, analysis.experts)?;
        Ok((analysis, enhanced, ser_gate, se_gate))
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
        let outcome = analyze_file(session, input, out, params, cache);
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
        Ok((analysis, enhanced, ser_gate, se_gate)) => {
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
                "experts": {"se_usage": analysis.se_usage, "ser_usage": analysis.ser_usage},
                "enhanced": enhanced,
                "gates": {"ser": ser_gate, "se": se_gate, "frame_hop_s": analysis.frame_hop_s},
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
            "error": error,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs(count: usize) -> Vec<BatchInput> {
        (0..count)
            .map(|index| BatchInput {
                index,
                path: PathBuf::from(format!("/c/{index}.wav")),
                listed: format!("spk{}/utt{index}.wav", index % 7),
            })
            .collect()
    }

    #[test]
    fn shards_partition_the_inputs() {
        let all = inputs(1000);
        let mut seen: Vec<usize> = (1..=4)
            .flat_map(|k| shard(all.clone(), k, 4))
            .map(|i| i.index)
            .collect();
        let sizes: Vec<usize> = (1..=4).map(|k| shard(all.clone(), k, 4).len()).collect();
        seen.sort_unstable();
        assert_eq!(seen, (0..1000).collect::<Vec<_>>());
        assert!(sizes.iter().all(|&s| (200..300).contains(&s)), "{sizes:?}");
        assert_eq!(shard(all.clone(), 1, 1), all);
    }

    #[test]
    fn shard_text_is_checked() {
        assert_eq!(parse_shard("2/8"), Ok((2, 8)));
        for bad in ["0/3", "4/3", "x/3", "3", "1/0"] {
            assert!(parse_shard(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn outputs_never_escape_the_folder() {
        assert_eq!(
            crate::fsio::safe_relative("a/b.wav"),
            PathBuf::from("a/b.wav")
        );
        assert_eq!(
            crate::fsio::safe_relative("/abs/x.wav"),
            PathBuf::from("abs/x.wav")
        );
        assert_eq!(
            crate::fsio::safe_relative("../../etc/x.wav"),
            PathBuf::from("etc/x.wav")
        );
    }
}
