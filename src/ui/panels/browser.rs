//! The collection browser: one row per recording, virtualised so 100,000 rows scroll smoothly,
//! with search over file, speaker and labels, a status filter, and sorting by any column (the
//! rows themselves come from [`crate::ui::rows`]).

use egui_extras::{Column, TableBuilder};

use crate::annotation::consensus::consensus;
use crate::annotation::queue::QueueOrder;
use crate::audio::format_time;
use crate::ui::commands::{Action, CommandSender};
use crate::ui::engine::Prediction;
use crate::ui::rows::{SortColumn, Status, is_reviewed};
use crate::ui::theme;
use crate::ui::view::StudioView;

const TITLES: [&str; 6] = [
    "File",
    "Duration",
    "Speaker",
    "Label",
    "Prediction",
    "Status",
];

const COLUMNS: [SortColumn; 6] = [
    SortColumn::Listed,
    SortColumn::Duration,
    SortColumn::Speaker,
    SortColumn::Label,
    SortColumn::Prediction,
    SortColumn::Status,
];

/// Width of `text` on one line, as a cell draws it (strong for titles).
fn text_width(ui: &egui::Ui, text: &str, strong: bool) -> f32 {
    let text = egui::RichText::new(text);
    let text = if strong { text.strong() } else { text };
    egui::WidgetText::from(text)
        .into_galley(
            ui,
            Some(egui::TextWrapMode::Extend),
            f32::INFINITY,
            egui::TextStyle::Body,
        )
        .size()
        .x
}

/// Widths of the columns after the file name, fitted to their title (with a sort arrow) and their
/// widest content: the longest speaker, a class with a vote count or a percentage, a status.
fn column_widths(ui: &egui::Ui, view: &StudioView<'_>) -> [f32; 5] {
    let padding = 2.0 * ui.spacing().button_padding.x + 4.0;
    let recordings = &view.collection.collection.recordings;
    let speaker = recordings
        .iter()
        .filter_map(|r| r.speaker.as_deref())
        .max_by_key(|s| s.len())
        .unwrap_or("–");
    let class = view
        .scheme()
        .classes
        .iter()
        .map(|c| c.id.as_str())
        .max_by_key(|c| c.len())
        .unwrap_or("neutral");
    let longest_s = view
        .collection
        .checks
        .iter()
        .filter_map(|c| c.as_ref()?.as_ref().ok()?.duration_secs())
        .fold(0.0, f64::max);
    let contents = [
        format_time(longest_s),
        speaker.to_owned(),
        format!("{class} (10)"),
        format!("{class} 100%"),
        Status::ALL
            .iter()
            .map(|s| s.name())
            .max_by_key(|n| n.len())
            .unwrap_or("unanalysed")
            .to_owned(),
    ];
    let mut widths = [0.0; 5];
    for (i, content) in contents.iter().enumerate() {
        let title = text_width(ui, &format!("{} ^", TITLES[i + 1]), true);
        widths[i] = title.max(text_width(ui, content, false)) + padding;
    }
    widths
}

