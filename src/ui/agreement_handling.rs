//! Applying the agreement window's actions: show or hide it, compute the figures (again) from the
//! open project's journals, with the engine analysing the traced recordings for the model proxy.

use super::agreement::AgreementAction;
use super::app::StudioApp;

impl StudioApp {
    pub(super) fn apply_agreement(&mut self, action: AgreementAction) {
        match action {
            AgreementAction::Show(shown) => {
                self.agreement.open = shown;
                if shown && self.agreement.figures.is_none() && !self.agreement.is_busy() {
                    self.compute_agreement();
                }
            }
            AgreementAction::Recompute => self.compute_agreement(),
        }
    }

    fn compute_agreement(&mut self) {
        let Some(project) = &self.collection.project else {
            return;
        };
        let recordings = self
            .collection
            .collection
            .recordings
            .iter()
            .enumerate()
            .map(|(index, r)| (index, r.listed_path.clone(), r.path.clone()))
            .collect();
        self.agreement.start(
            project,
            &self.labelling.annotations,
            recordings,
            self.engine.engine.analyser(),
            self.notify.clone(),
        );
    }
}
