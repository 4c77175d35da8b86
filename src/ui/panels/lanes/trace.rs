//! The trace pane: the dimension being traced, drawn over the model's *proxy* trace (circumplex
//! positions of its classes, probability-weighted) and every annotator's trace of it, with the
//! running pass live. While a pass runs, the pointer's height (or PageUp/PageDown held) sets the
//! value; otherwise the pane seeks and selects like the others.

use egui::{Color32, Key, Pos2, Rect, Sense, Shape, Stroke, Vec2};

use crate::annotation::trace::TraceSeries;
use crate::project::TraceScheme;
use crate::ui::theme;
use crate::ui::timeline::Timeline;

use super::{TimeGesture, gestures, pane_title};

/// Values on the audio-time grid (`values[i]` at `start_s + i / rate_hz`), borrowed: the
/// running pass is drawn from its own buffer every frame, never copied.
#[derive(Clone, Copy)]
pub struct SeriesView<'a> {
    pub rate_hz: f64,
    pub start_s: f64,
    pub values: &'a [f64],
}

impl<'a> From<&'a TraceSeries> for SeriesView<'a> {
    fn from(series: &'a TraceSeries) -> Self {
        Self {
            rate_hz: series.rate_hz,
            start_s: series.start_s,
            values: &series.values,
        }
    }
}

/// What the pane draws.
pub struct TraceLane<'a> {
    pub scheme: &'a TraceScheme,
    /// Each annotator's trace (their final pass, or the mean of their passes).
    pub annotators: &'a [(String, TraceSeries)],
    /// The model's proxy trace, once the recording is analysed.
    pub proxy: Option<&'a TraceSeries>,
    /// The running pass, drawn live.
    pub live: Option<SeriesView<'a>>,
    /// The value the input holds now.
    pub value: Option<f64>,
    pub tracing: bool,
}

const PROXY: Color32 = Color32::from_rgb(0x99, 0x99, 0x99);
const LIVE: Color32 = Color32::from_rgb(0xD5, 0x5E, 0x00);

/// Draws the pane; returns its rect, its gestures (none while tracing) and the new value the
/// pointer or keys set while tracing.
pub fn trace_lane(
    ui: &mut egui::Ui,
    size: Vec2,
    timeline: &Timeline,
    lane: &TraceLane<'_>,
) -> (Rect, Vec<TimeGesture>, Option<f64>) {
    let (rect, response) = ui.allocate_exact_size(size, Sense::click_and_drag());
    let painter = ui.painter_at(rect);
    painter.rect_filled(rect, 0.0, ui.visuals().extreme_bg_color);
    let (min, max) = lane.scheme.range();
    let y_of = |v: f64| {
        let fraction = ((v - min) / (max - min)).clamp(0.0, 1.0) as f32;
        rect.bottom() - 4.0 - fraction * (rect.height() - 20.0)
    };
    let value_at =
        |y: f32| min + f64::from((rect.bottom() - 4.0 - y) / (rect.height() - 20.0)) * (max - min);
    let line = |series: SeriesView<'_>, stroke: Stroke, dashed: bool| {
        let first = ((timeline.start_s - series.start_s) * series.rate_hz)
            .floor()
            .max(0.0) as usize;
        let last = (((timeline.end_s() - series.start_s) * series.rate_hz)
            .ceil()
            .max(0.0) as usize
            + 1)
        .min(series.values.len());
        // One point per pixel column at most.
        let step = ((last.saturating_sub(first)) as f32 / rect.width().max(1.0))
            .ceil()
            .max(1.0) as usize;
        let points: Vec<Pos2> = (first..last)
            .step_by(step)
            .filter(|&i| series.values[i].is_finite())
            .map(|i| {
                let time_s = series.start_s + i as f64 / series.rate_hz;
                Pos2::new(
                    timeline.x_of(time_s, rect.left(), rect.width()),
                    y_of(series.values[i]),
                )
            })
            .collect();
        if dashed {
            painter.extend(Shape::dashed_line(&points, stroke, 6.0, 4.0));
        } else {
            painter.add(Shape::line(points, stroke));
        }
    };
    if let Some(proxy) = lane.proxy {
        line(proxy.into(), Stroke::new(1.5, PROXY), true);
    }
    for (index, (_, series)) in lane.annotators.iter().enumerate() {
        line(
            series.into(),
            Stroke::new(1.5, theme::class_colour(index + 4)),
            false,
        );
    }
    if let Some(live) = lane.live {
        line(live, Stroke::new(2.5, LIVE), false);
    }
    // A legend in the pane's colours, right-aligned along the top.
    let mut legend: Vec<(String, Color32)> = lane
        .annotators
        .iter()
        .enumerate()
        .map(|(index, (name, _))| (name.clone(), theme::class_colour(index + 4)))
        .collect();
    if lane.proxy.is_some() {
        legend.push(("model proxy (circumplex, dashed)".into(), PROXY));
    }
    let mut x = rect.right() - 6.0;
    for (name, colour) in legend.iter().rev() {
        let drawn = painter.text(
            Pos2::new(x, rect.top() + 2.0),
            egui::Align2::RIGHT_TOP,
            name,
            egui::FontId::proportional(11.0),
            *colour,
        );
        x = drawn.left() - 10.0;
    }
    let mode = if lane.tracing {
        "tracing: pointer up/down or PageUp/PageDown; T stops"
    } else {
        "T traces, Shift+T switches dimension"
    };
    pane_title(
        &painter,
        rect,
        &format!(
            "Trace: {} ({min}–{max}) · {mode}",
            lane.scheme.display_name()
        ),
        ui,
    );
    let mut new_value = None;
    if lane.tracing {
        let dt = f64::from(ui.input(|i| i.stable_dt)).min(0.1);
        let keys = ui.input(|i| (i.key_down(Key::PageUp), i.key_down(Key::PageDown)));
        let held = lane.value.unwrap_or((min + max) / 2.0);
        if let Some(pos) = response.hover_pos() {
            new_value = Some(value_at(pos.y));
        } else if keys.0 || keys.1 {
            let direction = if keys.0 { 1.0 } else { -1.0 };
            new_value = Some(held + direction * (max - min) / 2.0 * dt);
        }
        if let Some(value) = new_value.or(lane.value) {
            let y = y_of(value);
            painter.line_segment(
                [Pos2::new(rect.left(), y), Pos2::new(rect.right(), y)],
                Stroke::new(1.0, LIVE.gamma_multiply(0.5)),
            );
        }
        ui.ctx().request_repaint();
        let name = format!("Trace lane: {}", lane.scheme.display_name());
        response.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Figure, true, name.clone()));
        return (rect, Vec::new(), new_value);
    }
    let gestures = gestures(
        ui,
        &response,
        timeline,
        &format!("Trace lane: {}", lane.scheme.display_name()),
    );
    (rect, gestures, new_value)
}
