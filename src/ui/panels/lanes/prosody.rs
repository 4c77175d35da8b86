//! The prosody lane: intensity (dB) as a grey band and F0 (Hz, on a semitone scale from 60 to
//! 500 Hz) of the original (blue) and the enhanced signal (green), per pixel column; hovering reads
//! out time, Hz, semitones re 100 Hz and dB.

use egui::{Color32, Pos2, Rect, Sense, Stroke, Vec2};

use crate::audio::format_time;
use crate::audio::pitch::{MAX_F0_HZ, MIN_F0_HZ, ProsodyTrack};
use crate::ui::timeline::Timeline;

use super::{TimeGesture, gestures, pane_title};

/// Intensities this far below the loudest frame sit at the bottom of the lane.
const RANGE_DB: f32 = 60.0;

/// The frames whose centres fall in `[from_s, to_s)`.
fn frames_in(track: &ProsodyTrack, from_s: f64, to_s: f64) -> std::ops::Range<usize> {
    let first_centre = ProsodyTrack::frame_time_s(0);
    let index = |t: f64| {
        (((t - first_centre) / ProsodyTrack::HOP_S).ceil().max(0.0) as usize).min(track.f0_hz.len())
    };
    index(from_s)..index(to_s)
}

/// The frames of one pixel column `[from_s, from_s + span_s)`; zoomed in past the frame hop, the
/// frame nearest to the column's centre (so a contour has no gaps between frames).
fn column_frames(track: &ProsodyTrack, from_s: f64, span_s: f64) -> std::ops::Range<usize> {
    let frames = frames_in(track, from_s, from_s + span_s);
    if frames.is_empty() {
        frame_at(track, from_s + span_s / 2.0).map_or(0..0, |frame| frame..frame + 1)
    } else {
        frames
    }
}

/// The frame nearest to `t`, if any.
fn frame_at(track: &ProsodyTrack, t: f64) -> Option<usize> {
    let frame = ((t - ProsodyTrack::frame_time_s(0)) / ProsodyTrack::HOP_S).round();
    (frame >= 0.0 && (frame as usize) < track.f0_hz.len()).then_some(frame as usize)
}

/// Height in the lane (0 bottom, 1 top) of `hz` on the semitone scale.
fn f0_level(hz: f32) -> f32 {
    ((hz / MIN_F0_HZ).log2() / (MAX_F0_HZ / MIN_F0_HZ).log2()).clamp(0.0, 1.0)
}

