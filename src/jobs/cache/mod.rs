//! The analysis cache: results keyed by a content hash of the audio file, the model's hash, the
//! analysis parameters and the speaker reference (speaker-relative models), so re-opening a
//! project or re-running a batch is instant and a changed model re-analyses. A cache file that is
//! truncated, corrupt or from another format version is ignored (and rebuilt), never trusted.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use ndarray::Array2;

use crate::fsio::write_atomically;
use crate::model::analysis::{AnalysisParams, ShapeMismatch, SignalAnalysis};
use crate::model::reference::{ReferenceNote, SpeakerReference};

/// Version 2: router probabilities stored with their shape (frames, experts).
const MAGIC: &[u8; 8] = b"MERITC02";
const CHECKSUM_LEN: usize = 32;

/// The default cache folder: the user's cache folder (on Linux `$XDG_CACHE_HOME`, else
/// `~/.cache`) + `merit-studio/analysis`; the temporary folder without a home.
#[must_use]
pub fn default_folder() -> PathBuf {
    crate::fsio::user_folders()
        .map_or_else(
            || std::env::temp_dir().join("merit-studio"),
            |folders| folders.cache_dir().to_path_buf(),
        )
        .join("analysis")
}

pub struct AnalysisCache {
    folder: PathBuf,
}

impl AnalysisCache {
    #[must_use]
    pub fn new(folder: PathBuf) -> Self {
        Self { folder }
    }

    /// The folder of one model's entries, and the key of the parameters.
    fn model_folder_and_key(&self, model_hash: &str, params: &AnalysisParams) -> (PathBuf, String) {
        let params_key =
            blake3::hash(serde_json::to_string(params).unwrap_or_default().as_bytes()).to_hex();
        (
            self.folder.join(&model_hash[..model_hash.len().min(16)]),
            params_key[..12].to_owned(),
        )
    }

    fn entry(
        &self,
        audio_hash: &str,
        model_hash: &str,
        params: &AnalysisParams,
        reference: Option<&SpeakerReference>,
    ) -> PathBuf {
        let (folder, key) = self.model_folder_and_key(model_hash, params);
        match reference {
            None => folder.join(format!("{audio_hash}-{key}.bin")),
            Some(reference) => {
                folder.join(format!("{audio_hash}-{key}-{}.bin", reference.digest()))
            }
        }
    }

    fn summaries_file(&self, model_hash: &str, params: &AnalysisParams) -> PathBuf {
        let (folder, key) = self.model_folder_and_key(model_hash, params);
        folder.join(format!("summaries-{key}.jsonl"))
    }

