//! The collection browser: one row per recording, virtualised so 100,000 rows scroll smoothly,
//! with search over file, speaker and labels, a status filter, and sorting by any column.

use egui_extras::{Column, TableBuilder};

use crate::annotation::consensus::consensus;
use crate::annotation::queue::review_order;
use crate::audio::format_time;
use crate::ui::app::StudioApp;
use crate::ui::engine::Prediction;
use crate::ui::theme;

const TITLES: [&str; 6] = [
    "File",
    "Duration",
    "Speaker",
    "Label",
    "Prediction",
    "Status",
];

/// What the status column says about a recording.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    Reading,
    Unanalysed,
    Analysed,
    Failed,
    Broken,
    /// Labelled by the current annotator.
    Reviewed,
}

impl Status {
    const ALL: [Self; 5] = [
        Self::Reading,
        Self::Unanalysed,
        Self::Analysed,
        Self::Failed,
        Self::Broken,
    ];

    fn of(
        check: Option<&Result<crate::jobs::scan::FileCheck, crate::ui::recording::FileProblem>>,
        prediction: Option<&Prediction>,
        reviewed: bool,
    ) -> Self {
        match (check, prediction) {
            (Some(Err(_)), _) => Self::Broken,
            _ if reviewed => Self::Reviewed,
            (_, Some(Prediction::Failed(_))) => Self::Failed,
            (_, Some(Prediction::Analysed { .. })) => Self::Analysed,
            (Some(Ok(_)), None) => Self::Unanalysed,
            (None, _) => Self::Reading,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Reading => "reading…",
            Self::Unanalysed => "unanalysed",
            Self::Analysed => "analysed",
            Self::Failed => "failed",
            Self::Broken => "broken",
            Self::Reviewed => "reviewed",
        }
    }
}

/// The column the browser is sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortColumn {
    #[default]
    Listed,
    Duration,
    Speaker,
    Label,
    Prediction,
    Status,
    /// Most worth a human look first (the review queue).
    Queue,
}

const COLUMNS: [SortColumn; 6] = [
    SortColumn::Listed,
    SortColumn::Duration,
    SortColumn::Speaker,
    SortColumn::Label,
    SortColumn::Prediction,
    SortColumn::Status,
];

/// How the browser shows the collection: search text, status filter, sort column and direction.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BrowserView {
    pub search: String,
    pub status: Option<Status>,
    pub sort: SortColumn,
    pub descending: bool,
}

/// What a search can look at in one row.
struct Fields<'a> {
    file: &'a str,
    speaker: Option<&'a str>,
    split: Option<&'a str>,
    label: Option<&'a str>,
    predicted: Option<&'a str>,
}

/// Every word of the (lower-case) query must match: `speaker:`, `split:`, `label:` and
/// `predicted:` words match that field; other words match the file, speaker or label.
fn matches_query(query: &str, fields: &Fields<'_>) -> bool {
    let has =
        |value: Option<&str>, word: &str| value.is_some_and(|v| v.to_lowercase().contains(word));
    query
        .split_whitespace()
        .all(|word| match word.split_once(':') {
            Some(("speaker", value)) => has(fields.speaker, value),
            Some(("split", value)) => has(fields.split, value),
            Some(("label" | "class", value)) => has(fields.label, value),
            Some(("predicted", value)) => has(fields.predicted, value),
            _ => {
                has(Some(fields.file), word) || has(fields.speaker, word) || has(fields.label, word)
            }
        })
}

/// Whether the current annotator has labelled recording `index`.
fn is_reviewed(app: &StudioApp, index: usize) -> bool {
    let Some(me) = app.annotations.annotator() else {
        return false;
    };
    app.collection
        .recordings
        .get(index)
        .and_then(|r| app.annotations.label(&r.listed_path, me))
        .is_some_and(|l| !l.is_empty())
}

/// What the browser's row order depends on.
pub type BrowserKey = (BrowserView, u64, usize, usize);

