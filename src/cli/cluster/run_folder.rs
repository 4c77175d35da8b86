//! The run folder of `merit-studio cluster`: its manifest (`run.json`), the task logs and the
//! checks that a shard's output belongs to this run and is complete.

use std::collections::BTreeMap;
use std::io::BufRead as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::{Deserialize, Serialize};

use crate::jobs::batch::{BatchInput, collect_inputs, shard};
use crate::model::analysis::AnalysisParams;

pub(super) const FORMAT: &str = "merit-studio-cluster-run/1";

/// RUN/run.json: what a run is. Tasks and the merge refuse to work when the inputs or the model
/// no longer match it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct Manifest {
    pub(super) format: String,
    /// Absolute paths of the inputs as given (files, folders, manifests, projects).
    pub(super) inputs: Vec<PathBuf>,
    /// Files the inputs expand to, and blake3 of their listed paths (one a line, in order).
    pub(super) files: usize,
    pub(super) files_hash: String,
    pub(super) model: PathBuf,
    pub(super) model_hash: String,
    pub(super) params: AnalysisParams,
    pub(super) shards: usize,
}

impl Manifest {
    pub(super) fn path(run: &Path) -> PathBuf {
        run.join("run.json")
    }

    pub(super) fn read(run: &Path) -> anyhow::Result<Self> {
        let path = Self::path(run);
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!(
                "{} is not a run folder (no readable run.json); start a run with \
                 scripts/slurm/submit.sh or `merit-studio cluster plan`",
                run.display()
            )
        })?;
        let manifest: Self = serde_json::from_str(&text)
            .with_context(|| format!("{}: not a run manifest", path.display()))?;
        anyhow::ensure!(
            manifest.format == FORMAT,
            "{}: a run manifest of another format ({}); use a new run folder",
            path.display(),
            manifest.format
        );
        Ok(manifest)
    }

    /// The files of the run, after checking that the inputs still expand to what was planned.
    pub(super) fn files(&self) -> anyhow::Result<Vec<BatchInput>> {
        let (files, problems) = collect_inputs(&self.inputs)?;
        for problem in &problems {
            eprintln!("warning: {problem}");
        }
        let hash = files_hash(&files);
        anyhow::ensure!(
            hash == self.files_hash,
            "the inputs changed since this run was planned ({} files then, {} now, or other \
             names): restore them, or analyse them as a new run in another folder",
            self.files,
            files.len()
        );
        Ok(files)
    }

    pub(super) fn expected_shards(&self) -> anyhow::Result<Vec<Vec<BatchInput>>> {
        let files = self.files()?;
        Ok((1..=self.shards)
            .map(|k| shard(files.clone(), k, self.shards))
            .collect())
    }

    /// What differs between two plans, for the refusal message.
    pub(super) fn differences(&self, other: &Self) -> Vec<String> {
        let mut differences = Vec::new();
        if self.model_hash != other.model_hash {
            differences.push(format!(
                "model {} (hash {}) vs {} (hash {})",
                self.model.display(),
                &self.model_hash[..12.min(self.model_hash.len())],
                other.model.display(),
                &other.model_hash[..12.min(other.model_hash.len())]
            ));
        }
        if self.params != other.params {
            differences.push(format!(
                "parameters {} vs {}",
                serde_json::to_string(&self.params).unwrap_or_default(),
                serde_json::to_string(&other.params).unwrap_or_default()
            ));
        }
        if self.files_hash != other.files_hash || self.inputs != other.inputs {
            differences.push(format!("inputs ({} vs {} files)", self.files, other.files));
        }
        if self.shards != other.shards {
            differences.push(format!("{} vs {} shards", self.shards, other.shards));
        }
        differences
    }
}

pub(super) fn files_hash(files: &[BatchInput]) -> String {
    let mut hasher = blake3::Hasher::new();
    for file in files {
        hasher.update(file.listed.as_bytes());
        hasher.update(b"\n");
    }
    hasher.finalize().to_hex().to_string()
}

pub(super) fn shard_folder(run: &Path, k: usize) -> PathBuf {
    run.join("shards").join(k.to_string())
}

