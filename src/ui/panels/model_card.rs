//! The model card window: which model runs where, its classes, experts and evaluation.

use crate::ui::commands::{Action, CommandSender};
use crate::ui::view::StudioView;

pub fn model_card_ui(ctx: &egui::Context, view: &StudioView<'_>, commands: &CommandSender) {
    if !view.windows.model_card {
        return;
    }
    let engine = &view.engine.engine;
    let mut open = true;
    egui::Window::new("Model")
        .open(&mut open)
        .default_width(460.0)
        .show(ctx, |ui| {
            ui.label(engine.model_path.display().to_string());
            match (&engine.status, &engine.model_error) {
                (Some(status), _) => {
                    let card = &status.card;
                    egui::Grid::new("model-card").num_columns(2).show(ui, |ui| {
                        ui.label("model");
                        ui.label(format!("{} {}", card.model, card.version));
                        ui.end_row();
                        ui.label("runs on");
                        ui.label(status.runs_on());
                        ui.end_row();
                        if status.running != engine.model_path {
                            ui.label("file");
                            ui.label(format!(
                                "{}: its int8 variant, which the CPU runs in its place",
                                status.running.display()
                            ));
                            ui.end_row();
                        }
                        ui.label("classes");
                        ui.label(card.classes.join(", "));
                        ui.end_row();
                        ui.label("experts");
                        ui.label(format!("{} (top-{})", card.n_experts, card.top_k));
                        ui.end_row();
                        ui.label("emotion");
                        ui.label(if card.speaker_relative {
                            "relative to the speaker: against the mean of the speaker's other \
                             recordings (the manifest's speaker column)"
                        } else {
                            "from the recording alone"
                        });
                        ui.end_row();
                        ui.label("hash");
                        ui.monospace(&status.hash[..16.min(status.hash.len())]);
                        ui.end_row();
                    });
                    ui.separator();
                    ui.label(egui::RichText::new("Trained on").strong());
                    ui.label(&card.trained_on);
                    if !card.evaluation.is_null() {
                        ui.label(egui::RichText::new("Evaluation").strong());
                        let text =
                            serde_json::to_string_pretty(&card.evaluation).unwrap_or_default();
                        egui::ScrollArea::vertical()
                            .max_height(240.0)
                            .show(ui, |ui| ui.monospace(text));
                    }
                }
                (None, Some(error)) => {
                    ui.colored_label(ui.visuals().error_fg_color, error.to_string());
                    ui.label(
                        "Run scripts/studio.sh (it installs ONNX Runtime), or set ORT_DYLIB_PATH; \
                         choose another model with Ctrl+M.",
                    );
                }
                (None, None) => {
                    ui.weak("loaded with the first analysis (press A)");
                }
            }
        });
    if !open {
        commands.send(Action::ShowModelCard(false));
    }
}