    /// Notes what the browser shows of `analysis` (of the file at `path`) in the summary index;
    /// failures only cost a later re-read, so they are logged.
    pub fn remember(
        &self,
        path: &Path,
        model_hash: &str,
        params: &AnalysisParams,
        analysis: &SignalAnalysis,
    ) {
        let Some((path, stamp)) = stamped(path) else {
            return;
        };
        let line = SummaryLine {
            path,
            len: stamp.0,
            modified_ns: stamp.1,
            summary: Summary::of(analysis),
        };
        let file = self.summaries_file(model_hash, params);
        let result = serde_json::to_string(&line)
            .map_err(std::io::Error::other)
            .and_then(|mut text| {
                text.push('\n');
                file.parent().map_or(Ok(()), std::fs::create_dir_all)?;
                // One write of one line to a file opened for appending: lines from several
                // threads or processes do not interleave.
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&file)?
                    .write_all(text.as_bytes())
            });
        if let Err(error) = result {
            tracing::warn!("cannot note a summary in {}: {error}", file.display());
        }
    }

    /// The summaries of the files at `paths` that are unchanged (size and modification time) since
    /// they were analysed; no audio file is read. A summary index with many outdated lines is
    /// rewritten with only the latest line per file.
    #[must_use]
    pub fn recall(
        &self,
        model_hash: &str,
        params: &AnalysisParams,
        paths: &[PathBuf],
    ) -> Vec<Option<Summary>> {
        let file = self.summaries_file(model_hash, params);
        let Ok(text) = std::fs::read_to_string(&file) else {
            return vec![None; paths.len()];
        };
        let mut latest: HashMap<PathBuf, SummaryLine> = HashMap::new();
        let mut lines = 0_usize;
        for line in text.lines() {
            lines += 1;
            // A torn or foreign line is skipped: the index is only a shortcut.
            if let Ok(parsed) = serde_json::from_str::<SummaryLine>(line) {
                latest.insert(parsed.path.clone(), parsed);
            }
        }
        if lines > 2 * latest.len() + 100 {
            let compacted: String = latest
                .values()
                .filter_map(|l| serde_json::to_string(l).ok())
                .map(|l| l + "\n")
                .collect();
            if let Err(error) = write_atomically(&file, compacted.as_bytes()) {
                tracing::warn!("cannot compact {}: {error}", file.display());
            }
        }
        paths
            .iter()
            .map(|path| {
                let (path, (len, modified_ns)) = stamped(path)?;
                let line = latest.get(&path)?;
                (line.len == len && line.modified_ns == modified_ns).then(|| line.summary.clone())
            })
            .collect()
    }

    /// The cached analysis with this speaker reference, if there is a valid one.
    #[must_use]
    pub fn load(
        &self,
        audio_hash: &str,
        model_hash: &str,
        params: &AnalysisParams,
        reference: Option<&SpeakerReference>,
    ) -> Option<SignalAnalysis> {
        let path = self.entry(audio_hash, model_hash, params, reference);
        let bytes = std::fs::read(&path).ok()?;
        match decode(&bytes) {
            Ok(analysis) => Some(analysis),
            Err(reason) => {
                tracing::warn!("ignoring cache file {}: {reason}", path.display());
                None
            }
        }
    }

    /// Stores an analysis; failures only cost a future re-analysis, so they are logged, not returned.
    pub fn store(
        &self,
        audio_hash: &str,
        model_hash: &str,
        params: &AnalysisParams,
        reference: Option<&SpeakerReference>,
        analysis: &SignalAnalysis,
    ) {
        let path = self.entry(audio_hash, model_hash, params, reference);
        let result = encode(analysis)
            .map_err(std::io::Error::other)
            .and_then(|bytes| {
                path.parent()
                    .map_or(Ok(()), std::fs::create_dir_all)
                    .and_then(|()| write_atomically(&path, &bytes))
            });
        if let Err(error) = result {
            tracing::warn!("cannot write cache file {}: {error}", path.display());
        }
    }
}

/// What the browser shows of a cached analysis: the top class and the class probabilities; and, for
/// a speaker-relative model, the recording's statistics (the references of the speaker's other
/// recordings are made of them) and the reference its labels used.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Summary {
    pub class: String,
    pub probs: Vec<f32>,
    pub classes: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub statistics: Option<Vec<f32>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<ReferenceNote>,
}

impl Summary {
    #[must_use]
    pub fn of(analysis: &SignalAnalysis) -> Self {
        Self {
            class: analysis.top_class().to_owned(),
            probs: analysis.probs.clone(),
            classes: analysis.classes.clone(),
            statistics: analysis.statistics.clone(),
            reference: analysis.reference.clone(),
        }
    }
}

#[derive(serde::Serialize, serde::Deserialize)]
struct SummaryLine {
    path: PathBuf,
    len: u64,
    modified_ns: u64,
    #[serde(flatten)]
    summary: Summary,
}

/// The absolute path of a file with its size and modification time (nanoseconds since the epoch).
fn stamped(path: &Path) -> Option<(PathBuf, (u64, u64))> {
    let absolute = std::path::absolute(path).ok()?;
    let metadata = std::fs::metadata(&absolute).ok()?;
    let modified = metadata
        .modified()
        .ok()?
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?;
    Some((
        absolute,
        (metadata.len(), u64::try_from(modified.as_nanos()).ok()?),
    ))
}

