//! The command palette (Ctrl+K) and the model card window.

use crate::ui::app::StudioApp;
use crate::ui::commands::COMMANDS;

pub fn palette_ui(ctx: &egui::Context, app: &mut StudioApp) {
    let Some(mut query) = app.palette.take() else {
        return;
    };
    let mut chosen = None;
    let mut open = true;
    let mut escape = false;
    egui::Window::new("Commands")
        .collapsible(false)
        .resizable(false)
        .anchor(egui::Align2::CENTER_TOP, [0.0, 80.0])
        .open(&mut open)
        .show(ctx, |ui| {
            let search = ui.add(
                egui::TextEdit::singleline(&mut query)
                    .hint_text("type to filter commands")
                    .desired_width(360.0),
            );
            search.request_focus();
            let needle = query.to_lowercase();
            let matching: Vec<_> = COMMANDS
                .iter()
                .filter(|(_, name, _)| name.to_lowercase().contains(&needle))
                .collect();
            for (command, name, shortcut) in &matching {
                ui.horizontal(|ui| {
                    if ui.selectable_label(false, *name).clicked() {
                        chosen = Some(*command);
                    }
                    ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                        ui.weak(ctx.format_shortcut(shortcut));
                    });
                });
            }
            if search.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter)) {
                chosen = matching.first().map(|(command, _, _)| *command);
            }
            escape = ui.input(|i| i.key_pressed(egui::Key::Escape));
        });
    if let Some(command) = chosen {
        app.run(command);
    } else if open && !escape {
        app.palette = Some(query);
    }
}

pub fn export_ui(ctx: &egui::Context, app: &mut StudioApp) {
    use crate::export::Format;
    use crate::ui::commands::{Command, tooltip};
    if !app.export.open {
        return;
    }
    let mut open = true;
    let mut go = false;
    egui::Window::new("Export labels")
        .open(&mut open)
        .default_width(380.0)
        .show(ctx, |ui| {
            egui::ComboBox::from_label("Format")
                .selected_text(format!("{:?}", app.export.format).to_lowercase())
                .show_ui(ui, |ui| {
                    for format in [
                        Format::Msp,
                        Format::Audiofolder,
                        Format::Jsonl,
                        Format::Textgrid,
                        Format::Eaf,
                        Format::Audacity,
                    ] {
                        ui.selectable_value(
                            &mut app.export.format,
                            format,
                            format!("{format:?}").to_lowercase(),
                        );
                    }
                });
            let me = app.annotations.annotator().map(str::to_owned);
            ui.add_enabled_ui(me.is_some(), |ui| {
                ui.checkbox(
                    &mut app.export.mine_only,
                    format!(
                        "only {}'s labels (else the consensus)",
                        me.as_deref().unwrap_or("my")
                    ),
                );
            });
            ui.weak("Splits, model labels and enhanced audio: merit-studio export (see README).");
            if app.export.job.is_some() {
                ui.horizontal(|ui| {
                    ui.spinner();
                    ui.label("exporting…");
                });
            } else if ui
                .button("Choose a folder and export…")
                .on_hover_text(tooltip(ui.ctx(), Command::ChooseExportFolder))
                .clicked()
            {
                go = true;
            }
            match &app.export.message {
                Some(Ok(text)) => {
                    ui.label(text);
                }
                Some(Err(error)) => {
                    ui.colored_label(ui.visuals().error_fg_color, error.to_string());
                }
                None => {}
            }
        });
    app.export.open = open;
    if go {
        app.run(Command::ChooseExportFolder);
    }
}

pub fn model_card_ui(ctx: &egui::Context, app: &mut StudioApp) {
    if !app.show_model_card {
        return;
    }
    let mut open = true;
    egui::Window::new("Model")
        .open(&mut open)
        .default_width(460.0)
        .show(ctx, |ui| {
            ui.label(app.engine.model_path.display().to_string());
            match (&app.engine.status, &app.engine.model_error) {
                (Some(status), _) => {
                    let card = &status.card;
                    egui::Grid::new("model-card").num_columns(2).show(ui, |ui| {
                        ui.label("model");
                        ui.label(format!("{} {}", card.model, card.version));
                        ui.end_row();
                        ui.label("runs on");
                        ui.label(status.provider.to_string().to_uppercase());
                        ui.end_row();
                        ui.label("classes");
                        ui.label(card.classes.join(", "));
                        ui.end_row();
                        ui.label("experts");
                        ui.label(format!("{} (top-{})", card.n_experts, card.top_k));
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
    app.show_model_card = open;
}
