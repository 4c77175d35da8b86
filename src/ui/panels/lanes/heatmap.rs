//! The router heatmap pane: experts × frames of one router.

use egui::{Color32, ColorImage, Pos2, Rect, Sense, Stroke, Vec2};

use crate::audio::format_time;
use crate::model::analysis::RouterTrace;
use crate::ui::recording::DataVersion;
use crate::ui::theme;
use crate::ui::timeline::Timeline;

use super::texture::{TextureKey, cached_texture};
use super::{TimeGesture, colour_scale, gestures};

/// Experts × frames of one router: probability as viridis, the chosen (top) expert outlined.
pub fn heatmap(
    ui: &mut egui::Ui,
    size: Vec2,
    timeline: &Timeline,
    (trace, data): (&RouterTrace, DataVersion),
    title: &str,
) -> (Rect, Vec<TimeGesture>) {
    let experts = trace.experts().max(1);
    let (rect, response) = ui.allocate_exact_size(size, Sense::click_and_drag());
    let row_height = ((rect.height() - 16.0) / experts as f32).max(2.0);
    let painter = ui.painter_at(rect);
    let map = Rect::from_min_max(rect.left_top() + Vec2::new(0.0, 16.0), rect.right_bottom());
    let columns = map.width().max(1.0) as usize;
    // Frames not analysed yet (a partial analysis) stay background.
    let frame_at = |column: usize| {
        trace
            .frame_at(timeline.start_s + timeline.span_s * (column as f64 + 0.5) / columns as f64)
            .filter(|&frame| trace.is_analysed(frame))
    };
    let texture = cached_texture(
        ui,
        ui.scope_id().with(("heatmap", title)),
        TextureKey::new(data, timeline, columns),
        || {
            let mut pixels = vec![ui.visuals().extreme_bg_color; columns * experts];
            for column in 0..columns {
                if let Some(frame) = frame_at(column) {
                    for (expert, &p) in trace.probs.row(frame).iter().enumerate() {
                        pixels[expert * columns + column] = theme::viridis(p);
                    }
                }
            }
            ColorImage::new([columns, experts], pixels)
        },
    );
    painter.image(
        texture.id(),
        map,
        Rect::from_min_max(Pos2::ZERO, Pos2::new(1.0, 1.0)),
        Color32::WHITE,
    );
    // Chosen expert: a thin line along the top of its row.
    for column in 0..columns {
        if let Some(frame) = frame_at(column) {
            let y = map.top() + trace.chosen(frame) as f32 * row_height + 1.0;
            let x = map.left() + column as f32;
            painter.line_segment(
                [Pos2::new(x, y), Pos2::new(x + 1.0, y)],
                Stroke::new(2.0, Color32::WHITE),
            );
        }
    }
    let usage_text = trace
        .usage
        .iter()
        .enumerate()
        .map(|(i, u)| format!("E{} {:.0}%", i + 1, u * 100.0))
        .collect::<Vec<_>>()
        .join("  ");
    painter.text(
        rect.left_top() + Vec2::new(4.0, 1.0),
        egui::Align2::LEFT_TOP,
        format!("{title} · usage {usage_text} · white = chosen expert"),
        egui::FontId::proportional(11.0),
        ui.visuals().weak_text_color(),
    );
    colour_scale(&painter, rect, ("0", "1"), ui.visuals().text_color());
    if let Some(pos) = response.hover_pos()
        && map.contains(pos)
    {
        let column = (pos.x - map.left()) as usize;
        let expert = ((pos.y - map.top()) / row_height) as usize;
        if let Some(frame) = frame_at(column)
            && expert < experts
        {
            let p = trace.probs[[frame, expert]];
            response.clone().on_hover_text_at_pointer(format!(
                "{} · expert {} · p = {p:.3}",
                format_time(frame as f64 * trace.hop_s),
                expert + 1
            ));
        }
    }
    let gestures = gestures(ui, &response, timeline, title);
    (rect, gestures)
}
