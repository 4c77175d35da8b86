//! Title bar with the project, model and runtime status, and the footer with collection counts
//! and background progress.

use crate::audio::format_duration;
use crate::ui::app::{Playback, StudioApp};
use crate::ui::commands::{Command, tooltip};

pub fn header_ui(ui: &mut egui::Ui, app: &mut StudioApp) {
    let mut command = None;
    ui.horizontal(|ui| {
        ui.heading("MERIT Studio");
        ui.separator();
        match &app.project {
            Some(project) => {
                ui.label(egui::RichText::new(&project.file.name).strong())
                    .on_hover_text(project.root.display().to_string());
            }
            None => {
                ui.label("no project open");
            }
        }
        if app.read_only {
            ui.colored_label(ui.visuals().warn_fg_color, "read-only")
                .on_hover_text("This project folder cannot be written: it opens read-only.");
        }
        if ui
            .button("Open…")
            .on_hover_text(tooltip(ui.ctx(), Command::OpenProject))
            .clicked()
        {
            command = Some(Command::OpenProject);
        }
        let mut reopen = None;
        ui.add_enabled_ui(app.recent.paths.len() > 1, |ui| {
            ui.menu_button("Recent", |ui| {
                for path in app.recent.paths.iter().skip(1) {
                    if ui.button(path.display().to_string()).clicked() {
                        reopen = Some(path.clone());
                    }
                }
            });
        });
        if let Some(path) = reopen {
            app.open_path(&path);
        }
        ui.separator();
        let label = ui.label("Annotator");
        let field = ui
            .add(
                egui::TextEdit::singleline(&mut app.annotator_input)
                    .hint_text("your name")
                    .desired_width(90.0),
            )
            .labelled_by(label.id);
        if field.lost_focus()
            && !app.annotator_input.is_empty()
            && app.annotations.annotator() != Some(app.annotator_input.as_str())
        {
            let name = app.annotator_input.clone();
            app.set_annotator(&name);
        }
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            match &app.runtime {
                Ok(library) => {
                    let version = library.version.as_deref().unwrap_or("?");
                    ui.weak(format!("ONNX Runtime {version}"))
                        .on_hover_text(library.path.display().to_string());
                }
                Err(error) => {
                    ui.colored_label(ui.visuals().warn_fg_color, "ONNX Runtime not found")
                        .on_hover_text(format!(
                            "{error}\nRun scripts/studio.sh (it installs it) or set ORT_DYLIB_PATH."
                        ));
                }
            }
            ui.separator();
            let model_text = match (&app.engine.status, &app.engine.model_error) {
                (Some(status), _) => format!(
                    "{} · {}",
                    status.card.model,
                    status.provider.to_string().to_uppercase()
                ),
                (None, Some(_)) => "model failed to load".to_owned(),
                (None, None) => app
                    .engine
                    .model_path
                    .file_stem()
                    .map_or_else(String::new, |s| s.to_string_lossy().into_owned()),
            };
            if ui
                .button(model_text)
                .on_hover_text(tooltip(ui.ctx(), Command::ShowModelCard))
                .clicked()
            {
                command = Some(Command::ShowModelCard);
            }
            if let Playback::Unavailable(reason) = &app.playback {
                ui.colored_label(ui.visuals().warn_fg_color, "no audio output")
                    .on_hover_text(reason);
            }
        });
    });
    if let Some(error) = &app.open_error {
        ui.colored_label(ui.visuals().error_fg_color, error.to_string());
    }
    if let Some(command) = command {
        app.run(command);
    }
}

pub fn footer_ui(ui: &mut egui::Ui, app: &mut StudioApp) {
    let mut command = None;
    ui.horizontal(|ui| {
        let checked: Vec<_> = app.checks.iter().flatten().collect();
        let broken = checked.iter().filter(|c| c.is_err()).count();
        let total_secs: f64 = checked
            .iter()
            .filter_map(|c| c.as_ref().ok()?.duration_secs())
            .sum();
        let analysed = app.engine.analysed_count();
        ui.label(format!(
            "{} recordings · {} analysed · {} broken · {} of audio",
            app.collection.recordings.len(),
            analysed,
            broken,
            format_duration(total_secs)
        ));
        let orphans = &app.orphans;
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
        if !app.annotations.warnings().is_empty() {
            ui.separator();
            ui.colored_label(
                ui.visuals().warn_fg_color,
                format!("{} journal problems", app.annotations.warnings().len()),
            )
            .on_hover_text(
                app.annotations
                    .warnings()
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("\n"),
            );
        }
        if !app.collection.issues.is_empty() {
            ui.separator();
            ui.colored_label(
                ui.visuals().warn_fg_color,
                format!("{} collection problems", app.collection.issues.len()),
            )
            .on_hover_text(
                app.collection
                    .issues
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("\n"),
            );
        }
        if let Some((done, total)) = app.check_progress() {
            ui.separator();
            ui.add(
                egui::ProgressBar::new(done as f32 / total.max(1) as f32)
                    .desired_width(200.0)
                    .text(format!("reading headers {done}/{total}")),
            );
        }
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            if let Some(progress) = app.engine.collection_progress() {
                if ui
                    .button("Cancel")
                    .on_hover_text(tooltip(ui.ctx(), Command::CancelAnalysis))
                    .clicked()
                {
                    command = Some(Command::CancelAnalysis);
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
                command = Some(Command::AnalyseCollection);
            }
        });
    });
    if let Some(command) = command {
        app.run(command);
    }
}