/// RUN/shards/K/task.json: what one task did.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct TaskLog {
    pub(super) shard: usize,
    pub(super) shards: usize,
    pub(super) model_hash: String,
    pub(super) files: usize,
    /// Analysed by this task (the rest came from the run's cache or failed).
    pub(super) analysed: usize,
    pub(super) cached: usize,
    pub(super) failed: usize,
    pub(super) audio_s: f64,
    pub(super) wall_s: f64,
    pub(super) rtf: f64,
    pub(super) peak_memory_mb: Option<f64>,
    pub(super) host: String,
    pub(super) slurm_job: Option<String>,
    pub(super) provider: String,
    /// The file that ran and where: the model, or its CPU variant on a CPU node (logs of older
    /// runs lack it).
    #[serde(default)]
    pub(super) ran: String,
}

/// Checks that shard `k` finished for this run with exactly its files; the reason, naming the
/// shard, if not.
pub(super) fn check_shard(
    run: &Path,
    manifest: &Manifest,
    k: usize,
    expected: &[BatchInput],
) -> Result<TaskLog, String> {
    let folder = shard_folder(run, k);
    let results = folder.join("results.jsonl");
    let rerun = format!("rerun shard {k}");
    let file = match std::fs::File::open(&results) {
        Ok(file) => file,
        Err(_) if folder.join("results.jsonl.partial").exists() => {
            return Err(format!(
                "shard {k}: stopped before finishing ({} is a cut-off attempt): {rerun}",
                folder.join("results.jsonl.partial").display()
            ));
        }
        Err(_) => {
            return Err(format!(
                "shard {k}: has not run (no {}): {rerun}",
                results.display()
            ));
        }
    };
    let wanted: BTreeMap<u64, &str> = expected
        .iter()
        .map(|input| (input.index as u64, input.listed.as_str()))
        .collect();
    let mut seen: BTreeMap<u64, String> = BTreeMap::new();
    for (number, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line =
            line.map_err(|e| format!("shard {k}: cannot read {}: {e}", results.display()))?;
        let row: serde_json::Value = serde_json::from_str(&line).map_err(|_| {
            format!(
                "shard {k}: {}:{} is cut short or damaged: {rerun}",
                results.display(),
                number + 1
            )
        })?;
        let (Some(index), Some(name)) = (row["index"].as_u64(), row["file"].as_str()) else {
            return Err(format!(
                "shard {k}: {}:{} has no index or file: {rerun}",
                results.display(),
                number + 1
            ));
        };
        if wanted.get(&index) != Some(&name) {
            return Err(format!(
                "shard {k}: holds {name} (file {index}), which is not one of its files: {rerun}"
            ));
        }
        if seen.insert(index, name.to_owned()).is_some() {
            return Err(format!("shard {k}: {name} appears twice: {rerun}"));
        }
        for relative in [&row["enhanced"], &row["gates"]["ser"], &row["gates"]["se"]]
            .into_iter()
            .filter_map(serde_json::Value::as_str)
        {
            if !folder.join(relative).is_file() {
                return Err(format!(
                    "shard {k}: {} is missing: {rerun}",
                    folder.join(relative).display()
                ));
            }
        }
    }
    let lacking: Vec<&str> = wanted
        .iter()
        .filter(|(index, _)| !seen.contains_key(index))
        .map(|(_, name)| *name)
        .collect();
    if let Some(first) = lacking.first() {
        return Err(format!(
            "shard {k}: {} of its {} files are missing from {} (first: {first}): {rerun}",
            lacking.len(),
            wanted.len(),
            results.display()
        ));
    }
    let log_path = folder.join("task.json");
    let log: TaskLog = std::fs::read_to_string(&log_path)
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok())
        .ok_or_else(|| format!("shard {k}: no readable {}: {rerun}", log_path.display()))?;
    if log.model_hash != manifest.model_hash || log.shards != manifest.shards || log.shard != k {
        return Err(format!(
            "shard {k}: {} is from another run: {rerun}",
            log_path.display()
        ));
    }
    Ok(log)
}
