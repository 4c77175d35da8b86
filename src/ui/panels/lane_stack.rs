//! The lanes of the open recording, top to bottom on one time axis: ruler, original waveform,
//! segments, enhanced waveform, spectrogram, trajectory, SER and SE routers. Each resizable lane
//! has a height from the [`LaneLayout`] (by default they share the panel's height), a drag handle
//! under it and a collapse button; a collapsed lane is a title bar that expands on a click.

use egui::{Color32, CursorIcon, Pos2, Rect, Sense, Stroke, Vec2};

use crate::ui::commands::{Action, CommandSender};
use crate::ui::lane_layout::{COLLAPSED_PX, HANDLE_PX, LaneKind};
use crate::ui::recording::{RecordingState, Signal};
use crate::ui::view::StudioView;

use super::lanes::{self, SegmentGesture, TimeGesture};

/// Height of the fixed parts: the ruler, the segments lane, and a line of text.
const RULER_PX: f32 = 20.0;
const SEGMENTS_PX: f32 = 30.0;
const TEXT_LINE_PX: f32 = 18.0;

/// Draws one lane at a size; returns its rect and what the pointer did.
type DrawLane<'a> = dyn FnMut(&mut egui::Ui, Vec2) -> (Rect, Vec<TimeGesture>) + 'a;

/// A collapsed lane: its title as a bar; a click expands it.
fn collapsed_ui(ui: &mut egui::Ui, width: f32, lane: LaneKind, commands: &CommandSender) {
    let (rect, response) = ui.allocate_exact_size(Vec2::new(width, COLLAPSED_PX), Sense::click());
    let painter = ui.painter_at(rect);
    painter.rect_filled(rect, 0.0, ui.visuals().faint_bg_color);
    painter.text(
        rect.left_center() + Vec2::new(4.0, 0.0),
        egui::Align2::LEFT_CENTER,
        format!("+ {}", lane.title()),
        egui::FontId::proportional(11.0),
        ui.visuals().weak_text_color(),
    );
    let label = format!("Show {}", lane.title());
    response.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Button, true, &label));
    if response.on_hover_text("show this lane").clicked() {
        commands.send(Action::ToggleLane(lane));
    }
}

/// The collapse button on a lane's top right and the drag handle under it.
fn lane_controls_ui(
    ui: &mut egui::Ui,
    rect: Rect,
    lane: LaneKind,
    height: f32,
    commands: &CommandSender,
) {
    // Interact without allocating: the lane's layout stays as it is.
    let button = Rect::from_min_size(
        rect.right_top() + Vec2::new(-20.0, 1.0),
        Vec2::new(18.0, 14.0),
    );
    let hide = ui
        .interact(
            button,
            ui.scope_id().with(("hide lane", lane)),
            Sense::click(),
        )
        .on_hover_text(format!("hide the {} lane", lane.title()));
    ui.painter().text(
        button.center(),
        egui::Align2::CENTER_CENTER,
        "−",
        egui::FontId::proportional(13.0),
        if hide.hovered() {
            ui.visuals().strong_text_color()
        } else {
            ui.visuals().weak_text_color()
        },
    );
    let label = format!("Hide {}", lane.title());
    hide.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Button, true, &label));
    if hide.clicked() {
        commands.send(Action::ToggleLane(lane));
    }
    let (handle, response) =
        ui.allocate_exact_size(Vec2::new(rect.width(), HANDLE_PX), Sense::drag());
    let active = response.hovered() || response.dragged();
    let y = handle.center().y;
    ui.painter().line_segment(
        [Pos2::new(handle.left(), y), Pos2::new(handle.right(), y)],
        Stroke::new(
            if active { 2.0 } else { 1.0 },
            ui.visuals().widgets.noninteractive.bg_stroke.color,
        ),
    );
    if active {
        ui.ctx().set_cursor_icon(CursorIcon::ResizeVertical);
    }
    if response.dragged() && response.drag_delta().y != 0.0 {
        commands.send(Action::SetLaneHeight(
            lane,
            height + response.drag_delta().y,
        ));
    }
}

