//! What the trace pane shows for the open recording: every annotator's trace of the dimension
//! traced now, the model's proxy trace and the running pass (read from the view, never changed);
//! and the line under it: the annotator's passes (which one is final), how the recording's
//! annotators agree, and how the last pass ended.

use crate::annotation::Op;
use crate::annotation::trace::{
    PassState, TraceEdit, TraceSeries, annotator_series, proxy_series, recording_agreement,
};
use crate::project::{PassCombine, TraceScheme};
use crate::ui::commands::{Action, Command, CommandSender, tooltip};
use crate::ui::recording::RecordingState;
use crate::ui::view::StudioView;

use super::lanes::TraceLane;

/// The pane's contents, or `None` before a project with traceable dimensions is open.
pub fn trace_lane_of<'a>(
    view: &StudioView<'_>,
    recording: &RecordingState,
    scheme: &'a TraceScheme,
) -> TraceLane<'a> {
    let combine = view
        .collection
        .project
        .as_ref()
        .map_or(PassCombine::Final, |p| p.file.traces.combine);
    let annotators = view
        .current_file()
        .and_then(|file| view.labelling.annotations.labels_of(file))
        .map(|by| {
            by.iter()
                .filter_map(|(name, label)| {
                    let series = annotator_series(
                        &label.traces,
                        &scheme.dimension,
                        combine,
                        scheme.rate_hz,
                    )?;
                    Some((name.clone(), series))
                })
                .collect()
        })
        .unwrap_or_default();
    let proxy = proxy_of(recording, scheme);
    let live = view
        .trace
        .active
        .as_ref()
        .filter(|a| a.scheme.dimension == scheme.dimension)
        .map(|a| TraceSeries {
            rate_hz: a.scheme.rate_hz,
            start_s: a.start_index as f64 / a.scheme.rate_hz,
            values: a.values.clone(),
        });
    TraceLane {
        scheme,
        annotators,
        proxy,
        live,
        value: view.trace.value,
        tracing: view.trace.active.is_some(),
    }
}

/// The model's proxy trace of `scheme`'s dimension, once the recording is analysed.
fn proxy_of(recording: &RecordingState, scheme: &TraceScheme) -> Option<TraceSeries> {
    let result = &recording.analysis.as_ref()?.result;
    proxy_series(
        &result.classes,
        &result.trajectory.times_s,
        &result.trajectory.probs,
        &scheme.dimension,
        scheme.range(),
        scheme.rate_hz,
    )
}

/// The line under the trace pane: the current annotator's kept passes of the dimension (click
/// one to make it the final pass, again to unmark it; right-click to discard it), the recording's
/// agreement, and the last pass's message.
pub fn trace_strip_ui(
    ui: &mut egui::Ui,
    view: &StudioView<'_>,
    recording: &RecordingState,
    scheme: &TraceScheme,
    commands: &CommandSender,
) {
    let combine = view
        .collection
        .project
        .as_ref()
        .map_or(PassCombine::Final, |p| p.file.traces.combine);
    ui.horizontal_wrapped(|ui| {
        if let Some(message) = &view.trace.message {
            ui.weak(message);
            ui.separator();
        }
        let traces = view.current_label().map(|l| &l.traces);
        let kept: Vec<_> = traces
            .map(|t| t.kept(&scheme.dimension).collect())
            .unwrap_or_default();
        if kept.is_empty() {
            ui.weak(format!("no pass of {} by you yet", scheme.display_name()));
        } else {
            ui.label("Your passes:")
                .on_hover_text(tooltip(ui.ctx(), Command::MarkFinalPass));
            let marked = traces.and_then(|t| t.finals.get(&scheme.dimension).copied());
            for (number, pass) in kept.iter().enumerate() {
                let ended = match pass.state {
                    PassState::Complete => "",
                    PassState::Incomplete => ", stopped early",
                    PassState::Open if view.trace.active.as_ref().is_some_and(|a| a.pass == pass.id) => ", tracing",
                    PassState::Open => ", interrupted",
                };
                let duration = pass.values.len() as f64 / pass.rate_hz;
                let is_final = marked == Some(pass.id);
                let text = format!(
                    "pass {}: {duration:.1} s{ended}{}",
                    number + 1,
                    if is_final { " (final)" } else { "" }
                );
                let response = ui
                    .selectable_label(is_final, text)
                    .on_hover_text("click: make this the final pass (again: unmark) · right-click: discard it");
                let edit = |edit: TraceEdit| commands.send(Action::EditLabel(Op::trace(edit)));
                if response.clicked() {
                    edit(TraceEdit::SetFinal {
                        dimension: scheme.dimension.clone(),
                        pass: (!is_final).then_some(pass.id),
                    });
                }
                response.context_menu(|ui| {
                    if ui.button("Discard this pass (Ctrl+Z undoes)").clicked() {
                        edit(TraceEdit::Discard { pass: pass.id, on: true });
                        ui.close();
                    }
                });
            }
            ui.weak(match (combine, marked) {
                (PassCombine::Mean, _) => "(the project uses the mean of your passes)",
                (PassCombine::Final, None) => "(none marked: your latest pass counts)",
                (PassCombine::Final, Some(_)) => "(the final pass counts)",
            });
        }
        ui.separator();
        let Some(labels) = view
            .current_file()
            .and_then(|file| view.labelling.annotations.labels_of(file))
        else {
            return;
        };
        let proxy = proxy_of(recording, scheme);
        let here = recording_agreement(labels, scheme, combine, proxy.as_ref());
        let figure = |value: Option<f64>| value.map_or("n/a".to_owned(), |v| format!("{v:.2}"));
        if here.annotators.len() >= 2 {
            let pairs: Vec<String> = here
                .pairs
                .iter()
                .map(|(a, b, value)| format!("{a}/{b} {}", figure(*value)))
                .collect();
            ui.label(format!(
                "CCC here: mean {} ({})",
                figure(here.mean_pairwise),
                pairs.join(", ")
            ))
            .on_hover_text("Lin's concordance correlation coefficient of each pair of annotators' traces over the frames both traced; Ctrl+G shows the whole project's agreement");
        } else if let Some(only) = here.annotators.first() {
            ui.weak(format!("only {only} traced this recording"));
        }
        if here.proxy.is_some() {
            ui.label(format!("model proxy vs human mean: CCC {}", figure(here.proxy)))
                .on_hover_text("the model has no arousal/valence output: its proxy is the circumplex position of its classes, weighted by their probabilities");
        }
    });
}
