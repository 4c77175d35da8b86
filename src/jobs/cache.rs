//! The analysis cache: results keyed by a content hash of the audio file, the model's hash and the
//! analysis parameters, so re-opening a project or re-running a batch is instant and a changed model
//! re-analyses. A cache file that is truncated, corrupt or from another format version is ignored
//! (and rebuilt), never trusted.

use std::path::PathBuf;

use crate::fsio::write_atomically;
use crate::model::analysis::{AnalysisParams, SignalAnalysis};

const MAGIC: &[u8; 8] = b"MERITC01";
const CHECKSUM_LEN: usize = 32;

/// The default cache folder: `$XDG_CACHE_HOME/merit-studio/analysis`, else `~/.cache/...`.
#[must_use]
pub fn default_folder() -> PathBuf {
    std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))
        .unwrap_or_else(std::env::temp_dir)
        .join("merit-studio/analysis")
}

pub struct AnalysisCache {
    folder: PathBuf,
}

impl AnalysisCache {
    #[must_use]
    pub fn new(folder: PathBuf) -> Self {
        Self { folder }
    }

    fn entry(&self, audio_hash: &str, model_hash: &str, params: &AnalysisParams) -> PathBuf {
        let params_key =
            blake3::hash(serde_json::to_string(params).unwrap_or_default().as_bytes()).to_hex();
        self.folder
            .join(&model_hash[..model_hash.len().min(16)])
            .join(format!("{audio_hash}-{}.bin", &params_key[..12]))
    }

    /// The cached analysis, if there is a valid one.
    #[must_use]
    pub fn load(
        &self,
        audio_hash: &str,
        model_hash: &str,
        params: &AnalysisParams,
    ) -> Option<SignalAnalysis> {
        let path = self.entry(audio_hash, model_hash, params);
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
        analysis: &SignalAnalysis,
    ) {
        let path = self.entry(audio_hash, model_hash, params);
        let result = path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| write_atomically(&path, &encode(analysis)));
        if let Err(error) = result {
            tracing::warn!("cannot write cache file {}: {error}", path.display());
        }
    }
}

fn encode(analysis: &SignalAnalysis) -> Vec<u8> {
    let json = serde_json::to_vec(analysis).unwrap_or_default();
    let mut bytes = Vec::with_capacity(
        json.len() + 4 * (analysis.enhanced.len() + 2 * analysis.ser_gate.len()) + 64,
    );
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(&(json.len() as u64).to_le_bytes());
    bytes.extend_from_slice(&json);
    for array in [&analysis.enhanced, &analysis.ser_gate, &analysis.se_gate] {
        bytes.extend_from_slice(&(array.len() as u64).to_le_bytes());
        for value in array.iter() {
            bytes.extend_from_slice(&value.to_le_bytes());
        }
    }
    let checksum = blake3::hash(&bytes);
    bytes.extend_from_slice(checksum.as_bytes());
    bytes
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, len: usize) -> Result<&'a [u8], String> {
        let end = self.at.checked_add(len).ok_or("length overflow")?;
        let slice = self
            .bytes
            .get(self.at..end)
            .ok_or("shorter than its header says")?;
        self.at = end;
        Ok(slice)
    }

    fn length(&mut self) -> Result<usize, String> {
        let raw: [u8; 8] = self.take(8)?.try_into().map_err(|_| "bad length field")?;
        usize::try_from(u64::from_le_bytes(raw)).map_err(|e| e.to_string())
    }
}

fn decode(bytes: &[u8]) -> Result<SignalAnalysis, String> {
    if bytes.len() < MAGIC.len() + CHECKSUM_LEN || !bytes.starts_with(MAGIC) {
        return Err("not a cache file of this version".into());
    }
    let (body, checksum) = bytes.split_at(bytes.len() - CHECKSUM_LEN);
    if blake3::hash(body).as_bytes() != checksum {
        return Err("checksum mismatch (truncated or damaged)".into());
    }
    let mut reader = Reader {
        bytes: body,
        at: MAGIC.len(),
    };
    let json_len = reader.length()?;
    let mut analysis: SignalAnalysis =
        serde_json::from_slice(reader.take(json_len)?).map_err(|e| e.to_string())?;
    let mut arrays = Vec::with_capacity(3);
    for _ in 0..3 {
        let len = reader.length()?;
        let raw = reader.take(len.checked_mul(4).ok_or("length overflow")?)?;
        arrays.push(
            raw.chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect::<Vec<f32>>(),
        );
    }
    analysis.se_gate = arrays.pop().unwrap_or_default();
    analysis.ser_gate = arrays.pop().unwrap_or_default();
    analysis.enhanced = arrays.pop().unwrap_or_default();
    Ok(analysis)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Provider;
    use crate::model::analysis::Trajectory;

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
            frame_hop_s: 0.02,
            experts: 2,
            ser_gate: vec![0.4, 0.6],
            se_gate: vec![0.9, 0.1],
            ser_usage: vec![0.0, 1.0],
            se_usage: vec![1.0, 0.0],
            provider: Provider::Cpu,
            inference_s: 0.01,
        }
    }

    #[test]
    fn round_trip_and_keys() {
        let dir = tempfile::tempdir().unwrap();
        let cache = AnalysisCache::new(dir.path().to_path_buf());
        let params = AnalysisParams::default();
        assert!(cache.load("audio", "model", &params).is_none());
        cache.store("audio", "model", &params, &sample());
        assert_eq!(cache.load("audio", "model", &params), Some(sample()));
        assert!(cache.load("audio", "other-model", &params).is_none());
        let other = AnalysisParams {
            hop_s: 1.0,
            ..params
        };
        assert!(cache.load("audio", "model", &other).is_none());
    }

    #[test]
    fn damaged_or_foreign_files_are_ignored() {
        let bytes = encode(&sample());
        assert!(decode(&bytes[..bytes.len() - 5]).is_err());
        let mut flipped = bytes.clone();
        flipped[20] ^= 1;
        assert!(decode(&flipped).is_err());
        let mut other_version = bytes.clone();
        other_version[7] = b'9';
        assert!(decode(&other_version).unwrap_err().contains("version"));
        assert!(decode(b"").is_err());
    }
}
