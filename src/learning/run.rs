//! The retrain itself: the plan's recordings decoded to 16 kHz, the fine-tuning run by the Python
//! pipeline as a subprocess (progress read from its output, killed on cancel), and the new model
//! moved into the project's `models/` folder with its card only once it is whole.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde::Deserialize;

use crate::export::{Selection, decoded_copy};
use crate::fsio::write_atomically;
use crate::jobs::JobContext;
use crate::model::session::model_digest;
use crate::project::Project;

use super::project_models::{Figures, FineTuneCard, LabelsUsed, MODELS_FOLDER, ParentModel};
use super::{RetrainError, RetrainPlan, TrainingEnvironment};

/// A new model in the project's `models/` folder, with its card.
#[derive(Debug, Clone)]
pub struct FineTuned {
    pub model: PathBuf,
    pub card: FineTuneCard,
}

/// The work folder, removed however the retrain ends.
struct WorkFolder(PathBuf);

impl Drop for WorkFolder {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const WORK_PREFIX: &str = ".retrain-";

/// Work folders of retrains whose process is gone (killed mid-way): their decoded audio can be
/// large.
fn remove_abandoned_work(models: &Path) {
    for entry in std::fs::read_dir(models).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name.strip_prefix(WORK_PREFIX) else {
            continue;
        };
        if !Path::new("/proc").join(pid).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// What `merit.finetune` writes beside its model (`NAME.finetune.json`).
#[derive(Deserialize)]
struct Report {
    before: HeldOut,
    after: HeldOut,
}

#[derive(Deserialize)]
struct HeldOut {
    held_out: Figures,
}

/// One line of `merit.finetune --progress`.
#[derive(Deserialize)]
struct ProgressLine {
    progress: Counts,
}

#[derive(Deserialize)]
struct Counts {
    done: u64,
    total: u64,
}

/// Fine-tunes `parent` on `plan`'s labels and stores the new model in `project`'s `models/`.
/// Progress: one unit per recording decoded, then the fine-tuning's own units (the closed-form
/// fit: one per recording; gradient steps: the held-out part scored before and after, and the
/// steps).
///
/// # Errors
/// [`RetrainError::Cancelled`] when cancelled (nothing is left behind); [`RetrainError::Failed`]
/// with the end of the pipeline's error output; I/O errors naming the file.
pub fn retrain(
    project: &Project,
    parent: &Path,
    plan: &RetrainPlan,
    environment: &TrainingEnvironment,
    context: &JobContext,
) -> Result<FineTuned, RetrainError> {
    let started = Instant::now();
    let models = project.root.join(MODELS_FOLDER);
    std::fs::create_dir_all(&models).map_err(RetrainError::io(&models))?;
    remove_abandoned_work(&models);
    let work = WorkFolder(models.join(format!("{WORK_PREFIX}{}", std::process::id())));
    let _ = std::fs::remove_dir_all(&work.0);
    std::fs::create_dir_all(&work.0).map_err(RetrainError::io(&work.0))?;
    let rows = plan.rows.len() as u64;
    // Decoding each recording, then the fine-tuning's units: estimated here so the bar means
    // something while decoding, then merit.finetune's own count from its first progress line.
    let fine_tuning = match plan.request.steps {
        None => rows,
        Some(steps) => 2 * plan.held_out() as u64 + u64::from(steps),
    };
    context.set_total(rows + fine_tuning);

    let (manifest, skipped_undecodable) = write_manifest(plan, &work.0, context)?;
    let out = work.0.join("model.onnx");
    let parent_blake3 = model_digest(parent).map_err(RetrainError::io(parent))?;
    run_pipeline(plan, parent, &manifest, &out, environment, context)?;

    let report_path = out.with_extension("finetune.json");
    let report: Report = serde_json::from_slice(
        &std::fs::read(&report_path).map_err(RetrainError::io(&report_path))?,
    )
    .map_err(|error| RetrainError::Report {
        path: report_path.clone(),
        error,
    })?;
    let target = next_free_name(&models, parent);
    let card = FineTuneCard {
        created: jiff::Timestamp::now()
            .round(jiff::Unit::Second)
            .map_or_else(|_| String::new(), |t| t.to_string()),
        blake3: model_digest(&out).map_err(RetrainError::io(&out))?,
        parent: ParentModel {
            path: parent.to_path_buf(),
            blake3: parent_blake3,
            project_model: project.file.model.clone(),
        },
        labels: labels_used(plan, skipped_undecodable),
        steps: plan.request.steps,
        seed: plan.request.seed,
        seconds: started.elapsed().as_secs_f64(),
        classes: plan.classes.clone(),
        before: report.before.held_out,
        after: report.after.held_out,
    };
    // The card first, then the model: a model never appears without its card, and one rename
    // puts it in place whole.
    let card_path = FineTuneCard::path_for(&target);
    let json = serde_json::to_vec_pretty(&card).map_err(|error| RetrainError::Report {
        path: card_path.clone(),
        error,
    })?;
    write_atomically(&card_path, &json).map_err(RetrainError::io(&card_path))?;
    std::fs::rename(&out, &target).map_err(RetrainError::io(&target))?;
    tracing::info!(
        "retrained {} into {}: held-out macro-F1 {:.3} -> {:.3}",
        parent.display(),
        target.display(),
        card.before.macro_f1,
        card.after.macro_f1
    );
    Ok(FineTuned {
        model: target,
        card,
    })
}

/// Decodes each planned recording to a 16 kHz WAV under `work` and writes the fine-tuning's
/// manifest; a recording that cannot be decoded is skipped and counted, not fatal.
fn write_manifest(
    plan: &RetrainPlan,
    work: &Path,
    context: &JobContext,
) -> Result<(PathBuf, usize), RetrainError> {
    let audio = work.join("audio16k");
    let mut text = String::new();
    let mut skipped = 0;
    for row in &plan.rows {
        if context.is_cancelled() {
            return Err(RetrainError::Cancelled);
        }
        match decoded_copy(row, &audio) {
            Ok(path) => {
                let line = serde_json::json!({
                    "path": path,
                    "file": row.file,
                    "label": row.label,
                    "split": row.split,
                    "speaker": row.speaker,
                });
                text.push_str(&line.to_string());
                text.push('\n');
            }
            Err(error) => {
                tracing::warn!("retrain: {}: skipped: {error}", row.file);
                skipped += 1;
            }
        }
        context.advance(1);
    }
    let manifest = work.join("labels.jsonl");
    write_atomically(&manifest, text.as_bytes()).map_err(RetrainError::io(&manifest))?;
    Ok((manifest, skipped))
}

/// Runs `merit.finetune` and follows its progress; kills it on cancel.
fn run_pipeline(
    plan: &RetrainPlan,
    parent: &Path,
    manifest: &Path,
    out: &Path,
    environment: &TrainingEnvironment,
    context: &JobContext,
) -> Result<(), RetrainError> {
    let errors_path = out.with_extension("stderr.log");
    let errors = std::fs::File::create(&errors_path).map_err(RetrainError::io(&errors_path))?;
    let mut child = Command::new(&environment.python)
        .current_dir(&environment.folder)
        .args([
            "-m",
            "merit.finetune",
            "--progress",
            "--held-out-only",
            "--threads",
            "1",
            "--nice",
            "10",
        ])
        .arg("--model")
        .arg(parent)
        .arg("--manifest")
        .arg(manifest)
        .arg("--out")
        .arg(out)
        .args(match plan.request.steps {
            None => vec!["--train".to_owned(), "fit".to_owned()],
            Some(steps) => vec![
                "--train".to_owned(),
                "routers".to_owned(),
                "--steps".to_owned(),
                steps.to_string(),
            ],
        })
        .args(["--seed", &plan.request.seed.to_string()])
        .env("PYTHONWARNINGS", "ignore")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(errors)
        .spawn()
        .map_err(RetrainError::io(&environment.python))?;
    let lines = read_lines(&mut child);
    let mut reported = 0;
    loop {
        if context.is_cancelled() {
            let _ = child.kill();
            let _ = child.wait();
            return Err(RetrainError::Cancelled);
        }
        match lines.recv_timeout(Duration::from_millis(100)) {
            Ok(line) => {
                if let Ok(ProgressLine { progress }) = serde_json::from_str(&line) {
                    context.set_total(plan.rows.len() as u64 + progress.total);
                    context.advance(progress.done.saturating_sub(reported));
                    reported = reported.max(progress.done);
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    let status = child
        .wait()
        .map_err(RetrainError::io(&environment.python))?;
    if status.success() && out.is_file() {
        return Ok(());
    }
    let text = std::fs::read_to_string(&errors_path).unwrap_or_default();
    let message = text
        .lines()
        .rfind(|l| !l.trim().is_empty())
        .unwrap_or("no error output")
        .to_owned();
    Err(RetrainError::Failed {
        status: status.to_string(),
        message,
    })
}

/// The child's standard output, line by line, on a channel (closed when the child closes it).
fn read_lines(child: &mut Child) -> mpsc::Receiver<String> {
    let (sender, receiver) = mpsc::channel();
    if let Some(stdout) = child.stdout.take() {
        let spawned = std::thread::Builder::new()
            .name("retrain-output".into())
            .spawn(move || {
                for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                    if sender.send(line).is_err() {
                        break;
                    }
                }
            });
        if let Err(error) = spawned {
            tracing::warn!("cannot follow the fine-tuning's progress: {error}");
        }
    }
    receiver
}

/// `models/PARENT-ftN.onnx` with the first N not taken (a fine-tuned parent's own `-ftN` is
/// dropped first, so generations read ft1, ft2, … rather than ft1-ft1).
fn next_free_name(models: &Path, parent: &Path) -> PathBuf {
    let stem = parent
        .file_stem()
        .map_or_else(|| "model".to_owned(), |s| s.to_string_lossy().into_owned());
    let base = match stem.rsplit_once("-ft") {
        Some((base, n)) if !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()) => base,
        _ => &stem,
    };
    (1..)
        .map(|n| models.join(format!("{base}-ft{n}.onnx")))
        .find(|path| !path.exists() && !FineTuneCard::path_for(path).exists())
        .unwrap_or_else(|| models.join(format!("{base}-ft.onnx")))
}

fn labels_used(plan: &RetrainPlan, skipped_undecodable: usize) -> LabelsUsed {
    LabelsUsed {
        selection: match &plan.request.selection {
            Selection::Consensus => "consensus".to_owned(),
            Selection::Annotator(name) => name.clone(),
        },
        include_accepted: plan.request.include_accepted,
        train: plan.training_rows().count(),
        held_out: plan.held_out(),
        train_per_class: plan
            .classes
            .iter()
            .cloned()
            .zip(plan.train_per_class())
            .collect::<BTreeMap<_, _>>(),
        train_per_speaker: plan.training_rows().filter_map(|r| r.speaker.clone()).fold(
            BTreeMap::new(),
            |mut counts, speaker| {
                *counts.entry(speaker).or_insert(0) += 1;
                counts
            },
        ),
        held_out_files: plan.held_out_rows().map(|r| r.file.clone()).collect(),
        skipped_missing: plan.skipped_missing,
        skipped_other_class: plan.skipped_other_class,
        skipped_undecodable,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_models_count_up_from_the_parents_base_name() {
        let folder = tempfile::tempdir().unwrap();
        let models = folder.path();
        let shipped = Path::new("/opt/models/sparse-merit-compact.onnx");
        let first = next_free_name(models, shipped);
        assert_eq!(first, models.join("sparse-merit-compact-ft1.onnx"));
        std::fs::write(&first, b"").unwrap();
        assert_eq!(
            next_free_name(models, &first),
            models.join("sparse-merit-compact-ft2.onnx")
        );
        // A card without its model (a retrain killed between the two) keeps its name taken.
        std::fs::write(models.join("sparse-merit-compact-ft2.card.json"), b"{}").unwrap();
        assert_eq!(
            next_free_name(models, shipped),
            models.join("sparse-merit-compact-ft3.onnx")
        );
    }
}
