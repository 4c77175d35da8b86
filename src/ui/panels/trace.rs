//! What the trace pane shows for the open recording: every annotator's trace of the dimension
//! traced now, the model's proxy trace and the running pass (read from the view, never changed).

use crate::annotation::trace::{TraceSeries, annotator_series, proxy_series};
use crate::project::{PassCombine, TraceScheme};
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
    let proxy = recording.analysis.as_ref().and_then(|analysis| {
        let result = &analysis.result;
        proxy_series(
            &result.classes,
            &result.trajectory.times_s,
            &result.trajectory.probs,
            &scheme.dimension,
            scheme.range(),
            scheme.rate_hz,
        )
    });
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