/// The rows to show, in order.
fn visible_rows(app: &StudioApp) -> Vec<usize> {
    let view = &app.browser;
    let needle = view.search.to_lowercase();
    let recordings = &app.collection.recordings;
    let predictions = app.engine.predictions();
    let check = |i: usize| app.checks.get(i).and_then(Option::as_ref);
    let reviewed = |i: usize| is_reviewed(app, i);
    let mut rows: Vec<usize> = (0..recordings.len())
        .filter(|&i| {
            let r = &recordings[i];
            if needle.is_empty() {
                return true;
            }
            let predicted = match &predictions[i] {
                Some(Prediction::Analysed { class, .. }) => Some(class.as_str()),
                _ => None,
            };
            let labels = app.annotations.labels_of(&r.listed_path);
            let label = labels
                .and_then(|by| consensus(by.values()).class)
                .or_else(|| r.reference.as_ref().and_then(|l| l.class.clone()));
            matches_query(
                &needle,
                &Fields {
                    file: &r.listed_path,
                    speaker: r.speaker.as_deref(),
                    split: r.split.as_deref(),
                    label: label.as_deref(),
                    predicted,
                },
            )
        })
        .filter(|&i| {
            view.status
                .is_none_or(|s| Status::of(check(i), predictions[i].as_ref(), reviewed(i)) == s)
        })
        .collect();
    let duration = |i: usize| {
        check(i)
            .and_then(|c| c.as_ref().ok()?.duration_secs())
            .unwrap_or(-1.0)
    };
    let confidence = |i: usize| match &predictions[i] {
        Some(Prediction::Analysed {
            class, confidence, ..
        }) => (class.clone(), *confidence),
        _ => (String::new(), -1.0),
    };
    match view.sort {
        SortColumn::Listed => {}
        SortColumn::Duration => rows.sort_by(|&a, &b| duration(a).total_cmp(&duration(b))),
        SortColumn::Speaker => rows.sort_by_key(|&i| recordings[i].speaker.clone()),
        SortColumn::Label => {
            rows.sort_by_key(|&i| {
                recordings[i]
                    .reference
                    .as_ref()
                    .and_then(|l| l.class.clone())
            });
        }
        SortColumn::Prediction => rows.sort_by(|&a, &b| {
            let ((ca, pa), (cb, pb)) = (confidence(a), confidence(b));
            ca.cmp(&cb).then(pa.total_cmp(&pb))
        }),
        SortColumn::Status => {
            rows.sort_by_key(|&i| Status::of(check(i), predictions[i].as_ref(), reviewed(i)));
        }
        SortColumn::Queue => {
            let order = review_order(&app.queue_items());
            let mut rank = vec![0; recordings.len()];
            for (position, &index) in order.iter().enumerate() {
                rank[index] = position;
            }
            rows.sort_by_key(|&i| rank[i]);
        }
    }
    if view.descending {
        rows.reverse();
    }
    rows
}

pub fn browser_ui(ui: &mut egui::Ui, app: &mut StudioApp) {
    ui.horizontal(|ui| {
        let label = ui.label("Search");
        ui.add(
            egui::TextEdit::singleline(&mut app.browser.search)
                .hint_text("words, or speaker: split: label: predicted:")
                .desired_width(ui.available_width() - 225.0),
        )
        .labelled_by(label.id);
        let queue = app.browser.sort == SortColumn::Queue;
        if ui
            .selectable_label(queue, "Queue")
            .on_hover_text(
                "review queue order: unreviewed, uncertain and disputed recordings first \
                 (Enter opens the next one)",
            )
            .clicked()
        {
            app.browser.sort = if queue {
                SortColumn::Listed
            } else {
                SortColumn::Queue
            };
            app.browser.descending = false;
        }
        egui::ComboBox::from_label("Status")
            .width(100.0)
            .selected_text(app.browser.status.map_or("every status", Status::name))
            .show_ui(ui, |ui| {
                ui.selectable_value(&mut app.browser.status, None, "every status");
                ui.selectable_value(
                    &mut app.browser.status,
                    Some(Status::Reviewed),
                    "reviewed by me",
                );
                for status in Status::ALL {
                    ui.selectable_value(&mut app.browser.status, Some(status), status.name());
                }
            });
    });
    // Filtering and sorting 100,000 rows is too slow for every frame: only when something changed.
    let key = (
        app.browser.clone(),
        app.engine.predictions_generation(),
        app.checks.iter().filter(|c| c.is_some()).count(),
        app.collection.recordings.len(),
    );
    let rows = match app.browser_rows.take() {
        Some((cached_key, rows)) if cached_key == key => rows,
        _ => visible_rows(app),
    };
    let row_height = ui.text_style_height(&egui::TextStyle::Body) + 6.0;
    let mut clicked = None;
    let mut sort_clicked = None;
    TableBuilder::new(ui)
        .striped(true)
        .sense(egui::Sense::click())
        .column(
            Column::initial(150.0)
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
            for (title, column) in TITLES.into_iter().zip(COLUMNS) {
                header.col(|ui| {
                    let sorted = app.browser.sort == column;
                    let arrow = match (sorted, app.browser.descending) {
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
                        sort_clicked = Some(column);
                    }
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
                    // The annotators' consensus (or the manifest's reference label).
                    let labels = app.annotations.labels_of(&recording.listed_path);
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
                        let text = format!("{class} {:.0}%", confidence * 100.0);
                        // The selected row's background is blue: class colours would vanish.
                        if selected {
                            ui.label(text);
                        } else {
                            ui.colored_label(theme::class_colour_by_name(class), text);
                        }
                    }
                    _ => {
                        ui.weak("–");
                    }
                });
                row.col(|ui| {
                    let status = Status::of(check, prediction.as_ref(), is_reviewed(app, index));
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
                    clicked = Some(index);
                }
            });
        });
    app.browser_rows = Some((key, rows));
    if let Some(column) = sort_clicked {
        let view = &mut app.browser;
        view.descending = view.sort == column && !view.descending;
        view.sort = column;
    }
    if let Some(index) = clicked {
        app.select(index);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_words_filter_their_field_and_all_words_must_match() {
        let fields = Fields {
            file: "audio/sad_f1.flac",
            speaker: Some("f1"),
            split: Some("test"),
            label: Some("sad"),
            predicted: Some("angry"),
        };
        assert!(matches_query("", &fields));
        assert!(matches_query("sad", &fields));
        assert!(matches_query("split:test predicted:angry", &fields));
        assert!(!matches_query("split:train", &fields));
        assert!(!matches_query("label:angry", &fields));
        assert!(matches_query("speaker:f1 flac", &fields));
        assert!(!matches_query("speaker:f1 mp3", &fields));
    }
}
