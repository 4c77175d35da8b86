//! Which labels a retrain learns from and which it is scored on: the project's human labels
//! (consensus or one annotator), mapped onto the model's classes, with a seeded,
//! speaker-disjoint part held out.

use crate::annotation::AnnotationStore;
use crate::export::{ExportOptions, ExportRow, Selection, SplitPlan, assign_splits, rows};
use crate::project::{Collection, Project};

use super::RetrainError;

/// Fewest labels of each class the fine-tuning learns from (outside the held-out part).
pub const MIN_PER_CLASS: usize = 4;

/// Gradient steps offered when a retrain asks for steps rather than the closed-form refit.
pub const DEFAULT_GRADIENT_STEPS: u32 = 200;

/// What a retrain is asked to learn from and how.
#[derive(Debug, Clone, PartialEq)]
pub struct RetrainRequest {
    /// The consensus of every annotator, or one annotator's labels.
    pub selection: Selection,
    /// Also learn from the model's own predictions that annotators accepted (never by default:
    /// the model would learn what it already says).
    pub include_accepted: bool,
    /// How the model learns: `None`, its emotion head's output layer refitted in closed form on
    /// the labelled recordings (`merit.finetune --train fit`, one pass, the parent kept where the
    /// labels do not help); `Some(n)`, n gradient steps on the SER head and routers.
    pub steps: Option<u32>,
    /// Seeds the held-out part and the fine-tuning.
    pub seed: u64,
    /// Share of the labelled recordings held out to score the parent and the new model on.
    pub held_out: f64,
}

impl Default for RetrainRequest {
    fn default() -> Self {
        Self {
            selection: Selection::Consensus,
            include_accepted: false,
            steps: None,
            seed: 0,
            held_out: 0.2,
        }
    }
}

/// The rows a retrain uses, each labelled with one of the model's classes and split into
/// "train" and "test" (held out), and what it left out.
#[derive(Debug, Clone)]
pub struct RetrainPlan {
    pub request: RetrainRequest,
    /// The parent model's classes, in output order.
    pub classes: Vec<String>,
    pub rows: Vec<ExportRow>,
    /// Labelled recordings whose audio file is gone.
    pub skipped_missing: usize,
    /// Labels that are none of the model's classes (or annotators who disagree).
    pub skipped_other_class: usize,
}

/// The split `assign_splits` gives the held-out rows; merit.finetune holds out the rows so named.
const HELD_OUT_SPLIT: &str = "test";

fn is_held_out(row: &ExportRow) -> bool {
    row.split.as_deref() == Some(HELD_OUT_SPLIT)
}

impl RetrainPlan {
    /// The rows the new model learns from.
    pub fn training_rows(&self) -> impl Iterator<Item = &ExportRow> {
        self.rows.iter().filter(|row| !is_held_out(row))
    }

    /// The rows kept out to score the parent and the new model on.
    pub fn held_out_rows(&self) -> impl Iterator<Item = &ExportRow> {
        self.rows.iter().filter(|row| is_held_out(row))
    }

    /// How many rows are held out.
    #[must_use]
    pub fn held_out(&self) -> usize {
        self.held_out_rows().count()
    }

    /// Training labels per class, in `classes` order.
    #[must_use]
    pub fn train_per_class(&self) -> Vec<usize> {
        self.classes
            .iter()
            .map(|class| {
                self.training_rows()
                    .filter(|row| row.label.as_ref() == Some(class))
                    .count()
            })
            .collect()
    }
}

