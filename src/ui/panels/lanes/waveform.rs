//! The waveform pane: one min/max line per pixel column, read from the pyramid.

use egui::{Color32, Pos2, Rect, Sense, Stroke, Vec2};

use crate::audio::pyramid::WaveformPyramid;
use crate::ui::timeline::Timeline;

use super::{TimeGesture, gestures, pane_title};

pub fn waveform(
    ui: &mut egui::Ui,
    size: Vec2,
    timeline: &Timeline,
    pyramid: &WaveformPyramid,
    title: &str,
    colour: Color32,
) -> (Rect, Vec<TimeGesture>) {
    let (rect, response) = ui.allocate_exact_size(size, Sense::click_and_drag());
    let painter = ui.painter_at(rect);
    painter.rect_filled(rect, 0.0, ui.visuals().extreme_bg_color);
    let columns = rect.width().max(1.0) as usize;
    let mid = rect.center().y;
    let half = rect.height() / 2.0 - 2.0;
    for (column, extent) in pyramid
        .columns(timeline.start_s, timeline.end_s(), columns)
        .into_iter()
        .enumerate()
    {
        if let Some(extent) = extent {
            let x = rect.left() + column as f32 + 0.5;
            let top = mid - extent.max.clamp(-1.0, 1.0) * half;
            let bottom = (mid - extent.min.clamp(-1.0, 1.0) * half).max(top + 1.0);
            painter.line_segment(
                [Pos2::new(x, top), Pos2::new(x, bottom)],
                Stroke::new(1.0, colour),
            );
        }
    }
    pane_title(&painter, rect, title, ui);
    let gestures = gestures(ui, &response, timeline, title);
    (rect, gestures)
}
