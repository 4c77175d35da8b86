//! What the trace pane shows for the open recording: every annotator's trace of the dimension
//! traced now, the model's proxy trace and the running pass (read from the view, never changed);
//! and the line under it: the annotator's passes (which one is final), how the recording's
//! annotators agree, and how the last pass ended.

use std::sync::Arc;

use crate::annotation::Op;
use crate::annotation::trace::{
    PassState, RecordingAgreement, TraceEdit, TraceSeries, proxy_series, recording_agreement,
    recording_series,
};
use crate::project::{PassCombine, TraceScheme};
use crate::ui::commands::{Action, Command, CommandSender, tooltip};
use crate::ui::recording::{DataVersion, RecordingState};
use crate::ui::view::StudioView;

use super::lanes::{SeriesView, TraceLane};

/// What the pane and its line derive from the journals and the analysis: every annotator's
/// trace, the model's proxy and the recording's agreement.
#[derive(Debug, Default)]
pub struct Derived {
    /// How an annotator's passes combine (the project's setting the rest was derived under).
    combine: PassCombine,
    annotators: Vec<(String, TraceSeries)>,
    proxy: Option<TraceSeries>,
    agreement: RecordingAgreement,
}

/// What `Derived` was computed from: the recording and its analysis, the dimension and how passes
/// combine, and the current annotator's journal position (their next edit, or another recording
/// opened, changes it; other annotators' journals do not change while the window is open).
#[derive(Debug, Clone, PartialEq)]
struct DerivedKey {
    data: DataVersion,
    dimension: String,
    combine: PassCombine,
    next_seq: Option<u64>,
}

/// The derived traces of the open recording, computed again only when what they come from
/// changes (a pass in progress adds a journal block every half second), so a frame of tracing
/// costs drawing, not resampling every annotator's trace.
pub fn derived(
    ui: &egui::Ui,
    view: &StudioView<'_>,
    recording: &RecordingState,
    scheme: &TraceScheme,
) -> Arc<Derived> {
    let combine = view
        .collection
        .project
        .as_ref()
        .map_or(PassCombine::Final, |p| p.file.traces.combine);
    let key = DerivedKey {
        data: recording.version(recording.analysis_generation),
        dimension: scheme.dimension.clone(),
        combine,
        next_seq: view.labelling.annotations.next_seq(),
    };
    let id = ui.scope_id().with("trace-derived");
    if let Some((cached, derived)) = ui.data(|d| d.get_temp::<(DerivedKey, Arc<Derived>)>(id))
        && cached == key
    {
        return derived;
    }
    let labels = view
        .current_file()
        .and_then(|file| view.labelling.annotations.labels_of(file));
    let proxy = proxy_of(recording, scheme);
    let derived = Arc::new(match labels {
        Some(labels) => Derived {
            combine,
            annotators: recording_series(labels, &scheme.dimension, combine, scheme.rate_hz)
                .into_iter()
                .collect(),
            agreement: recording_agreement(labels, scheme, combine, proxy.as_ref()),
            proxy,
        },
        None => Derived {
            combine,
            proxy,
            ..Derived::default()
        },
    });
    ui.data_mut(|d| d.insert_temp(id, (key, derived.clone())));
    derived
}

/// The pane's contents: the derived traces and the running pass.
pub fn trace_lane_of<'a>(
    view: &'a StudioView<'_>,
    derived: &'a Derived,
    scheme: &'a TraceScheme,
) -> TraceLane<'a> {
    let live = view
        .trace
        .active
        .as_ref()
        .filter(|a| a.scheme.dimension == scheme.dimension)
        .map(|a| SeriesView {
            rate_hz: a.scheme.rate_hz,
            start_s: a.start_index as f64 / a.scheme.rate_hz,
            values: &a.values,
        });
    TraceLane {
        scheme,
        annotators: &derived.annotators,
        proxy: derived.proxy.as_ref(),
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
    derived: &Derived,
    scheme: &TraceScheme,
    commands: &CommandSender,
) {
    let combine = derived.combine;
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
                (PassCombine::Mean, _) => "(their mean counts)",
                (PassCombine::Final, None) => "(latest counts)",
                (PassCombine::Final, Some(_)) => "(final counts)",
            })
            .on_hover_text("which of your passes stands for you in agreement and exports: the project's \"combine\" setting, the final pass (marked, else your latest) or the mean of your passes");
        }
        ui.separator();
        let here = &derived.agreement;
        let figure = |value: Option<f64>| value.map_or("n/a".to_owned(), |v| format!("{v:.2}"));
        if here.annotators.len() >= 2 {
            let pairs: Vec<String> = here
                .pairs
                .iter()
                .map(|(a, b, value)| format!("{a}/{b} {}", figure(*value)))
                .collect();
            // Pairs grow with the square of the annotators: beyond three, the weakest pair.
            let shown = if pairs.len() <= 3 {
                pairs.join(", ")
            } else {
                let lowest = here
                    .pairs
                    .iter()
                    .filter_map(|(a, b, v)| Some((a, b, (*v)?)))
                    .min_by(|x, y| x.2.total_cmp(&y.2))
                    .map_or("n/a".to_owned(), |(a, b, v)| format!("{a}/{b} {v:.2}"));
                format!("lowest {lowest}")
            };
            ui.label(format!("CCC {} ({shown})", figure(here.mean_pairwise)))
                .on_hover_text(format!(
                    "Lin's concordance correlation coefficient of each pair of annotators' traces here, over the frames both traced: {}; the mean of the pairs first. Ctrl+G shows the whole project's agreement",
                    pairs.join(", ")
                ));
        } else if let Some(only) = here.annotators.first() {
            ui.weak(format!("only {only} traced this recording"));
        }
        if here.proxy.is_some() {
            ui.label(format!("proxy CCC {}", figure(here.proxy)))
                .on_hover_text("the model's proxy trace against the human mean: the model has no arousal/valence output, so its proxy is the circumplex position of its classes, weighted by their probabilities");
        }
    });
}
