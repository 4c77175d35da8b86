//! The retrain window: what to learn from, the retrain's progress with its ETA and cancel, the new
//! model against its parent on the held-out labels (macro-F1, F1 per class, confusion), and the
//! project's models with one click to switch between them.

use std::path::PathBuf;

use crate::learning::{DEFAULT_GRADIENT_STEPS, Figures, FineTuneCard, MIN_PER_CLASS};
use crate::ui::commands::{Action, CommandSender};
use crate::ui::retraining::{RetrainAction, RetrainState};
use crate::ui::view::StudioView;

fn send(commands: &CommandSender, action: RetrainAction) {
    commands.send(Action::Retrain(action));
}

pub fn retrain_ui(ctx: &egui::Context, view: &StudioView<'_>, commands: &CommandSender) {
    let state = view.retrain;
    if !state.open {
        return;
    }
    let mut open = true;
    egui::Window::new("Retrain the model")
        .open(&mut open)
        .default_width(520.0)
        .show(ctx, |ui| {
            // Switching is the frequent action: the models come first, then a retrain.
            let height = ui.ctx().content_rect().height() * 0.75;
            egui::ScrollArea::vertical()
                .max_height(height)
                .show(ui, |ui| {
                    models_ui(ui, view, commands);
                    confirm_ui(ui, state, commands);
                    ui.separator();
                    choices_ui(ui, view, commands);
                    progress_ui(ui, state, commands);
                });
        });
    if !open {
        send(commands, RetrainAction::Show(false));
    }
}

fn choices_ui(ui: &mut egui::Ui, view: &StudioView<'_>, commands: &CommandSender) {
    let state = view.retrain;
    let (mut mine_only, mut include_accepted, mut steps) =
        (state.mine_only, state.include_accepted, state.steps);
    let parent = view
        .engine
        .engine
        .model_path
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    ui.label(format!(
        "Fine-tunes {parent} (the model in use) on this project's labels."
    ));
    let me = view.labelling.annotations.annotator().map(str::to_owned);
    ui.add_enabled_ui(me.is_some(), |ui| {
        let whose = me
            .as_deref()
            .map_or_else(|| "my".to_owned(), |name| format!("{name}'s"));
        ui.checkbox(
            &mut mine_only,
            format!("only {whose} labels (else the consensus of all annotators)"),
        );
    });
    ui.checkbox(
        &mut include_accepted,
        "also learn from predictions annotators accepted (Y)",
    )
    .on_hover_text("Off: human choices only, so the model does not learn what it already says.");
    ui.horizontal(|ui| {
        let mut gradient = steps.is_some();
        ui.checkbox(&mut gradient, "gradient steps instead of the refit")
            .on_hover_text(
                "Off: the emotion head's output layer is refitted to the labels in closed form, \
                 one pass over the recordings, and the model stays as it was where the labels do \
                 not help. On: this many steps of gradient descent on the SER head and routers.",
            );
        let mut count = steps.unwrap_or(DEFAULT_GRADIENT_STEPS);
        ui.add_enabled(gradient, egui::DragValue::new(&mut count).range(10..=5000))
            .on_hover_text("gradient steps");
        steps = gradient.then_some(count);
    });
    ui.weak(format!(
        "A seeded 20 % of the labelled recordings (whole speakers) is held out to score both \
         models; at least {MIN_PER_CLASS} labels of each class must remain to learn from."
    ));
    if (mine_only, include_accepted, steps)
        != (state.mine_only, state.include_accepted, state.steps)
    {
        send(
            commands,
            RetrainAction::SetChoice {
                mine_only,
                include_accepted,
                steps,
            },
        );
    }
}

