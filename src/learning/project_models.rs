//! A project's own models: the fine-tuned models in its `models/` folder, each with a card beside
//! it (`NAME.card.json`: parent, labels used, figures before and after), and which one the
//! project analyses with.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::model::onnx_file::MAX_CARD_BYTES;
use crate::project::{Project, ProjectError};

/// The folder of a project's own models.
pub const MODELS_FOLDER: &str = "models";

/// Held-out figures of one model, as the fine-tuning computed them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Figures {
    pub rows: usize,
    pub accuracy: f64,
    pub macro_f1: f64,
    /// F1 per class, in the card's class order.
    pub f1: Vec<f64>,
    /// Counts by (true class, predicted class).
    pub confusion: Vec<Vec<u64>>,
}

/// The labels a fine-tuning learnt from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabelsUsed {
    /// "consensus" or the annotator's name.
    pub selection: String,
    pub include_accepted: bool,
    pub train: usize,
    pub held_out: usize,
    pub train_per_class: BTreeMap<String, usize>,
    /// Training labels per speaker (recordings without a speaker are not counted); empty in cards
    /// written before it was kept.
    #[serde(default)]
    pub train_per_speaker: BTreeMap<String, usize>,
    pub held_out_files: Vec<String>,
    pub skipped_missing: usize,
    pub skipped_other_class: usize,
    pub skipped_undecodable: usize,
}

/// How a fine-tuning's training labels spread over the project's speakers.
#[derive(Debug, Clone, PartialEq)]
pub struct SpeakerSpread {
    pub speakers: usize,
    /// The speaker with the most training labels, and their share of all training labels.
    pub largest: String,
    pub largest_share: f64,
}

impl std::fmt::Display for SpeakerSpread {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "from {} speaker{}; {:.0} % from {}",
            self.speakers,
            if self.speakers == 1 { "" } else { "s" },
            self.largest_share * 100.0,
            self.largest
        )
    }
}

impl LabelsUsed {
    /// How the training labels spread over speakers; `None` when none of them has a speaker.
    #[must_use]
    pub fn speaker_spread(&self) -> Option<SpeakerSpread> {
        // The first of the speakers with the most labels, by name, so the summary is stable.
        let (largest, &most) = self
            .train_per_speaker
            .iter()
            .max_by_key(|&(name, &count)| (count, std::cmp::Reverse(name)))?;
        #[allow(clippy::cast_precision_loss)] // label counts are far below 2^52
        let largest_share = most as f64 / self.train.max(1) as f64;
        Some(SpeakerSpread {
            speakers: self.train_per_speaker.len(),
            largest: largest.clone(),
            largest_share,
        })
    }
}

/// The model a fine-tuning started from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParentModel {
    pub path: PathBuf,
    pub blake3: String,
    /// The project's `model` setting at the time (`None`: the shipped model), which switching back
    /// restores.
    pub project_model: Option<PathBuf>,
}

/// What the studio knows of a fine-tuned model (`NAME.card.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FineTuneCard {
    pub created: String,
    pub blake3: String,
    pub parent: ParentModel,
    pub labels: LabelsUsed,
    /// Gradient steps; `None` for the closed-form fit (the default since session 13; older cards
    /// always give steps).
    #[serde(default)]
    pub steps: Option<u32>,
    pub seed: u64,
    pub seconds: f64,
    pub classes: Vec<String>,
    /// The parent on the held-out labels.
    pub before: Figures,
    /// The new model (its int8-rounded weights, as stored) on the same labels.
    pub after: Figures,
}

impl FineTuneCard {
    /// Whether the new model scores below its parent on the held-out labels.
    #[must_use]
    pub fn is_worse(&self) -> bool {
        self.after.macro_f1 < self.before.macro_f1
    }

    /// The card of `model` (`NAME.onnx` → `NAME.card.json`).
    #[must_use]
    pub fn path_for(model: &Path) -> PathBuf {
        model.with_extension("card.json")
    }
}

/// One model of a project's `models/` folder.
#[derive(Debug, Clone, PartialEq)]
pub struct ProjectModel {
    pub path: PathBuf,
    /// `None` for a model put there by hand (no card), or when the card is unreadable.
    pub card: Option<FineTuneCard>,
}

