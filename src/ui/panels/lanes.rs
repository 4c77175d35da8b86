//! The panes of the recording view, each drawn over the shared [`Timeline`]: ruler, waveform,
//! spectrogram, emotion trajectory and expert-routing heatmap. Every pane reports pointer actions
//! (seek, select, zoom) the same way through [`TimeGesture`].

use egui::{Color32, ColorImage, Pos2, Rect, Sense, Stroke, TextureOptions, Vec2};
use egui_plot::{Legend, Line, Plot, PlotBounds, PlotPoints};

use crate::audio::format_time;
use crate::audio::pyramid::WaveformPyramid;
use crate::model::analysis::{RouterTrace, SignalAnalysis};
use crate::ui::recording::{DataVersion, SpectrogramImage};
use crate::ui::theme;
use crate::ui::timeline::Timeline;

/// What the pointer did to a pane this frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TimeGesture {
    Seek(f64),
    Select(f64, f64),
    Zoom { factor: f64, anchor_s: f64 },
    Scroll(f64),
}

/// Names the pane for screen readers and tests, and reads its pointer gestures.
fn gestures(
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

fn pane_title(painter: &egui::Painter, rect: Rect, text: &str, ui: &egui::Ui) {
    painter.text(
        rect.left_top() + Vec2::new(4.0, 2.0),
        egui::Align2::LEFT_TOP,
        text,
        egui::FontId::proportional(11.0),
        ui.visuals().weak_text_color(),
    );
}

/// A small viridis bar at the top right of `rect`, with its two end labels.
fn colour_scale(painter: &egui::Painter, rect: Rect, (low, high): (&str, &str), text: Color32) {
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

pub fn waveform(
    ui: &mut egui::Ui,
    width: f32,
    timeline: &Timeline,
    pyramid: &WaveformPyramid,
    title: &str,
    colour: Color32,
) -> (Rect, Vec<TimeGesture>) {
    let (rect, response) = ui.allocate_exact_size(Vec2::new(width, 80.0), Sense::click_and_drag());
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

/// What a pane image shows: which data (recording and analysis generation) over which stretch of
/// time at which width. Never a memory address: a freed buffer's address can be reused by the
/// next recording's data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct TextureKey {
    data: DataVersion,
    start_s_bits: u64,
    span_s_bits: u64,
    columns: usize,
}

impl TextureKey {
    fn new(data: DataVersion, timeline: &Timeline, columns: usize) -> Self {
        Self {
            data,
            start_s_bits: timeline.start_s.to_bits(),
            span_s_bits: timeline.span_s.to_bits(),
            columns,
        }
    }
}

/// A texture for `key`, rebuilt by `build` only when the key changes (other data, zoom, scroll,
/// width).
fn cached_texture(
    ui: &egui::Ui,
    id: egui::Id,
    key: TextureKey,
    build: impl FnOnce() -> ColorImage,
) -> egui::TextureHandle {
    if let Some((cached_key, texture)) =
        ui.data(|d| d.get_temp::<(TextureKey, egui::TextureHandle)>(id))
        && cached_key == key
    {
        return texture;
    }
    let texture = ui
        .ctx()
        .load_texture(format!("{id:?}"), build(), TextureOptions::NEAREST);
    ui.data_mut(|d| d.insert_temp(id, (key, texture.clone())));
    texture
}

pub fn spectrogram(
    ui: &mut egui::Ui,
    width: f32,
    timeline: &Timeline,
    image: Option<(&SpectrogramImage, DataVersion)>,
    title: &str,
) -> (Rect, Vec<TimeGesture>) {
    let (rect, response) = ui.allocate_exact_size(Vec2::new(width, 110.0), Sense::click_and_drag());
    let painter = ui.painter_at(rect);
    painter.rect_filled(rect, 0.0, theme::viridis(0.0));
    if let Some((image, data)) = image {
        let columns = rect.width().max(1.0) as usize;
        let texture = cached_texture(
            ui,
            ui.scope_id().with(("spectrogram", title)),
            TextureKey::new(data, timeline, columns),
            || {
                // Each pixel column shows the loudest of the frames under it.
                let frames = image.frames();
                let mut pixels = vec![Color32::BLACK; columns * image.bands];
                for column in 0..columns {
                    let t0 = timeline.start_s + timeline.span_s * column as f64 / columns as f64;
                    let t1 =
                        timeline.start_s + timeline.span_s * (column + 1) as f64 / columns as f64;
                    let first = ((t0 / image.hop_s) as usize).min(frames.saturating_sub(1));
                    let last =
                        ((t1 / image.hop_s) as usize).clamp(first + 1, frames.max(first + 1));
                    for band in 0..image.bands {
                        // Low frequencies at the bottom.
                        pixels[(image.bands - 1 - band) * columns + column] =
                            theme::viridis_level(image.max_over(first, last, band));
                    }
                }
                ColorImage::new([columns, image.bands], pixels)
            },
        );
        painter.image(
            texture.id(),
            rect,
            Rect::from_min_max(Pos2::ZERO, Pos2::new(1.0, 1.0)),
            Color32::WHITE,
        );
    } else {
        painter.text(
            rect.center(),
            egui::Align2::CENTER_CENTER,
            "computing…",
            egui::FontId::proportional(12.0),
            Color32::WHITE,
        );
    }
    painter.text(
        rect.left_top() + Vec2::new(4.0, 2.0),
        egui::Align2::LEFT_TOP,
        format!("{title} · mel 50 Hz–8 kHz"),
        egui::FontId::proportional(11.0),
        Color32::WHITE,
    );
    colour_scale(&painter, rect, ("-80 dB", "max"), Color32::WHITE);
    let gestures = gestures(ui, &response, timeline, title);
    (rect, gestures)
}

pub fn trajectory(
    ui: &mut egui::Ui,
    width: f32,
    timeline: &Timeline,
    analysis: &SignalAnalysis,
) -> (Rect, Vec<TimeGesture>) {
    let trajectory = &analysis.trajectory;
    let plot = Plot::new("trajectory")
        .width(width)
        .height(150.0)
        .show_axes([false, false])
        .show_grid([false, true])
        .show_x(false)
        .allow_drag(false)
        .allow_zoom(false)
        .allow_scroll(false)
        .allow_boxed_zoom(false)
        .allow_double_click_reset(false)
        .set_margin_fraction(Vec2::ZERO)
        .legend(Legend::default().position(egui_plot::Corner::RightTop))
        .show(ui, |plot_ui| {
            plot_ui.set_plot_bounds(PlotBounds::from_min_max(
                [timeline.start_s, 0.0],
                [timeline.end_s(), 1.02],
            ));
            // Only the windows in view (and one either side, so lines reach the edges).
            let first = trajectory
                .times_s
                .partition_point(|&t| t < timeline.start_s)
                .saturating_sub(1);
            let last = (trajectory
                .times_s
                .partition_point(|&t| t <= timeline.end_s())
                + 1)
            .min(trajectory.times_s.len());
            for (class_index, class) in analysis.classes.iter().enumerate() {
                let points: PlotPoints = trajectory.times_s[first..last]
                    .iter()
                    .zip(&trajectory.probs[first..last])
                    .map(|(&t, row)| [t, f64::from(row.get(class_index).copied().unwrap_or(0.0))])
                    .collect();
                plot_ui.line(
                    Line::new(class.as_str(), points)
                        .color(theme::class_colour(class_index))
                        .width(2.0),
                );
            }
        });
    let response = plot.response.interact(Sense::click_and_drag());
    let rect = response.rect;
    let painter = ui.painter_at(rect);
    let best = analysis
        .probs
        .iter()
        .copied()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .unwrap_or((0, 0.0));
    painter.text(
        rect.left_top() + Vec2::new(4.0, 2.0),
        egui::Align2::LEFT_TOP,
        format!(
            "Emotion trajectory (window centres) · utterance: {} {:.0}%",
            analysis.classes.get(best.0).map_or("", String::as_str),
            best.1 * 100.0
        ),
        egui::FontId::proportional(11.0),
        ui.visuals().weak_text_color(),
    );
    let gestures = gestures(ui, &response, timeline, "Emotion trajectory");
    (rect, gestures)
}

/// Each annotator's label as a band along the top of `rect`: the recording's class faint across
/// the whole width, segments solid where they are.
pub fn labels_over(
    ui: &egui::Ui,
    rect: Rect,
    timeline: &Timeline,
    labels: &std::collections::BTreeMap<String, crate::annotation::Label>,
) {
    let painter = ui.painter_at(rect);
    let row = 12.0;
    for (index, (annotator, label)) in labels.iter().enumerate() {
        let top = rect.top() + 16.0 + index as f32 * (row + 2.0);
        let band = |from: f64, to: f64| {
            Rect::from_x_y_ranges(
                timeline.x_of(from, rect.left(), rect.width())
                    ..=timeline.x_of(to, rect.left(), rect.width()),
                top..=top + row,
            )
        };
        if let Some(class) = &label.class {
            painter.rect_filled(
                band(0.0, timeline.duration_s),
                0.0,
                theme::class_colour_by_name(class).gamma_multiply(0.35),
            );
        }
        for segment in &label.segments {
            painter.rect_filled(
                band(segment.start_s, segment.end_s),
                2.0,
                theme::class_colour_by_name(&segment.class),
            );
        }
        painter.text(
            Pos2::new(rect.left() + 4.0, top + row / 2.0),
            egui::Align2::LEFT_CENTER,
            format!("{annotator}: {}", label.class.as_deref().unwrap_or("–")),
            egui::FontId::proportional(10.0),
            ui.visuals().strong_text_color(),
        );
    }
}

/// Experts × frames of one router: probability as viridis, the chosen (top) expert outlined.
pub fn heatmap(
    ui: &mut egui::Ui,
    width: f32,
    timeline: &Timeline,
    (trace, data): (&RouterTrace, DataVersion),
    title: &str,
) -> (Rect, Vec<TimeGesture>) {
    let experts = trace.experts().max(1);
    let row_height = 14.0;
    let (rect, response) = ui.allocate_exact_size(
        Vec2::new(width, row_height * experts as f32 + 16.0),
        Sense::click_and_drag(),
    );
    let painter = ui.painter_at(rect);
    let map = Rect::from_min_max(rect.left_top() + Vec2::new(0.0, 16.0), rect.right_bottom());
    let columns = map.width().max(1.0) as usize;
    let frame_at = |column: usize| {
        trace.frame_at(timeline.start_s + timeline.span_s * (column as f64 + 0.5) / columns as f64)
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