pub fn browser_ui(ui: &mut egui::Ui, view: &StudioView<'_>, commands: &CommandSender) {
    let shown = &view.collection.browser.view;
    let mut browse = shown.clone();
    ui.horizontal(|ui| {
        let label = ui.label("Search");
        ui.add(
            egui::TextEdit::singleline(&mut browse.search)
                .hint_text("words, or speaker: split: label: predicted:")
                .desired_width(ui.available_width() - 350.0),
        )
        .labelled_by(label.id);
        let queue = browse.sort == SortColumn::Queue;
        if ui
            .selectable_label(queue, "Queue")
            .on_hover_text(
                "review queue order: unreviewed, uncertain and disputed recordings first \
                 (Enter opens the next one)",
            )
            .clicked()
        {
            browse.sort = if queue {
                SortColumn::Listed
            } else {
                SortColumn::Queue
            };
            browse.descending = false;
        }
        egui::ComboBox::from_id_salt("queue order")
            .width(110.0)
            .selected_text(browse.queue_order.name())
            .show_ui(ui, |ui| {
                for order in QueueOrder::ALL {
                    if ui
                        .selectable_value(&mut browse.queue_order, order, order.name())
                        .clicked()
                    {
                        browse.sort = SortColumn::Queue;
                        browse.descending = false;
                    }
                }
            })
            .response
            .on_hover_text("the review queue's order (Enter opens the next one in it)");
        egui::ComboBox::from_label("Status")
            .width(100.0)
            .selected_text(browse.status.map_or("every status", Status::name))
            .show_ui(ui, |ui| {
                ui.selectable_value(&mut browse.status, None, "every status");
                ui.selectable_value(&mut browse.status, Some(Status::Reviewed), "reviewed by me");
                for status in Status::ALL {
                    ui.selectable_value(&mut browse.status, Some(status), status.name());
                }
            });
    });
    let collection = view.collection;
    let annotations = &view.labelling.annotations;
    let rows = collection.browser.rows();
    let row_height = ui.text_style_height(&egui::TextStyle::Body) + 6.0;
    let widths = column_widths(ui, view);
    let longest_name = view
        .collection
        .collection
        .recordings
        .iter()
        .map(|r| r.listed_path.as_str())
        .max_by_key(|name| name.len())
        .unwrap_or("");
    let file_width =
        (text_width(ui, longest_name, false) + 2.0 * ui.spacing().button_padding.x + 4.0)
            .clamp(100.0, 260.0);
    let mut table = TableBuilder::new(ui)
        .striped(true)
        .sense(egui::Sense::click())
        // The file name takes what the other columns, fitted to their content, leave (at least
        // its longest name, up to 260 px; longer ones are cut, with the full path on hover).
        .column(Column::remainder().at_least(file_width).clip(true));
    for width in widths {
        table = table.column(
            Column::initial(width)
                .at_least(width)
                .resizable(true)
                .clip(true),
        );
    }
    table
        .header(row_height, |mut header| {
            for (title, column) in TITLES.into_iter().zip(COLUMNS) {
                header.col(|ui| {
                    ui.style_mut().wrap_mode = Some(egui::TextWrapMode::Truncate);
                    let sorted = browse.sort == column;
                    let arrow = match (sorted, browse.descending) {
                        (false, _) => "",
                        (true, false) => " ^",
                        (true, true) => " v",
                    };
                    if ui
                        .selectable_label(
                            sorted,
                            egui::RichText::new(format!("{title}{arrow}")).strong(),
                        )
                        .on_hover_text("sort by this column (again: reverse)")
                        .clicked()
                    {
                        browse.descending = browse.sort == column && !browse.descending;
                        browse.sort = column;
                    }
                });
            }
        })
        .body(|body| {
            body.rows(row_height, rows.len(), |mut row| {
                let index = rows[row.index()];
                let recording = &collection.collection.recordings[index];
                let check = collection.checks.get(index).and_then(Option::as_ref);
                let prediction = view.engine.engine.prediction(index);
                let selected = collection.selected == Some(index);
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
                        commands.send(Action::Select(index));
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
                    // The annotators' consensus (or the manifest's reference label).
                    let labels = annotations.labels_of(&recording.listed_path);
                    let summary = labels.map(|by| consensus(by.values()));
                    match summary
                        .as_ref()
                        .and_then(|s| Some((s.class.as_deref()?, s)))
                    {
                        Some((class, summary)) => {
                            let who = labels.map_or_else(String::new, |by| {
                                by.iter()
                                    .map(|(name, l)| {
                                        format!(
                                            "{name}: {}{}",
                                            l.class.as_deref().unwrap_or("–"),
                                            match l.source {
                                                crate::annotation::ClassSource::AcceptedModel => {
                                                    " (accepted model)"
                                                }
                                                crate::annotation::ClassSource::Human => "",
                                            }
                                        )
                                    })
                                    .collect::<Vec<_>>()
                                    .join("\n")
                            });
                            ui.label(format!(
                                "{class} ({})",
                                summary.votes.values().sum::<usize>()
                            ))
                            .on_hover_text(who);
                        }
                        None => {
                            let reference = recording
                                .reference
                                .as_ref()
                                .and_then(|r| r.class.as_deref());
                            ui.weak(reference.unwrap_or("–"))
                                .on_hover_text("reference label from the manifest");
                        }
                    }
                });
                row.col(|ui| match &prediction {
                    Some(Prediction::Analysed {
                        class, confidence, ..
                    }) => {
                        let changed = view
                            .retrain
                            .comparison
                            .as_ref()
                            .and_then(|c| Some((c.changed(index, prediction.as_ref())?, c)));
                        let was = changed
                            .map_or_else(String::new, |(before, _)| format!(" (was {before})"));
                        let text = format!("{class} {:.0}%{was}", confidence * 100.0);
                        // The selected row's background is blue: class colours would vanish.
                        let response = if selected {
                            ui.label(text)
                        } else {
                            ui.colored_label(theme::class_colour_by_name(class), text)
                        };
                        if let Some((before, comparison)) = changed {
                            response.on_hover_text(format!(
                                "was {before} with {}",
                                comparison.previous_model
                            ));
                        }
                    }
                    _ => {
                        ui.weak("–");
                    }
                });
                row.col(|ui| {
                    let reviewed = is_reviewed(&collection.collection, annotations, index);
                    let status = Status::of(check, prediction.as_ref(), reviewed);
                    let error = match (check, &prediction) {
                        (Some(Err(problem)), _) => Some(problem.to_string()),
                        (_, Some(Prediction::Failed(error))) => Some(error.clone()),
                        _ => None,
                    };
                    match (status, error) {
                        (Status::Broken | Status::Failed, Some(error)) => {
                            ui.colored_label(ui.visuals().error_fg_color, status.name())
                                .on_hover_text(error);
                        }
                        (Status::Analysed, _) => {
                            ui.label(status.name());
                        }
                        _ => {
                            ui.weak(status.name());
                        }
                    }
                });
                if row.response().clicked() {
                    commands.send(Action::Select(index));
                }
            });
        });
    if browse != *shown {
        commands.send(Action::SetBrowserView(browse));
    }
}