fn put_len(bytes: &mut Vec<u8>, len: usize) {
    bytes.extend_from_slice(&(len as u64).to_le_bytes());
}

fn put_floats<'a>(bytes: &mut Vec<u8>, values: impl IntoIterator<Item = &'a f32>) {
    for value in values {
        bytes.extend_from_slice(&value.to_le_bytes());
    }
}

fn encode(analysis: &SignalAnalysis) -> Result<Vec<u8>, serde_json::Error> {
    let json = serde_json::to_vec(analysis)?;
    let mut bytes = Vec::with_capacity(
        json.len() + 4 * (analysis.enhanced.len() + 2 * analysis.ser.probs.len()) + 64,
    );
    bytes.extend_from_slice(MAGIC);
    put_len(&mut bytes, json.len());
    bytes.extend_from_slice(&json);
    put_len(&mut bytes, analysis.enhanced.len());
    put_floats(&mut bytes, &analysis.enhanced);
    for trace in [&analysis.ser, &analysis.se] {
        put_len(&mut bytes, trace.frames());
        put_len(&mut bytes, trace.experts());
        put_floats(&mut bytes, &trace.probs);
    }
    let checksum = blake3::hash(&bytes);
    bytes.extend_from_slice(checksum.as_bytes());
    Ok(bytes)
}

/// Why a cache file is not used.
#[derive(Debug, thiserror::Error)]
enum CacheFileError {
    #[error("not a cache file of this version")]
    Version,
    #[error("checksum mismatch (truncated or damaged)")]
    Checksum,
    #[error("shorter than its header says")]
    Short,
    #[error("a length field does not fit this machine")]
    Length,
    #[error("the analysis record is not valid: {0}")]
    Record(#[from] serde_json::Error),
    #[error(transparent)]
    Shape(#[from] ShapeMismatch),
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, len: usize) -> Result<&'a [u8], CacheFileError> {
        let end = self.at.checked_add(len).ok_or(CacheFileError::Length)?;
        let slice = self.bytes.get(self.at..end).ok_or(CacheFileError::Short)?;
        self.at = end;
        Ok(slice)
    }

    fn length(&mut self) -> Result<usize, CacheFileError> {
        let raw: [u8; 8] = self
            .take(8)?
            .try_into()
            .map_err(|_| CacheFileError::Short)?;
        usize::try_from(u64::from_le_bytes(raw)).map_err(|_| CacheFileError::Length)
    }

    fn floats(&mut self, count: usize) -> Result<Vec<f32>, CacheFileError> {
        let raw = self.take(count.checked_mul(4).ok_or(CacheFileError::Length)?)?;
        Ok(raw
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect())
    }

    fn matrix(&mut self) -> Result<Array2<f32>, CacheFileError> {
        let (rows, columns) = (self.length()?, self.length()?);
        let count = rows.checked_mul(columns).ok_or(CacheFileError::Length)?;
        Array2::from_shape_vec((rows, columns), self.floats(count)?)
            .map_err(|_| CacheFileError::Length)
    }
}

fn decode(bytes: &[u8]) -> Result<SignalAnalysis, CacheFileError> {
    if bytes.len() < MAGIC.len() + CHECKSUM_LEN || !bytes.starts_with(MAGIC) {
        return Err(CacheFileError::Version);
    }
    let (body, checksum) = bytes.split_at(bytes.len() - CHECKSUM_LEN);
    if blake3::hash(body).as_bytes() != checksum {
        return Err(CacheFileError::Checksum);
    }
    let mut reader = Reader {
        bytes: body,
        at: MAGIC.len(),
    };
    let json_len = reader.length()?;
    let mut analysis: SignalAnalysis = serde_json::from_slice(reader.take(json_len)?)?;
    let samples = reader.length()?;
    analysis.enhanced = reader.floats(samples)?;
    analysis.ser.probs = reader.matrix()?;
    analysis.se.probs = reader.matrix()?;
    analysis.check_shapes()?;
    Ok(analysis)
}

#[cfg(test)]
mod tests;
