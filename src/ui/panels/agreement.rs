//! The agreement window: how well the project's annotators agree on classes, attributes and
//! traces (the figures of `merit-studio agreement`, with 95 % bootstrap intervals), computed in
//! the background from the journals as they were when it was opened or recomputed.

use crate::annotation::agreement::Estimate;
use crate::annotation::trace::DimensionReport;
use crate::ui::agreement::{AgreementAction, AgreementFigures};
use crate::ui::commands::{Action, CommandSender};
use crate::ui::view::StudioView;

fn send(commands: &CommandSender, action: AgreementAction) {
    commands.send(Action::Agreement(action));
}

fn alpha(estimate: Option<&Estimate>) -> String {
    estimate.map_or_else(|| "not defined".to_owned(), ToString::to_string)
}

fn figure(value: Option<f64>, interval: Option<[f64; 2]>) -> String {
    match (value, interval) {
        (Some(v), Some([low, high])) => format!("{v:.3} [{low:.3}, {high:.3}]"),
        (Some(v), None) => format!("{v:.3}"),
        _ => "not defined".to_owned(),
    }
}

pub fn agreement_ui(ctx: &egui::Context, view: &StudioView<'_>, commands: &CommandSender) {
    let state = view.agreement;
    if !state.open {
        return;
    }
    let mut open = true;
    let height = ctx.content_rect().height() * 0.8;
    egui::Window::new("Agreement")
        .open(&mut open)
        .default_width(560.0)
        .default_height(height)
        .show(ctx, |ui| {
            ui.horizontal(|ui| {
                let busy = state.is_busy();
                if ui
                    .add_enabled(!busy, egui::Button::new("Recompute"))
                    .on_hover_text("from the journals as they are now")
                    .clicked()
                {
                    send(commands, AgreementAction::Recompute);
                }
                if let Some(progress) = state.progress() {
                    ui.add(
                        egui::ProgressBar::new(progress.fraction())
                            .desired_width(240.0)
                            .text(format!(
                                "model proxy: {} of {} traced recordings",
                                progress.done, progress.total
                            )),
                    );
                }
            });
            egui::ScrollArea::vertical()
                .auto_shrink([false, false])
                .show(ui, |ui| match &state.figures {
                    Some(Ok(figures)) => figures_ui(ui, figures),
                    Some(Err(panicked)) => {
                        ui.colored_label(ui.visuals().error_fg_color, panicked.to_string());
                    }
                    None if state.is_busy() => {
                        ui.weak("computing…");
                    }
                    None => {
                        ui.weak("open a project first");
                    }
                });
        });
    if !open {
        send(commands, AgreementAction::Show(false));
    }
}

fn figures_ui(ui: &mut egui::Ui, figures: &AgreementFigures) {
    let labels = &figures.labels;
    ui.label(format!(
        "{} annotators ({}), {} recordings with labels · 95% intervals: 1000 bootstrap resamples of recordings",
        labels.annotators.len(),
        labels.annotators.join(", "),
        labels.recordings
    ));
    ui.heading("Labels");
    egui::Grid::new("agreement-labels")
        .num_columns(2)
        .striped(true)
        .show(ui, |ui| {
            ui.label("class (Krippendorff's alpha, nominal)");
            ui.label(alpha(labels.classes.as_ref()));
            ui.end_row();
            ui.label("class (Fleiss' kappa)");
            ui.label(labels.fleiss_kappa.map_or_else(
                || "not defined: recordings have different numbers of raters".to_owned(),
                |k| format!("{k:.3}"),
            ));
            ui.end_row();
            for (name, estimate) in &labels.attributes {
                ui.label(format!("{name} (interval alpha)"));
                ui.label(alpha(estimate.as_ref()));
                ui.end_row();
            }
            for (a, b, estimate) in &labels.pairs {
                ui.label(format!("class: {a} / {b}"));
                ui.label(alpha(estimate.as_ref()));
                ui.end_row();
            }
        });
    ui.heading("Traces");
    if figures.traces.is_empty() {
        ui.weak("nobody traced a dimension yet (T in the trace pane)");
    }
    for (dimension, report) in &figures.traces {
        trace_report_ui(ui, dimension, report);
    }
    if figures.proxy_failures > 0 {
        ui.colored_label(
            ui.visuals().warn_fg_color,
            format!(
                "{} traced recordings could not be analysed: the model proxy leaves them out",
                figures.proxy_failures
            ),
        );
    }
}

fn trace_report_ui(ui: &mut egui::Ui, dimension: &str, report: &DimensionReport) {
    let a = &report.agreement;
    ui.label(
        egui::RichText::new(format!(
            "{dimension} ({} recordings traced by two or more)",
            a.recordings
        ))
        .strong(),
    );
    egui::Grid::new(("agreement-trace", dimension))
        .num_columns(2)
        .striped(true)
        .show(ui, |ui| {
            ui.label("mean pairwise CCC");
            ui.label(figure(a.ccc, a.ccc_interval));
            ui.end_row();
            ui.label("Krippendorff's alpha (interval, frames)");
            ui.label(figure(a.krippendorff_alpha, a.krippendorff_alpha_interval));
            ui.end_row();
            ui.label("Cronbach's alpha");
            ui.label(figure(a.cronbach_alpha, a.cronbach_alpha_interval));
            ui.end_row();
            for (x, y, value) in &a.pairs {
                ui.label(format!("CCC {x} / {y}"));
                ui.label(figure(*value, None));
                ui.end_row();
            }
            ui.label("model proxy vs human mean (CCC)")
                .on_hover_text("the model has no arousal/valence output: its proxy is the circumplex position of its classes, weighted by their probabilities, frame by frame");
            ui.label(figure(report.model_proxy_ccc, None));
            ui.end_row();
        });
}