/// Which resizable lanes the recording has now (the analysis adds four, a partial one three; a
/// traced project one).
fn lanes_of(recording: &RecordingState, traced: bool) -> Vec<LaneKind> {
    let mut lanes = vec![LaneKind::Original];
    if recording.analysis.is_some() {
        lanes.push(LaneKind::Enhanced);
    }
    if traced {
        lanes.push(LaneKind::Trace);
    }
    lanes.extend([LaneKind::Spectrogram, LaneKind::Prosody]);
    if recording.shown_analysis().is_some() {
        lanes.extend([
            LaneKind::Trajectory,
            LaneKind::SerRouter,
            LaneKind::SeRouter,
        ]);
    }
    lanes
}

/// Draws every lane into `ui` (a vertical scroll area: lanes shrink to fit first, then it
/// scrolls) and returns what the pointer did.
pub fn lanes_ui(
    ui: &mut egui::Ui,
    view: &StudioView<'_>,
    recording: &RecordingState,
    original: &Signal,
    panel_width: f32,
    commands: &CommandSender,
) -> (Vec<TimeGesture>, Vec<SegmentGesture>) {
    let playhead = view.player.transport.position_s();
    let labels = view
        .current_file()
        .and_then(|file| view.labelling.annotations.labels_of(file));
    let own_segments = view.current_label().map_or(&[][..], |l| &l.segments);
    let trace_scheme = view.trace_scheme();
    let kinds = lanes_of(recording, trace_scheme.is_some());
    // What the lanes share: the panel's height less the fixed parts and the spacing.
    let spacing = ui.spacing().item_spacing.y;
    let texts = usize::from(recording.analysis.is_none())
        + usize::from(trace_scheme.is_some())
        + usize::from(
            recording
                .shown_analysis()
                .is_some_and(|(result, _)| result.padded_from_s.is_some()),
        );
    let items = 2 + texts + 2 * kinds.len();
    let available = ui.available_height()
        - RULER_PX
        - SEGMENTS_PX
        - texts as f32 * TEXT_LINE_PX
        - items as f32 * spacing;
    let heights = view.lanes.heights(&kinds, available);
    let height_of = |lane: LaneKind| {
        kinds
            .iter()
            .position(|k| *k == lane)
            .map_or(lane.base_px(), |i| heights[i])
    };
    let mut gestures = Vec::new();
    let mut segment_gestures = Vec::new();
    let mut rects = Vec::new();
    egui::ScrollArea::vertical().auto_shrink([false, false]).show(ui, |ui| {
        let width = ui.available_width().min(panel_width);
        let timeline = recording.timeline;
        let lane = |ui: &mut egui::Ui,
                        kind: LaneKind,
                        draw: &mut DrawLane<'_>| {
            if view.lanes.is_collapsed(kind) {
                collapsed_ui(ui, width, kind, commands);
                return None;
            }
            let height = height_of(kind);
            let (rect, g) = draw(ui, Vec2::new(width, height));
            lane_controls_ui(ui, rect, kind, height, commands);
            Some((rect, g))
        };
        let mut drawn = Vec::new();
        let (rect, g) = lanes::ruler(ui, width, &timeline);
        drawn.push((rect, g));
        drawn.extend(lane(ui, LaneKind::Original, &mut |ui, size| {
            lanes::waveform(ui, size, &timeline, &original.pyramid, "Original", Color32::from_rgb(0x56, 0xB4, 0xE9))
        }));
        let (rect, g, s) = lanes::segments_lane(ui, width, &timeline, own_segments, view.segments, playhead);
        drawn.push((rect, g));
        segment_gestures.extend(s);
        match &recording.analysis {
            Some(analysis) => drawn.extend(lane(ui, LaneKind::Enhanced, &mut |ui, size| {
                lanes::waveform(ui, size, &timeline, &analysis.enhanced.pyramid, "Enhanced (Sparse MERIT)", Color32::from_rgb(0x00, 0x9E, 0x73))
            })),
            None => match (&recording.analysis_error, &recording.partial) {
                (Some(error), _) => {
                    ui.colored_label(ui.visuals().error_fg_color, format!("analysis failed: {error}"))
                        .on_hover_text("Press I for the model card; Ctrl+M chooses another model.");
                }
                (None, Some(partial)) => {
                    ui.weak(format!(
                        "Analysing: {:.0} % done, the part in view first. Enhanced audio when it is complete.",
                        partial.done_fraction * 100.0
                    ));
                }
                (None, None) => {
                    ui.weak("Enhanced audio, trajectory and routing appear once the recording is analysed (A).");
                }
            },
        }
        if let Some(scheme) = &trace_scheme {
            let derived = super::trace::derived(ui, view, recording, scheme);
            let trace = super::trace::trace_lane_of(view, &derived, scheme);
            let mut value = None;
            drawn.extend(lane(ui, LaneKind::Trace, &mut |ui, size| {
                let (rect, g, v) = lanes::trace_lane(ui, size, &timeline, &trace);
                value = v;
                (rect, g)
            }));
            super::trace::trace_strip_ui(ui, view, &derived, scheme, commands);
            if let Some(value) = value {
                commands.send(Action::TraceValue(value));
            }
        }
        let slot = usize::from(recording.show_enhanced_spectrogram && recording.analysis.is_some());
        let title = if slot == 1 { "Spectrogram, enhanced (S: original)" } else { "Spectrogram, original (S: enhanced)" };
        let image = recording.spectrograms[slot]
            .as_ref()
            .map(|(generation, image)| (image.as_ref(), recording.version(*generation)));
        drawn.extend(lane(ui, LaneKind::Spectrogram, &mut |ui, size| {
            lanes::spectrogram(ui, size, &timeline, image, title)
        }));
        // Each contour only once it belongs to the signal shown (not a previous analysis).
        let original_prosody = recording.prosody[0].as_ref().map(|(_, t)| t.as_ref());
        let enhanced_prosody = recording.prosody[1]
            .as_ref()
            .filter(|(generation, _)| *generation == recording.analysis_generation)
            .map(|(_, t)| t.as_ref());
        drawn.extend(lane(ui, LaneKind::Prosody, &mut |ui, size| {
            lanes::prosody(ui, size, &timeline, original_prosody, enhanced_prosody)
        }));
        if let Some((result, done_fraction)) = recording.shown_analysis() {
            if let Some(padded) = result.padded_from_s {
                ui.weak(format!("clip of {padded:.2} s padded to the model's 0.5 s minimum"));
            }
            drawn.extend(lane(ui, LaneKind::Trajectory, &mut |ui, size| {
                let (rect, g) = lanes::trajectory(ui, size, &timeline, result, done_fraction);
                if let Some(labels) = labels {
                    lanes::labels_over(ui, rect, &timeline, labels);
                }
                (rect, g)
            }));
            let data = recording.version(recording.analysis_generation);
            drawn.extend(lane(ui, LaneKind::SerRouter, &mut |ui, size| {
                lanes::heatmap(ui, size, &timeline, (&result.ser, data), "SER router")
            }));
            drawn.extend(lane(ui, LaneKind::SeRouter, &mut |ui, size| {
                lanes::heatmap(ui, size, &timeline, (&result.se, data), "SE router")
            }));
        }
        for (rect, g) in drawn {
            rects.push(rect);
            gestures.extend(g);
        }
        for rect in &rects {
            lanes::overlay(ui, *rect, &timeline, playhead, recording.selection);
        }
    });
    (gestures, segment_gestures)
}