fn progress_ui(ui: &mut egui::Ui, state: &RetrainState, commands: &CommandSender) {
    if let Some(job) = &state.job {
        let progress = job.progress();
        // Whole seconds: the rate so far is a guess, milliseconds would pretend otherwise.
        let eta = progress.eta().map_or_else(String::new, |left| {
            let seconds = left.as_secs();
            format!(" · about {}:{:02} left", seconds / 60, seconds % 60)
        });
        ui.horizontal(|ui| {
            ui.add(
                egui::ProgressBar::new(progress.fraction())
                    .desired_width(320.0)
                    .text(format!(
                        "retraining {:.0} %{eta}",
                        progress.fraction() * 100.0
                    )),
            );
            if ui.button("Cancel").clicked() {
                send(commands, RetrainAction::Cancel);
            }
        });
        return;
    }
    if ui.button("Retrain").clicked() {
        send(commands, RetrainAction::Start);
    }
    match &state.outcome {
        Some(Ok(tuned)) => {
            let name = model_name(&tuned.model);
            ui.label(egui::RichText::new(format!("New model: {name}")).strong());
            verdict_ui(ui, &tuned.card);
            let text = if tuned.card.is_worse() {
                "Use this model (it scores below its parent)"
            } else {
                "Use this model"
            };
            if ui.button(text).clicked() {
                send(
                    commands,
                    RetrainAction::Use {
                        model: Some(tuned.model.clone()),
                        confirmed: false,
                    },
                );
            }
            egui::CollapsingHeader::new("F1 per class and confusion matrices")
                .default_open(true)
                .show(ui, |ui| details_ui(ui, &tuned.card));
        }
        Some(Err(error)) if error.is_cancelled() => {
            ui.weak("Cancelled: no model was written.");
        }
        Some(Err(error)) => {
            ui.colored_label(ui.visuals().error_fg_color, error.to_string());
        }
        None => {}
    }
}

/// What the new model learnt from, and how it does against its parent on the held-out labels.
fn verdict_ui(ui: &mut egui::Ui, card: &FineTuneCard) {
    let labels = &card.labels;
    ui.label(format!(
        "{} labels learnt from, {} held out ({}{}); skipped: {} missing audio, {} other class, {} undecodable",
        labels.train,
        labels.held_out,
        labels.selection,
        if labels.include_accepted { ", with accepted predictions" } else { ", human only" },
        labels.skipped_missing,
        labels.skipped_other_class,
        labels.skipped_undecodable,
    ));
    if let Some(spread) = labels.speaker_spread() {
        ui.label(format!("Labels {spread}."));
    }
    let worse = card.is_worse();
    let verdict = format!(
        "held-out macro-F1 {:.3} (parent {:.3}){}",
        card.after.macro_f1,
        card.before.macro_f1,
        if worse { ": worse than the parent" } else { "" }
    );
    if worse {
        ui.colored_label(ui.visuals().warn_fg_color, verdict);
    } else {
        ui.strong(verdict);
    }
}

/// The parent and the new model class by class on the same held-out labels.
fn details_ui(ui: &mut egui::Ui, card: &FineTuneCard) {
    egui::Grid::new("retrain-f1").striped(true).show(ui, |ui| {
        ui.strong("class");
        ui.strong("parent F1");
        ui.strong("new F1");
        ui.end_row();
        for (index, class) in card.classes.iter().enumerate() {
            ui.label(class);
            let f1 = |figures: &Figures| {
                figures
                    .f1
                    .get(index)
                    .map_or_else(|| "–".to_owned(), |f| format!("{f:.3}"))
            };
            ui.label(f1(&card.before));
            ui.label(f1(&card.after));
            ui.end_row();
        }
    });
    ui.columns(2, |columns| {
        confusion_ui(&mut columns[0], "parent", &card.before, &card.classes);
        confusion_ui(&mut columns[1], "new", &card.after, &card.classes);
    });
}

