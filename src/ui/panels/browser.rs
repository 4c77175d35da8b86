//! The collection browser: one row per recording, virtualised so 100,000 rows scroll smoothly,
//! with a search box over file, speaker and labels.

use egui_extras::{Column, TableBuilder};

use crate::ui::app::StudioApp;
use crate::ui::engine::Prediction;
use crate::ui::theme;
use crate::ui::timeline::format_time;

const TITLES: [&str; 6] = [
    "File",
    "Duration",
    "Speaker",
    "Label",
    "Prediction",
    "Status",
];

pub fn browser_ui(ui: &mut egui::Ui, app: &mut StudioApp) {
    ui.horizontal(|ui| {
        ui.label("Search");
        ui.add(
            egui::TextEdit::singleline(&mut app.search)
                .hint_text("search file, speaker, label")
                .desired_width(f32::INFINITY),
        );
    });
    let needle = app.search.to_lowercase();
    let rows: Vec<usize> = if needle.is_empty() {
        (0..app.collection.recordings.len()).collect()
    } else {
        app.collection
            .recordings
            .iter()
            .enumerate()
            .filter(|(_, r)| {
                r.listed_path.to_lowercase().contains(&needle)
                    || r.speaker
                        .as_deref()
                        .is_some_and(|s| s.to_lowercase().contains(&needle))
                    || r.reference
                        .as_ref()
                        .and_then(|l| l.class.as_deref())
                        .is_some_and(|c| c.to_lowercase().contains(&needle))
            })
            .map(|(index, _)| index)
            .collect()
    };
    let row_height = ui.text_style_height(&egui::TextStyle::Body) + 6.0;
    let mut clicked = None;
    TableBuilder::new(ui)
        .striped(true)
        .sense(egui::Sense::click())
        .column(
            Column::initial(140.0)
                .at_least(80.0)
                .resizable(true)
                .clip(true),
        )
        .column(Column::initial(62.0).resizable(true))
        .column(Column::initial(46.0).resizable(true).clip(true))
        .column(Column::initial(56.0).resizable(true).clip(true))
        .column(Column::initial(80.0).resizable(true).clip(true))
        .column(Column::remainder().clip(true))
        .header(row_height, |mut header| {
            for title in TITLES {
                header.col(|ui| {
                    ui.strong(title);
                });
            }
        })
        .body(|body| {
            body.rows(row_height, rows.len(), |mut row| {
                let index = rows[row.index()];
                let recording = &app.collection.recordings[index];
                let check = app.checks.get(index).and_then(Option::as_ref);
                let prediction = app.engine.prediction(index);
                let selected = app.selected == Some(index);
                row.set_selected(selected);
                row.col(|ui| {
                    let mut hover = recording.path.display().to_string();
                    if let Some(Ok(check)) = check {
                        hover += &format!(
                            "\n{} · {} Hz · {} ch",
                            check.info.codec, check.info.sample_rate_hz, check.info.channels
                        );
                    }
                    if ui
                        .selectable_label(selected, &recording.listed_path)
                        .on_hover_text(hover)
                        .clicked()
                    {
                        clicked = Some(index);
                    }
                });
                row.col(|ui| {
                    let duration = check.and_then(|c| c.as_ref().ok()?.duration_secs());
                    ui.label(duration.map_or_else(|| "–".to_owned(), format_time));
                });
                row.col(|ui| {
                    ui.label(recording.speaker.as_deref().unwrap_or("–"));
                });
                row.col(|ui| {
                    let label = recording
                        .reference
                        .as_ref()
                        .and_then(|r| r.class.as_deref());
                    ui.label(label.unwrap_or("–"))
                        .on_hover_text("reference label from the manifest");
                });
                row.col(|ui| match &prediction {
                    Some(Prediction::Analysed { class, confidence }) => {
                        ui.colored_label(
                            theme::class_colour_by_name(class),
                            format!("{class} {:.0}%", confidence * 100.0),
                        );
                    }
                    _ => {
                        ui.weak("–");
                    }
                });
                row.col(|ui| {
                    match (check, &prediction) {
                        (Some(Err(error)), _) => ui
                            .colored_label(ui.visuals().error_fg_color, "broken")
                            .on_hover_text(error),
                        (_, Some(Prediction::Failed(error))) => ui
                            .colored_label(ui.visuals().error_fg_color, "failed")
                            .on_hover_text(error),
                        (_, Some(Prediction::Analysed { .. })) => ui.label("analysed"),
                        (Some(Ok(_)), None) => ui.weak("unanalysed"),
                        (None, _) => ui.weak("reading…"),
                    };
                });
                if row.response().clicked() {
                    clicked = Some(index);
                }
            });
        });
    if let Some(index) = clicked {
        app.select(index);
    }
}
