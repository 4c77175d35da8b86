//! Title bar with the project and runtime status, and the footer with collection counts.

use crate::cli::format_duration;
use crate::ui::app::StudioApp;

pub fn header_ui(ui: &mut egui::Ui, app: &StudioApp) {
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
        ui.with_layout(
            egui::Layout::right_to_left(egui::Align::Center),
            |ui| match &app.runtime {
                Ok(library) => {
                    let version = library.version.as_deref().unwrap_or("?");
                    let flavour = if library.has_cuda_provider {
                        "CUDA + CPU"
                    } else {
                        "CPU"
                    };
                    ui.label(format!("ONNX Runtime {version} ({flavour})"))
                        .on_hover_text(library.path.display().to_string());
                }
                Err(error) => {
                    ui.colored_label(ui.visuals().warn_fg_color, "ONNX Runtime not found")
                        .on_hover_text(error);
                }
            },
        );
    });
    if let Some(error) = &app.open_error {
        ui.colored_label(ui.visuals().error_fg_color, error);
    }
}

pub fn footer_ui(ui: &mut egui::Ui, app: &StudioApp) {
    ui.horizontal(|ui| {
        let checked: Vec<_> = app.checks.iter().flatten().collect();
        let broken = checked.iter().filter(|c| c.is_err()).count();
        let total_secs: f64 = checked
            .iter()
            .filter_map(|c| c.as_ref().ok()?.duration_secs())
            .sum();
        ui.label(format!(
            "{} recordings · {} broken · {} of audio",
            app.collection.recordings.len(),
            broken,
            format_duration(total_secs)
        ));
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
                    .text(format!("reading headers {done}/{total}")),
            );
        }
    });
}
