//! Carrying out the retrain window's actions: start and cancel a retrain, and switch the
//! project's model (asking first when the new one scores below its parent), keeping the previous
//! model's predictions and analysing the collection with the new one in the background.

use super::app::StudioApp;
use super::retraining::{Comparison, RetrainAction};

impl StudioApp {
    pub(super) fn apply_retrain(&mut self, action: RetrainAction) {
        let project = self.collection.project.as_ref();
        match action {
            RetrainAction::Show(shown) => {
                self.retrain.open = shown;
                if shown {
                    self.retrain.refresh(project);
                }
            }
            RetrainAction::SetChoice {
                mine_only,
                include_accepted,
                steps,
            } => {
                self.retrain.mine_only = mine_only;
                self.retrain.include_accepted = include_accepted;
                self.retrain.steps = steps;
            }
            RetrainAction::Start => {
                let parent = self.engine.engine.model_path.clone();
                let annotator = self.labelling.annotations.annotator();
                self.retrain
                    .start(project, parent, annotator, self.notify.clone());
            }
            RetrainAction::Cancel => self.retrain.cancel(),
            RetrainAction::Use { model, confirmed } => {
                if !confirmed
                    && model
                        .as_deref()
                        .is_some_and(|m| self.retrain.needs_confirmation(m))
                {
                    self.retrain.confirm = model;
                    return;
                }
                self.retrain.confirm = None;
                self.switch_model(model.as_deref());
            }
            RetrainAction::KeepCurrent => self.retrain.confirm = None,
        }
    }

    /// Makes `model` the project's model (`None`: the shipped one), then re-analyses.
    fn switch_model(&mut self, model: Option<&std::path::Path>) {
        let Some(project) = self.collection.project.as_mut() else {
            return;
        };
        if let Err(error) = crate::learning::use_model(project, model) {
            self.retrain.switch_error = Some(error.to_string());
            return;
        }
        self.retrain.switch_error = None;
        let previous_model = self
            .engine
            .engine
            .model_path
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        self.retrain.comparison = Some(Comparison {
            previous_model,
            predictions: self.engine.engine.predictions(),
        });
        self.engine.use_project_model(
            self.collection.project.as_ref(),
            &self.collection.collection,
        );
        let paths = self.collection.collection.paths();
        // What the cache already knows of the new model shows at once; the rest is analysed.
        self.engine
            .engine
            .recall_cached(paths.clone(), self.notify.clone());
        self.engine.engine.analyze_all(paths, self.notify.clone());
        self.run(super::commands::Command::AnalyseRecording);
    }
}