pub fn prosody(
    ui: &mut egui::Ui,
    size: Vec2,
    timeline: &Timeline,
    original: Option<&ProsodyTrack>,
    enhanced: Option<&ProsodyTrack>,
) -> (Rect, Vec<TimeGesture>) {
    let title = "Pitch and intensity";
    let (rect, response) = ui.allocate_exact_size(size, Sense::click_and_drag());
    let painter = ui.painter_at(rect);
    painter.rect_filled(rect, 0.0, ui.visuals().extreme_bg_color);
    let plot = Rect::from_min_max(rect.left_top() + Vec2::new(0.0, 14.0), rect.right_bottom());
    let columns = plot.width().max(1.0) as usize;
    let column_span_s = timeline.span_s / columns as f64;
    let y_of = |level: f32| plot.bottom() - level * plot.height();
    if let Some(track) = original {
        let loudest = track
            .intensity_db
            .iter()
            .copied()
            .fold(f32::NEG_INFINITY, f32::max);
        for column in 0..columns {
            let from_s = timeline.start_s + column as f64 * column_span_s;
            let frames = column_frames(track, from_s, column_span_s);
            let Some(db) = track.intensity_db[frames].iter().copied().reduce(f32::max) else {
                continue;
            };
            let level = ((db - loudest + RANGE_DB) / RANGE_DB).clamp(0.0, 1.0);
            let x = plot.left() + column as f32 + 0.5;
            painter.line_segment(
                [Pos2::new(x, plot.bottom()), Pos2::new(x, y_of(level))],
                Stroke::new(1.0, Color32::from_gray(70)),
            );
        }
    }
    // The enhanced contour under the original one, wider, so both show where they agree.
    for (track, colour, width) in [
        (enhanced, Color32::from_rgb(0x00, 0x9E, 0x73), 3.0),
        (original, Color32::from_rgb(0x56, 0xB4, 0xE9), 1.5),
    ] {
        let Some(track) = track else {
            continue;
        };
        for column in 0..columns {
            let from_s = timeline.start_s + column as f64 * column_span_s;
            let frames = column_frames(track, from_s, column_span_s);
            let voiced = track.f0_hz[frames]
                .iter()
                .copied()
                .filter(|hz| hz.is_finite());
            let (low, high) = voiced.fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), hz| {
                (lo.min(hz), hi.max(hz))
            });
            if low.is_finite() {
                let x = plot.left() + column as f32 + 0.5;
                let (top, bottom) = (y_of(f0_level(high)), y_of(f0_level(low)));
                painter.line_segment(
                    [Pos2::new(x, top - 1.0), Pos2::new(x, bottom + 1.0)],
                    Stroke::new(width, colour),
                );
            }
        }
    }
    let source = if enhanced.is_some() {
        "original (blue), enhanced (green)"
    } else {
        "original"
    };
    let text = match original {
        Some(_) => format!("{title} · F0 60–500 Hz of the {source} · intensity, 60 dB range"),
        None => format!("{title}: computing…"),
    };
    pane_title(&painter, rect, &text, ui);
    if let (Some(pos), Some(track)) = (response.hover_pos(), original) {
        let t = timeline.time_at(pos.x, rect.left(), rect.width());
        if let Some(frame) = frame_at(track, t) {
            let hz = |track: &ProsodyTrack| {
                let hz = track.f0_hz.get(frame).copied().filter(|hz| hz.is_finite());
                hz.map_or_else(
                    || "unvoiced".to_owned(),
                    |hz| {
                        format!(
                            "{hz:.0} Hz · {:+.1} st re 100 Hz",
                            ProsodyTrack::semitones_re_100hz(hz)
                        )
                    },
                )
            };
            let mut text = format!(
                "{} · {} · {:.1} dB",
                format_time(ProsodyTrack::frame_time_s(frame)),
                hz(track),
                track.intensity_db[frame]
            );
            if let Some(enhanced) = enhanced.filter(|e| frame < e.f0_hz.len()) {
                text += &format!(
                    "\nenhanced: {} · {:.1} dB",
                    hz(enhanced),
                    enhanced.intensity_db[frame]
                );
            }
            response.clone().on_hover_text_at_pointer(text);
        }
    }
    let gestures = gestures(ui, &response, timeline, title);
    (rect, gestures)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_follow_their_centres() {
        let track = ProsodyTrack {
            f0_hz: vec![100.0; 100],
            intensity_db: vec![-20.0; 100],
        };
        let centre = ProsodyTrack::frame_time_s(10);
        assert_eq!(frame_at(&track, centre), Some(10));
        assert_eq!(
            frame_at(&track, centre + ProsodyTrack::HOP_S * 0.4),
            Some(10)
        );
        assert_eq!(frame_at(&track, 100.0), None);
        let range = frames_in(&track, centre, centre + 2.0 * ProsodyTrack::HOP_S);
        assert_eq!(range, 10..12);
        assert_eq!(frames_in(&track, 50.0, 60.0), 100..100);
        // A column narrower than the hop between two centres takes the nearest frame.
        let narrow = column_frames(&track, centre + 0.001, 0.002);
        assert_eq!(narrow, 10..11);
        assert!((f0_level(MIN_F0_HZ)).abs() < 1e-6);
        assert!((f0_level(MAX_F0_HZ) - 1.0).abs() < 1e-6);
        // 60 → 500 Hz is about 36.7 semitones; 120 Hz is 12 of them up.
        assert!((f0_level(120.0) - 12.0 / 36.7).abs() < 0.01);
    }
}
