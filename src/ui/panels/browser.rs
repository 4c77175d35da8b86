//! The collection browser: one row per recording, virtualised so 100,000 rows scroll smoothly.

use egui_extras::{Column, TableBuilder};

use crate::cli::format_duration;
use crate::ui::app::StudioApp;

const TITLES: [&str; 6] = ["File", "Duration", "Format", "Speaker", "Label", "Status"];

pub fn browser_ui(ui: &mut egui::Ui, app: &mut StudioApp) {
    let row_height = ui.text_style_height(&egui::TextStyle::Body) + 6.0;
    let mut clicked = None;
    TableBuilder::new(ui)
        .striped(true)
        .sense(egui::Sense::click())
        .column(
            Column::initial(260.0)
                .at_least(120.0)
                .resizable(true)
                .clip(true),
        )
        .column(Column::initial(100.0).resizable(true))
        .column(Column::initial(200.0).resizable(true).clip(true))
        .column(Column::initial(80.0).resizable(true))
        .column(Column::initial(90.0).resizable(true))
        .column(Column::remainder())
        .header(row_height, |mut header| {
            for title in TITLES {
                header.col(|ui| {
                    ui.strong(title);
                });
            }
        })
        .body(|body| {
            body.rows(row_height, app.collection.recordings.len(), |mut row| {
                let index = row.index();
                let recording = &app.collection.recordings[index];
                let check = app.checks.get(index).and_then(Option::as_ref);
                let selected = app.selected == Some(index);
                row.set_selected(selected);
                row.col(|ui| {
                    if ui
                        .selectable_label(selected, &recording.listed_path)
                        .on_hover_text(recording.path.display().to_string())
                        .clicked()
                    {
                        clicked = Some(index);
                    }
                });
                row.col(|ui| {
                    let duration = check.and_then(|c| c.as_ref().ok()?.duration_secs());
                    ui.label(duration.map_or_else(|| "–".to_owned(), format_duration));
                });
                row.col(|ui| {
                    if let Some(Ok(check)) = check {
                        ui.label(format!(
                            "{} · {} Hz · {} ch",
                            check.info.codec, check.info.sample_rate_hz, check.info.channels
                        ));
                    }
                });
                row.col(|ui| {
                    ui.label(recording.speaker.as_deref().unwrap_or("–"));
                });
                row.col(|ui| {
                    let label = recording
                        .reference
                        .as_ref()
                        .and_then(|r| r.class.as_deref());
                    ui.label(label.unwrap_or("–"));
                });
                row.col(|ui| {
                    match check {
                        Some(Ok(_)) => ui.label("unanalysed"),
                        Some(Err(error)) => ui
                            .colored_label(ui.visuals().error_fg_color, "broken")
                            .on_hover_text(error),
                        None => ui.weak("reading…"),
                    };
                });
                if row.response().clicked() {
                    clicked = Some(index);
                }
            });
        });
    if clicked.is_some() {
        app.selected = clicked;
    }
}
