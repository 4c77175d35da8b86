//! The collection browser: one row per recording, virtualised so 100,000 rows scroll smoothly.

use crate::cli::format_duration;
use crate::ui::app::StudioApp;

pub fn browser_ui(ui: &mut egui::Ui, app: &mut StudioApp) {
    let row_height = ui.text_style_height(&egui::TextStyle::Body) + 6.0;
    let rows = app.collection.recordings.len();
    egui::Grid::new("browser-header")
        .num_columns(5)
        .min_col_width(90.0)
        .show(ui, |ui| {
            for title in ["File", "Duration", "Format", "Speaker", "Status"] {
                ui.strong(title);
            }
            ui.end_row();
        });
    ui.separator();
    egui::ScrollArea::vertical()
        .auto_shrink(false)
        .show_rows(ui, row_height, rows, |ui, range| {
            egui::Grid::new("browser-rows")
                .num_columns(5)
                .min_col_width(90.0)
                .striped(true)
                .start_row(range.start)
                .show(ui, |ui| {
                    for index in range {
                        let recording = &app.collection.recordings[index];
                        let selected = app.selected == Some(index);
                        if ui
                            .selectable_label(selected, &recording.listed_path)
                            .on_hover_text(recording.path.display().to_string())
                            .clicked()
                        {
                            app.selected = Some(index);
                        }
                        match app.checks.get(index).and_then(Option::as_ref) {
                            Some(Ok(check)) => {
                                ui.label(
                                    check
                                        .duration_secs()
                                        .map_or_else(|| "?".to_owned(), format_duration),
                                );
                                ui.label(format!(
                                    "{} · {} Hz · {} ch",
                                    check.info.codec,
                                    check.info.sample_rate_hz,
                                    check.info.channels
                                ));
                            }
                            Some(Err(_)) | None => {
                                ui.label("–");
                                ui.label("–");
                            }
                        }
                        ui.label(recording.speaker.as_deref().unwrap_or("–"));
                        match app.checks.get(index).and_then(Option::as_ref) {
                            Some(Ok(_)) => ui.label("unanalysed"),
                            Some(Err(error)) => ui
                                .colored_label(ui.visuals().error_fg_color, "broken")
                                .on_hover_text(error),
                            None => ui.weak("reading…"),
                        };
                        ui.end_row();
                    }
                });
        });
}