impl ProjectModel {
    #[must_use]
    pub fn name(&self) -> String {
        self.path
            .file_stem()
            .map_or_else(String::new, |s| s.to_string_lossy().into_owned())
    }
}

/// Why the project's model could not be changed.
#[derive(Debug, thiserror::Error)]
pub enum ProjectModelError {
    #[error("{} is not a model file", .0.display())]
    NotAModel(PathBuf),
    #[error(transparent)]
    Project(#[from] ProjectError),
}

/// A project's model card, logged and left out when unreadable: a card comes with a project made
/// by someone else, so it is read with the same ceiling as a model's embedded card.
fn read_card(path: &Path) -> Option<FineTuneCard> {
    crate::fsio::read_text_capped(path, MAX_CARD_BYTES)
        .map_err(|e| e.to_string())
        .and_then(|text| serde_json::from_str(&text).map_err(|e| e.to_string()))
        .inspect_err(|e| tracing::warn!("{}: {e}", path.display()))
        .ok()
}

/// The models in `project`'s `models/` folder, by name (an unreadable card is logged and the
/// model listed without one).
#[must_use]
pub fn list_models(project: &Project) -> Vec<ProjectModel> {
    let folder = project.root.join(MODELS_FOLDER);
    let mut models: Vec<ProjectModel> = std::fs::read_dir(&folder)
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|e| e == "onnx") && path.is_file())
        .map(|path| {
            let card_path = FineTuneCard::path_for(&path);
            let card = card_path.is_file().then(|| read_card(&card_path)).flatten();
            ProjectModel { path, card }
        })
        .collect();
    models.sort_by(|a, b| a.path.cmp(&b.path));
    models
}

