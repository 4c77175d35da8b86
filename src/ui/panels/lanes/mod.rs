//! The panes of the recording view, each drawn over the shared [`Timeline`]: ruler, waveform,
//! spectrogram, emotion trajectory and expert-routing heatmap. Every pane reports pointer actions
//! (seek, select, zoom) the same way through [`TimeGesture`].

mod heatmap;
mod prosody;
mod segments;
mod spectrogram;
mod texture;
mod trace;
mod trajectory;
mod waveform;

use egui::{Color32, Pos2, Rect, Sense, Stroke, Vec2};

use crate::audio::format_time;
use crate::ui::theme;
use crate::ui::timeline::Timeline;

pub use heatmap::heatmap;
pub use prosody::prosody;
pub use segments::{SegmentGesture, segments_lane};
pub use spectrogram::spectrogram;
pub use trace::{SeriesView, TraceLane, trace_lane};
pub use trajectory::{labels_over, trajectory};
pub use waveform::waveform;

/// What the pointer did to a pane this frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TimeGesture {
    Seek(f64),
    Select(f64, f64),
    Zoom { factor: f64, anchor_s: f64 },
    Scroll(f64),
}

/// Names the pane for screen readers and tests, and reads its pointer gestures.
pub(super) fn gestures(
    ui: &egui::Ui,
    response: &egui::Response,
    timeline: &Timeline,
    label: &str,
) -> Vec<TimeGesture> {
    let owned = label.to_owned();
    response.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Figure, true, owned.clone()));
    let rect = response.rect;
    let time_at = |x: f32| {
        timeline
            .time_at(x, rect.left(), rect.width())
            .clamp(0.0, timeline.duration_s)
    };
    let mut out = Vec::new();
    if response.drag_stopped() || response.dragged() {
        if let (Some(origin), Some(now)) = (
            ui.input(|i| i.pointer.press_origin()),
            response.interact_pointer_pos(),
        ) {
            out.push(TimeGesture::Select(time_at(origin.x), time_at(now.x)));
        }
    } else if response.clicked()
        && let Some(pos) = response.interact_pointer_pos()
    {
        out.push(TimeGesture::Seek(time_at(pos.x)));
    }
    if response.hovered() {
        let (scroll, zoom) = ui.input(|i| (i.smooth_scroll_delta, i.zoom_delta()));
        if let Some(pos) = response.hover_pos() {
            if (zoom - 1.0).abs() > 1e-3 {
                out.push(TimeGesture::Zoom {
                    factor: 1.0 / f64::from(zoom),
                    anchor_s: time_at(pos.x),
                });
            } else if scroll.y.abs() > 0.1 {
                out.push(TimeGesture::Zoom {
                    factor: (-f64::from(scroll.y) * 0.003).exp(),
                    anchor_s: time_at(pos.x),
                });
            }
        }
        if scroll.x.abs() > 0.1 {
            out.push(TimeGesture::Scroll(-f64::from(
                scroll.x / rect.width().max(1.0),
            )));
        }
    }
    out
}

pub(super) fn pane_title(painter: &egui::Painter, rect: Rect, text: &str, ui: &egui::Ui) {
    painter.text(
        rect.left_top() + Vec2::new(4.0, 2.0),
        egui::Align2::LEFT_TOP,
        text,
        egui::FontId::proportional(11.0),
        ui.visuals().weak_text_color(),
    );
}

/// A small viridis bar at the top right of `rect`, with its two end labels.
pub(super) fn colour_scale(
    painter: &egui::Painter,
    rect: Rect,
    (low, high): (&str, &str),
    text: Color32,
) {
    let scale = Rect::from_min_size(
        rect.right_top() + Vec2::new(-150.0, 3.0),
        Vec2::new(80.0, 9.0),
    );
    for step in 0..80 {
        let x = scale.left() + step as f32;
        painter.line_segment(
            [Pos2::new(x, scale.top()), Pos2::new(x, scale.bottom())],
            Stroke::new(1.0, theme::viridis(step as f32 / 79.0)),
        );
    }
    let font = egui::FontId::proportional(10.0);
    painter.text(
        scale.left_center() - Vec2::new(3.0, 0.0),
        egui::Align2::RIGHT_CENTER,
        low,
        font.clone(),
        text,
    );
    painter.text(
        scale.right_center() + Vec2::new(3.0, 0.0),
        egui::Align2::LEFT_CENTER,
        high,
        font,
        text,
    );
}

/// Playhead and selection over a pane.
pub fn overlay(
    ui: &egui::Ui,
    rect: Rect,
    timeline: &Timeline,
    playhead_s: f64,
    selection: Option<(f64, f64)>,
) {
    let painter = ui.painter_at(rect);
    if let Some((from, to)) = selection {
        let (a, b) = (
            timeline.x_of(from.min(to), rect.left(), rect.width()),
            timeline.x_of(from.max(to), rect.left(), rect.width()),
        );
        painter.rect_filled(
            Rect::from_x_y_ranges(a..=b.max(a + 1.0), rect.y_range()),
            0.0,
            ui.visuals().selection.bg_fill.gamma_multiply(0.35),
        );
    }
    let x = timeline.x_of(playhead_s, rect.left(), rect.width());
    painter.line_segment(
        [Pos2::new(x, rect.top()), Pos2::new(x, rect.bottom())],
        Stroke::new(1.5, Color32::from_rgb(0xE6, 0x9F, 0x00)),
    );
}

pub fn ruler(ui: &mut egui::Ui, width: f32, timeline: &Timeline) -> (Rect, Vec<TimeGesture>) {
    let (rect, response) = ui.allocate_exact_size(Vec2::new(width, 20.0), Sense::click_and_drag());
    let painter = ui.painter_at(rect);
    let (step, ticks) = timeline.ticks((width / 110.0).max(2.0) as usize);
    for tick in ticks {
        let x = timeline.x_of(tick, rect.left(), rect.width());
        painter.line_segment(
            [
                Pos2::new(x, rect.bottom() - 6.0),
                Pos2::new(x, rect.bottom()),
            ],
            ui.visuals().widgets.noninteractive.fg_stroke,
        );
        let mut text = format_time(tick);
        if step >= 1.0 {
            text.truncate(text.len() - 4);
        }
        painter.text(
            Pos2::new(x + 2.0, rect.top()),
            egui::Align2::LEFT_TOP,
            text,
            egui::FontId::monospace(10.0),
            ui.visuals().text_color(),
        );
    }
    let gestures = gestures(ui, &response, timeline, "Time ruler");
    (rect, gestures)
}
