//! The segments lane: the current annotator's segments on the shared time axis, the selected one
//! and its selected boundary, a pending mark growing towards the playhead; click a segment to
//! select it, drag a boundary to move it (one edit when the drag ends, stopping where the overlap
//! rule stops it, as the preview shows).

use egui::{Color32, CursorIcon, Pos2, Rect, Sense, Stroke, Vec2};

use crate::annotation::Op;
use crate::annotation::Segment;
use crate::annotation::segments::{Boundary, SegmentEdit};
use crate::ui::segments::SegmentCursor;
use crate::ui::theme;
use crate::ui::timeline::Timeline;

use super::{TimeGesture, gestures, pane_title};

/// How close (in pixels) the pointer must be to grab a boundary.
const GRAB_PX: f32 = 5.0;

/// What the pointer did to the segments themselves.
#[derive(Debug, Clone, PartialEq)]
pub enum SegmentGesture {
    Select(Option<u64>),
    Move {
        id: u64,
        boundary: Boundary,
        to_s: f64,
    },
}

/// The boundary within [`GRAB_PX`] of `x`, if any (the nearest).
fn boundary_near(
    segments: &[Segment],
    timeline: &Timeline,
    rect: Rect,
    x: f32,
) -> Option<(u64, Boundary)> {
    segments
        .iter()
        .flat_map(|s| {
            [
                (s.id, Boundary::Start, s.start_s),
                (s.id, Boundary::End, s.end_s),
            ]
        })
        .map(|(id, boundary, t)| {
            let distance = (timeline.x_of(t, rect.left(), rect.width()) - x).abs();
            (distance, id, boundary)
        })
        .filter(|(distance, _, _)| *distance <= GRAB_PX)
        .min_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, id, boundary)| (id, boundary))
}

pub fn segments_lane(
    ui: &mut egui::Ui,
    width: f32,
    timeline: &Timeline,
    segments: &[Segment],
    cursor: &SegmentCursor,
    playhead_s: f64,
) -> (Rect, Vec<TimeGesture>, Vec<SegmentGesture>) {
    let (rect, response) = ui.allocate_exact_size(Vec2::new(width, 30.0), Sense::click_and_drag());
    let painter = ui.painter_at(rect);
    painter.rect_filled(rect, 0.0, ui.visuals().faint_bg_color);
    let x_of = |t: f64| timeline.x_of(t, rect.left(), rect.width());
    let time_at = |x: f32| {
        timeline
            .time_at(x, rect.left(), rect.width())
            .clamp(0.0, timeline.duration_s)
    };
    // The grabbed boundary and where it is going, kept in egui's memory from the press (the
    // press origin is gone in the frame the button is released).
    let memory_id = response.id.with("grabbed boundary");
    if response.drag_started() {
        let grabbed = ui
            .input(|i| i.pointer.press_origin())
            .and_then(|o| boundary_near(segments, timeline, rect, o.x));
        ui.data_mut(|d| match grabbed {
            Some((id, boundary)) => {
                d.insert_temp(memory_id, (id, boundary, None::<f64>));
            }
            None => d.remove::<(u64, Boundary, Option<f64>)>(memory_id),
        });
    }
    let mut grabbed: Option<(u64, Boundary, Option<f64>)> = ui.data(|d| d.get_temp(memory_id));
    if let (Some(drag), Some(pos)) = (grabbed.as_mut(), response.interact_pointer_pos())
        && response.dragged()
    {
        drag.2 = Some(time_at(pos.x));
        ui.data_mut(|d| d.insert_temp(memory_id, *drag));
    }
    if !response.dragged() && !response.drag_stopped() {
        grabbed = None;
    }
    // While a boundary is dragged, draw the segment where the drop would put it.
    let dragged = grabbed.and_then(|(id, boundary, to_s)| {
        let edit = SegmentEdit::Move {
            id,
            boundary,
            to_s: to_s?,
        };
        match edit.resolve(segments, timeline.duration_s, 0) {
            Ok(Some(Op::PutSegment { segment })) => Some(segment),
            _ => None,
        }
    });
    let strong = ui.visuals().strong_text_color();
    for segment in segments {
        let shown = dragged
            .as_ref()
            .filter(|d| d.id == segment.id)
            .unwrap_or(segment);
        let band = Rect::from_x_y_ranges(
            x_of(shown.start_s)..=x_of(shown.end_s).max(x_of(shown.start_s) + 1.0),
            rect.top() + 3.0..=rect.bottom() - 3.0,
        );
        let selected = cursor.selected == Some(segment.id);
        painter.rect_filled(
            band,
            2.0,
            theme::class_colour_by_name(&shown.class).gamma_multiply(if selected {
                0.9
            } else {
                0.55
            }),
        );
        if band.width() > 36.0 {
            painter.text(
                band.left_center() + Vec2::new(4.0, 0.0),
                egui::Align2::LEFT_CENTER,
                &shown.class,
                egui::FontId::proportional(11.0),
                Color32::BLACK,
            );
        }
        if selected {
            painter.rect_stroke(
                band,
                2.0,
                Stroke::new(1.5, strong),
                egui::StrokeKind::Inside,
            );
            let x = match cursor.boundary {
                Boundary::Start => band.left(),
                Boundary::End => band.right(),
            };
            painter.line_segment(
                [Pos2::new(x, rect.top()), Pos2::new(x, rect.bottom())],
                Stroke::new(3.0, strong),
            );
        }
    }
    if let Some(mark_s) = cursor.mark_s {
        let (a, b) = (x_of(mark_s.min(playhead_s)), x_of(mark_s.max(playhead_s)));
        painter.rect_filled(
            Rect::from_x_y_ranges(a..=b.max(a + 1.0), rect.y_range()),
            0.0,
            ui.visuals().selection.bg_fill.gamma_multiply(0.5),
        );
        painter.line_segment(
            [
                Pos2::new(x_of(mark_s), rect.top()),
                Pos2::new(x_of(mark_s), rect.bottom()),
            ],
            Stroke::new(2.0, strong),
        );
    }
    if segments.is_empty() && cursor.mark_s.is_none() {
        pane_title(
            &painter,
            rect,
            "Segments: M marks start and end, or drag and press G",
            ui,
        );
    }
    let hover_grab = response
        .hover_pos()
        .and_then(|p| boundary_near(segments, timeline, rect, p.x));
    if hover_grab.is_some() || grabbed.is_some() {
        ui.ctx().set_cursor_icon(CursorIcon::ResizeHorizontal);
    }
    let mut time_gestures = gestures(ui, &response, timeline, "Segments");
    let mut segment_gestures = Vec::new();
    if let Some((id, boundary, to_s)) = grabbed {
        // A boundary drag is not a time selection.
        time_gestures.retain(|g| !matches!(g, TimeGesture::Select(..)));
        if response.drag_stopped() {
            ui.data_mut(|d| d.remove::<(u64, Boundary, Option<f64>)>(memory_id));
            if let Some(to_s) = to_s {
                segment_gestures.push(SegmentGesture::Move { id, boundary, to_s });
            }
        }
    } else if response.clicked()
        && let Some(pos) = response.interact_pointer_pos()
    {
        let t = time_at(pos.x);
        let hit = segments
            .iter()
            .rev()
            .find(|s| s.start_s <= t && t < s.end_s)
            .map(|s| s.id);
        segment_gestures.push(SegmentGesture::Select(hit));
    }
    (rect, time_gestures, segment_gestures)
}