/// Makes `model` the project's model (`None`: the shipped one) and saves `project.json`. A model
/// inside the project folder is stored relative to it, so the project can move.
///
/// # Errors
/// [`ProjectModelError`] when `model` is not a file or `project.json` cannot be written.
pub fn use_model(project: &mut Project, model: Option<&Path>) -> Result<(), ProjectModelError> {
    let setting = match model {
        None => None,
        Some(path) if !path.is_file() => {
            return Err(ProjectModelError::NotAModel(path.to_path_buf()));
        }
        Some(path) => Some(
            path.strip_prefix(&project.root)
                .map_or_else(|_| path.to_path_buf(), Path::to_path_buf),
        ),
    };
    let previous = std::mem::replace(&mut project.file.model, setting);
    if let Err(error) = project.save() {
        project.file.model = previous;
        return Err(error.into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::project::ProjectFile;

    fn project_in(folder: &Path) -> Project {
        let mut project = Project::from_file(folder.to_path_buf(), ProjectFile::new("p", vec![]));
        project.save().unwrap();
        project
    }

    fn labels_from(speakers: &[(&str, usize)], train: usize) -> LabelsUsed {
        LabelsUsed {
            selection: "consensus".into(),
            include_accepted: false,
            train,
            held_out: 5,
            train_per_class: BTreeMap::new(),
            train_per_speaker: speakers
                .iter()
                .map(|(s, n)| ((*s).to_owned(), *n))
                .collect(),
            held_out_files: vec![],
            skipped_missing: 0,
            skipped_other_class: 0,
            skipped_undecodable: 0,
        }
    }

    #[test]
    fn the_speaker_spread_counts_the_speakers_and_names_the_largest() {
        // 4 of the 25 labels have no speaker; b and c tie, b comes first by name.
        let spread = labels_from(&[("c", 9), ("a", 3), ("b", 9)], 25)
            .speaker_spread()
            .unwrap();
        assert_eq!((spread.speakers, spread.largest.as_str()), (3, "b"));
        assert_eq!(spread.to_string(), "from 3 speakers; 36 % from b");
        let one = labels_from(&[("x", 20)], 25).speaker_spread().unwrap();
        assert_eq!(one.to_string(), "from 1 speaker; 80 % from x");
        assert_eq!(labels_from(&[], 25).speaker_spread(), None);
    }

    #[test]
    fn cards_written_before_speakers_were_counted_still_read() {
        let mut json = serde_json::to_value(labels_from(&[("a", 1)], 1)).unwrap();
        json.as_object_mut().unwrap().remove("train_per_speaker");
        let read: LabelsUsed = serde_json::from_value(json).unwrap();
        assert!(read.train_per_speaker.is_empty());
        assert_eq!(read.speaker_spread(), None);
    }

    #[test]
    fn a_model_inside_the_project_is_stored_relative_and_switching_back_restores_the_shipped_one() {
        let folder = tempfile::tempdir().unwrap();
        let mut project = project_in(folder.path());
        let model = folder.path().join("models/m-ft1.onnx");
        std::fs::create_dir_all(model.parent().unwrap()).unwrap();
        std::fs::write(&model, b"onnx").unwrap();
        use_model(&mut project, Some(&model)).unwrap();
        let saved = Project::open(folder.path()).unwrap();
        assert_eq!(saved.file.model, Some(PathBuf::from("models/m-ft1.onnx")));
        assert_eq!(saved.model_path(), Some(model.clone()));
        use_model(&mut project, None).unwrap();
        assert_eq!(Project::open(folder.path()).unwrap().file.model, None);
    }

    #[test]
    fn a_missing_model_is_refused_and_the_setting_kept() {
        let folder = tempfile::tempdir().unwrap();
        let mut project = project_in(folder.path());
        let gone = folder.path().join("models/gone.onnx");
        let error = use_model(&mut project, Some(&gone)).unwrap_err();
        assert!(error.to_string().contains("gone.onnx"), "{error}");
        assert_eq!(project.file.model, None);
    }

    #[test]
    fn models_are_listed_with_their_cards() {
        let folder = tempfile::tempdir().unwrap();
        let project = project_in(folder.path());
        let models = folder.path().join(MODELS_FOLDER);
        std::fs::create_dir_all(&models).unwrap();
        std::fs::write(models.join("b.onnx"), b"onnx").unwrap();
        std::fs::write(models.join("a.onnx"), b"onnx").unwrap();
        std::fs::write(models.join("a.card.json"), b"{ not json").unwrap();
        std::fs::write(models.join("notes.txt"), b"").unwrap();
        let listed = list_models(&project);
        let names: Vec<String> = listed.iter().map(ProjectModel::name).collect();
        assert_eq!(names, ["a", "b"]);
        assert!(listed.iter().all(|m| m.card.is_none()));
    }

    #[test]
    fn a_card_over_the_ceiling_is_left_out_like_a_malformed_one() {
        let figures = Figures {
            rows: 2,
            accuracy: 0.5,
            macro_f1: 0.5,
            f1: vec![0.5],
            confusion: vec![vec![1]],
        };
        let card = FineTuneCard {
            created: "2026-12-05T10:00:00Z".into(),
            blake3: "00".into(),
            parent: ParentModel {
                path: "parent.onnx".into(),
                blake3: "11".into(),
                project_model: None,
            },
            labels: LabelsUsed {
                selection: "consensus".into(),
                include_accepted: false,
                train: 8,
                held_out: 2,
                train_per_class: BTreeMap::new(),
                train_per_speaker: BTreeMap::new(),
                held_out_files: vec![],
                skipped_missing: 0,
                skipped_other_class: 0,
                skipped_undecodable: 0,
            },
            steps: None,
            seed: 0,
            seconds: 1.0,
            classes: vec!["angry".into()],
            before: figures.clone(),
            after: figures,
        };
        let folder = tempfile::tempdir().unwrap();
        let project = project_in(folder.path());
        let models = folder.path().join(MODELS_FOLDER);
        std::fs::create_dir_all(&models).unwrap();
        let json = serde_json::to_string(&card).unwrap();
        for name in ["kept", "padded"] {
            std::fs::write(models.join(format!("{name}.onnx")), b"onnx").unwrap();
        }
        std::fs::write(models.join("kept.card.json"), &json).unwrap();
        // Still valid JSON, one byte over the ceiling.
        let padding = " ".repeat(usize::try_from(MAX_CARD_BYTES).unwrap() + 1 - json.len());
        std::fs::write(models.join("padded.card.json"), json.clone() + &padding).unwrap();
        let listed = list_models(&project);
        assert_eq!(listed[0].card.as_ref(), Some(&card));
        assert_eq!(listed[1].name(), "padded");
        assert!(listed[1].card.is_none());
    }
}