/// Plans a retrain of a model with `classes` on `project`'s labels.
///
/// # Errors
/// [`RetrainError::NothingHeldOut`] when the labels cannot be split, [`RetrainError::TooFewLabels`]
/// (naming how many more of each class) when a class has fewer than [`MIN_PER_CLASS`] training
/// labels.
pub fn plan_retrain(
    project: &Project,
    collection: &Collection,
    store: &AnnotationStore,
    classes: &[String],
    request: &RetrainRequest,
) -> Result<RetrainPlan, RetrainError> {
    let options = ExportOptions {
        selection: request.selection.clone(),
        human_only: !request.include_accepted,
        ..ExportOptions::default()
    };
    let scheme = &project.file.label_scheme;
    // The model's class each of the project's class ids stands for ("Angry" in a model card and
    // "angry" in the scheme are one class).
    let model_class = |label: &str| {
        classes
            .iter()
            .find(|c| c.as_str() == label || scheme.resolve_class(c).is_some_and(|s| s.id == label))
            .cloned()
    };
    let (mut skipped_missing, mut skipped_other_class) = (0, 0);
    let mut planned = Vec::new();
    for mut row in rows(collection, store, &options) {
        let Some(class) = row.label.as_deref().and_then(model_class) else {
            skipped_other_class += usize::from(row.label.is_some());
            continue;
        };
        if !row.path.is_file() {
            skipped_missing += 1;
            continue;
        }
        row.label = Some(class);
        planned.push(row);
    }
    assign_splits(
        &mut planned,
        SplitPlan {
            dev: 0.0,
            test: request.held_out,
            seed: request.seed,
        },
    );
    let plan = RetrainPlan {
        request: request.clone(),
        classes: classes.to_vec(),
        rows: planned,
        skipped_missing,
        skipped_other_class,
    };
    let held_out = plan.held_out();
    if held_out == 0 || held_out == plan.rows.len() {
        return Err(RetrainError::NothingHeldOut {
            labelled: plan.rows.len(),
        });
    }
    let short: Vec<(String, usize)> = classes
        .iter()
        .zip(plan.train_per_class())
        .filter(|(_, n)| *n < MIN_PER_CLASS)
        .map(|(class, n)| (class.clone(), MIN_PER_CLASS - n))
        .collect();
    if !short.is_empty() {
        return Err(RetrainError::TooFewLabels { short, held_out });
    }
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::annotation::{ClassSource, Op};
    use crate::project::{ProjectFile, Source};

    const CLASSES: [&str; 2] = ["angry", "sad"];

    /// A project of `per_class` × 2 files (one speaker each, every file present), labelled by
    /// "ana" with each file's class; files `accepted` more per class labelled by accepting the
    /// model.
    fn labelled(
        per_class: usize,
        accepted: usize,
    ) -> (tempfile::TempDir, Project, AnnotationStore) {
        let dir = tempfile::tempdir().unwrap();
        let project = Project::from_file(
            dir.path().to_path_buf(),
            ProjectFile::new(
                "p",
                vec![Source::Folder {
                    path: "audio".into(),
                    recursive: true,
                }],
            ),
        );
        std::fs::create_dir_all(dir.path().join("audio")).unwrap();
        let mut store = AnnotationStore::load(dir.path()).unwrap();
        store.set_annotator("ana").unwrap();
        for class in CLASSES {
            for n in 0..per_class + accepted {
                let file = format!("{class}_{n}.wav");
                std::fs::write(dir.path().join("audio").join(&file), b"").unwrap();
                let source = if n < per_class {
                    ClassSource::Human
                } else {
                    ClassSource::AcceptedModel
                };
                let op = Op::SetClass {
                    class: Some(class.into()),
                    source,
                    model: None,
                };
                store.edit(&file, op).unwrap();
            }
        }
        (dir, project, store)
    }

    fn classes() -> Vec<String> {
        CLASSES.iter().map(|c| (*c).to_owned()).collect()
    }

    #[test]
    fn accepted_predictions_are_left_out_unless_asked_for() {
        let (_dir, project, store) = labelled(10, 3);
        let collection = Collection::load(&project);
        let request = RetrainRequest::default();
        let plan = plan_retrain(&project, &collection, &store, &classes(), &request).unwrap();
        assert_eq!(plan.rows.len(), 20);
        assert!(plan.rows.iter().all(|r| r.source == "human"));
        let with_accepted = RetrainRequest {
            include_accepted: true,
            ..request
        };
        let plan = plan_retrain(&project, &collection, &store, &classes(), &with_accepted).unwrap();
        assert_eq!(plan.rows.len(), 26);
        assert_eq!(
            plan.held_out() + plan.train_per_class().iter().sum::<usize>(),
            26
        );
    }

    #[test]
    fn labels_map_onto_the_models_class_names_and_other_classes_are_counted() {
        let (_dir, project, store) = labelled(10, 0);
        let collection = Collection::load(&project);
        // A model that calls the classes "Angry" and "Sad", and knows no third class.
        let model_classes = vec!["Angry".to_owned(), "Sad".to_owned()];
        let plan = plan_retrain(
            &project,
            &collection,
            &store,
            &model_classes,
            &RetrainRequest::default(),
        )
        .unwrap();
        assert!(plan.rows.iter().all(|r| {
            r.label
                .as_deref()
                .is_some_and(|l| l.starts_with(char::is_uppercase))
        }));
        let only_angry = vec!["Angry".to_owned()];
        let plan = plan_retrain(
            &project,
            &collection,
            &store,
            &only_angry,
            &RetrainRequest::default(),
        )
        .unwrap();
        assert_eq!(plan.skipped_other_class, 10);
    }

    #[test]
    fn too_few_of_a_class_names_how_many_more() {
        let (_dir, project, store) = labelled(3, 0);
        let collection = Collection::load(&project);
        let error = plan_retrain(
            &project,
            &collection,
            &store,
            &classes(),
            &RetrainRequest::default(),
        )
        .unwrap_err();
        assert!(
            matches!(&error, RetrainError::TooFewLabels { short, .. } if short.len() == 2),
            "{error}"
        );
        assert!(error.to_string().contains("more angry"), "{error}");
    }
}