/// A confusion matrix: rows the human label, columns the model's class.
fn confusion_ui(ui: &mut egui::Ui, title: &str, figures: &Figures, classes: &[String]) {
    ui.weak(format!("{title}: rows = label, columns = prediction"));
    egui::Grid::new(format!("confusion-{title}")).show(ui, |ui| {
        ui.label("");
        for class in classes {
            ui.weak(class.chars().take(3).collect::<String>());
        }
        ui.end_row();
        for (class, row) in classes.iter().zip(&figures.confusion) {
            ui.weak(class.chars().take(3).collect::<String>());
            for (column, count) in row.iter().enumerate() {
                let text = count.to_string();
                if classes.get(column) == Some(class) {
                    ui.strong(text);
                } else {
                    ui.label(text);
                }
            }
            ui.end_row();
        }
    });
}

fn confirm_ui(ui: &mut egui::Ui, state: &RetrainState, commands: &CommandSender) {
    let Some(model) = &state.confirm else {
        return;
    };
    ui.separator();
    ui.colored_label(
        ui.visuals().warn_fg_color,
        format!(
            "{} scores below its parent on the held-out labels. Use it anyway?",
            model_name(model)
        ),
    );
    ui.horizontal(|ui| {
        if ui.button("Use it anyway").clicked() {
            send(
                commands,
                RetrainAction::Use {
                    model: Some(model.clone()),
                    confirmed: true,
                },
            );
        }
        if ui.button("Keep the current model").clicked() {
            send(commands, RetrainAction::KeepCurrent);
        }
    });
}

/// The shipped model and the project's own, the one in use marked, each one click away.
fn models_ui(ui: &mut egui::Ui, view: &StudioView<'_>, commands: &CommandSender) {
    let state = view.retrain;
    ui.strong("This project's models");
    let in_use = &view.engine.engine.model_path;
    let shipped = crate::model::shipped_model_path();
    // Each model's row has its own id, so its button keeps its id when rows above it change.
    let row = |ui: &mut egui::Ui, path: &PathBuf, model: Option<PathBuf>, about: String| {
        ui.push_id(path, |ui| {
            row_ui(ui, path, path == in_use, model, about, commands);
        });
    };
    row(ui, &shipped, None, "the shipped model".to_owned());
    // A model chosen with --model or Ctrl+M, outside the project's folder.
    if *in_use != shipped && !state.models.iter().any(|m| m.path == *in_use) {
        row(
            ui,
            in_use,
            Some(in_use.clone()),
            format!("chosen for this session: {}", in_use.display()),
        );
    }
    for model in &state.models {
        let about = model.card.as_ref().map_or_else(
            || "no card (put here by hand)".to_owned(),
            |card| {
                format!(
                    "held-out macro-F1 {:.3} (parent {:.3}) · {} labels · {}",
                    card.after.macro_f1, card.before.macro_f1, card.labels.train, card.created
                )
            },
        );
        row(ui, &model.path, Some(model.path.clone()), about);
    }
    if let Some(error) = &state.switch_error {
        ui.colored_label(ui.visuals().error_fg_color, error);
    }
    if let Some(comparison) = &state.comparison {
        let (changed, both) = comparison.count_changed(&view.engine.engine.predictions());
        ui.label(format!(
            "Since switching from {}: {changed} of {both} recordings analysed by both changed prediction (\"was …\" in the browser).",
            comparison.previous_model
        ));
    }
}

fn row_ui(
    ui: &mut egui::Ui,
    path: &std::path::Path,
    in_use: bool,
    model: Option<PathBuf>,
    about: String,
    commands: &CommandSender,
) {
    ui.horizontal(|ui| {
        if in_use {
            ui.strong(format!("{} (in use)", model_name(path)));
        } else {
            ui.label(model_name(path));
            if ui.button(format!("Use {}", model_name(path))).clicked() {
                send(
                    commands,
                    RetrainAction::Use {
                        model,
                        confirmed: false,
                    },
                );
            }
        }
    });
    ui.weak(about);
}

fn model_name(path: &std::path::Path) -> String {
    path.file_stem()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
}
