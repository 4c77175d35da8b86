//! Title bar with the project, model and runtime status, and the footer with collection counts
//! and background progress.

use crate::audio::format_duration;
use crate::ui::commands::{Action, Command, CommandSender, tooltip};
use crate::ui::player::Playback;
use crate::ui::view::StudioView;

pub fn header_ui(ui: &mut egui::Ui, view: &StudioView<'_>, commands: &CommandSender) {
    let collection = view.collection;
    let engine = &view.engine.engine;
    ui.horizontal(|ui| {
        ui.heading("MERIT Studio");
        ui.separator();
        match &collection.project {
            Some(project) => {
                ui.label(egui::RichText::new(&project.file.name).strong())
                    .on_hover_text(project.root.display().to_string());
            }
            None => {
                ui.label("no project open");
            }
        }
        if collection.read_only {
            ui.colored_label(ui.visuals().warn_fg_color, "read-only")
                .on_hover_text("This project folder cannot be written: it opens read-only.");
        }
        if ui
            .button("Open…")
            .on_hover_text(tooltip(ui.ctx(), Command::OpenProject))
            .clicked()
        {
            commands.send(Command::OpenProject);
        }
        ui.add_enabled_ui(collection.recent.paths.len() > 1, |ui| {
            ui.menu_button("Recent", |ui| {
                for path in collection.recent.paths.iter().skip(1) {
                    if ui.button(path.display().to_string()).clicked() {
                        commands.send(Action::OpenPath(path.clone()));
                    }
                }
            });
        });
        ui.separator();
        annotator_ui(ui, view, commands);
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            match &view.engine.runtime {
                None => {
                    ui.weak("looking for ONNX Runtime…");
                }
                Some(Ok(library)) => {
                    let version = library.version.as_deref().unwrap_or("?");
                    ui.weak(format!("ONNX Runtime {version}"))
                        .on_hover_text(library.path.display().to_string());
                }
                Some(Err(error)) => {
                    ui.colored_label(ui.visuals().warn_fg_color, "ONNX Runtime not found")
                        .on_hover_text(format!(
                            "{error}\nRun scripts/studio.sh (it installs it) or set ORT_DYLIB_PATH."
                        ));
                }
            }
            ui.separator();
            let model_text = match (&engine.status, &engine.model_error) {
                (Some(status), _) => format!("{} · {}", status.card.model, status.runs_on()),
                (None, Some(_)) => "model failed to load".to_owned(),
                (None, None) => {
                    let stem = engine
                        .model_path
                        .file_stem()
                        .map_or_else(String::new, |s| s.to_string_lossy().into_owned());
                    // The first analysis job loads the model (and checks it against the contract).
                    if engine.is_busy() {
                        format!("loading {stem}…")
                    } else {
                        stem
                    }
                }
            };
            if ui
                .button(model_text)
                .on_hover_text(tooltip(ui.ctx(), Command::ShowModelCard))
                .clicked()
            {
                commands.send(Command::ShowModelCard);
            }
            if let Playback::Unavailable(reason) = &view.player.output {
                ui.colored_label(ui.visuals().warn_fg_color, "no audio output")
                    .on_hover_text(reason);
            }
        });
    });
    if let Some(error) = &collection.open_error {
        ui.colored_label(ui.visuals().error_fg_color, error.to_string());
    }
}

/// The annotator field: taken when it loses focus.
fn annotator_ui(ui: &mut egui::Ui, view: &StudioView<'_>, commands: &CommandSender) {
    let labelling = view.labelling;
    let mut typed = labelling.annotator_input.clone();
    let label = ui.label("Annotator");
    let field = ui
        .add(
            egui::TextEdit::singleline(&mut typed)
                .hint_text("your name")
                .desired_width(90.0),
        )
        .labelled_by(label.id);
    if field.lost_focus()
        && !typed.is_empty()
        && labelling.annotations.annotator() != Some(typed.as_str())
    {
        commands.send(Action::SetAnnotator(typed));
    } else if typed != labelling.annotator_input {
        commands.send(Action::EditAnnotatorField(typed));
    }
}

pub fn footer_ui(ui: &mut egui::Ui, view: &StudioView<'_>, commands: &CommandSender) {
    let collection = view.collection;
    let annotations = &view.labelling.annotations;
    let engine = &view.engine.engine;
    ui.horizontal(|ui| {
        let checked: Vec<_> = collection.checks.iter().flatten().collect();
        let broken = checked.iter().filter(|c| c.is_err()).count();
        let total_secs: f64 = checked
            .iter()
            .filter_map(|c| c.as_ref().ok()?.duration_secs())
            .sum();
        let analysed = engine.analysed_count();
        ui.label(format!(
            "{} recordings · {} analysed · {} broken · {} of audio",
            collection.collection.recordings.len(),
            analysed,
            broken,
            format_duration(total_secs)
        ));
        let orphans = &collection.orphans;
        if !orphans.is_empty() {
            ui.separator();
            ui.colored_label(
                ui.visuals().warn_fg_color,
                format!(
                    "{} labelled recordings not in the collection",
                    orphans.len()
                ),
            )
            .on_hover_text(format!(
                "Their labels are kept in the journals:\n{}",
                orphans.join("\n")
            ));
        }
        if !annotations.warnings().is_empty() {
            ui.separator();
            ui.colored_label(
                ui.visuals().warn_fg_color,
                format!("{} journal problems", annotations.warnings().len()),
            )
            .on_hover_text(
                annotations
                    .warnings()
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("\n"),
            );
        }
        if !collection.collection.issues.is_empty() {
            ui.separator();
            ui.colored_label(
                ui.visuals().warn_fg_color,
                format!("{} collection problems", collection.collection.issues.len()),
            )
            .on_hover_text(
                collection
                    .collection
                    .issues
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("\n"),
            );
        }
        if let Some(progress) = collection.opening_progress() {
            ui.separator();
            ui.spinner();
            ui.label(if progress.total == 0 {
                format!("opening… {} recordings listed", progress.done)
            } else {
                format!(
                    "opening… reading the journals of {} recordings",
                    progress.total
                )
            });
        }
        if let Some((done, total)) = collection.check_progress() {
            ui.separator();
            ui.add(
                egui::ProgressBar::new(done as f32 / total.max(1) as f32)
                    .desired_width(200.0)
                    .text(format!("reading headers {done}/{total}")),
            );
        }
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            if let Some(progress) = engine.collection_progress() {
                if ui
                    .button("Cancel")
                    .on_hover_text(tooltip(ui.ctx(), Command::CancelAnalysis))
                    .clicked()
                {
                    commands.send(Command::CancelAnalysis);
                }
                let eta = progress.eta().map_or_else(String::new, |eta| {
                    format!(", {} left", format_duration(eta.as_secs_f64()))
                });
                ui.add(
                    egui::ProgressBar::new(progress.fraction())
                        .desired_width(260.0)
                        .text(format!(
                            "analysing {}/{}{eta}",
                            progress.done, progress.total
                        )),
                );
            } else if ui
                .button("Analyse all")
                .on_hover_text(tooltip(ui.ctx(), Command::AnalyseCollection))
                .clicked()
            {
                commands.send(Command::AnalyseCollection);
            }
        });
    });
}
