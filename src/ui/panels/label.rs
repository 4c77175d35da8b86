//! The label strip of the recording view: class (number keys), accepting the model's prediction,
//! attributes, confidence, flags, note and segments for the current annotator. Each change is one
//! journal edit (a slider drag is one edit, when it ends), written to disk before it shows.

use std::collections::BTreeMap;

use crate::annotation::segments::Boundary;
use crate::annotation::{ClassSource, Flag, Op, Segment};
use crate::ui::commands::{Action, Command, CommandSender, tooltip};
use crate::ui::prediction::speaker_reference_line;
use crate::ui::segments::SegmentCommand;
use crate::ui::theme;
use crate::ui::view::StudioView;

/// Work in progress in the strip's fields, committed as one edit when finished.
#[derive(Debug, Default)]
pub struct LabelDrafts {
    attributes: BTreeMap<String, f64>,
    confidence: Option<f64>,
    /// (recording, text) of a note being typed.
    note: Option<(String, String)>,
}

pub fn label_ui(
    ui: &mut egui::Ui,
    view: &StudioView<'_>,
    drafts: &mut LabelDrafts,
    commands: &CommandSender,
) {
    let Some(file) = view.current_file() else {
        return;
    };
    let scheme = view.scheme();
    let annotations = &view.labelling.annotations;
    let label = view.current_label().cloned().unwrap_or_default();
    let send_op = |op: Op| commands.send(Action::EditLabel(op));
    let folded = view.lanes.label_folded;
    ui.horizontal_wrapped(|ui| {
        let (arrow, hover) = if folded {
            ("More", "show the attributes, confidence, flags and note")
        } else {
            (
                "Less",
                "fold the attributes, confidence, flags and note away",
            )
        };
        if ui
            .add(egui::Button::new(arrow).small())
            .on_hover_text(hover)
            .clicked()
        {
            commands.send(Action::ToggleLabelFold);
        }
        match annotations.annotator() {
            Some(name) => ui.label(format!("Label by {name}:")),
            None => ui.colored_label(
                ui.visuals().warn_fg_color,
                "Choose an annotator (header) to label:",
            ),
        };
        for (index, class) in scheme.classes.iter().enumerate() {
            let text = match &class.hotkey {
                Some(key) => format!("{key} {}", class.name),
                None => class.name.clone(),
            };
            let chosen = label.class.as_deref() == Some(class.id.as_str());
            let button = egui::Button::selectable(
                chosen,
                egui::RichText::new(text).color(if chosen {
                    ui.visuals().strong_text_color()
                } else {
                    theme::class_colour_by_name(&class.id)
                }),
            );
            if ui
                .add(button)
                .on_hover_text(format!("set the class to {}", class.name))
                .clicked()
            {
                commands.send(Command::SetClass(index));
            }
        }
        let prediction = view
            .recording
            .as_ref()
            .and_then(|r| r.analysis.as_ref())
            .map(|a| {
                let p = a.result.probs.iter().copied().fold(0.0, f32::max);
                format!("Y accept {} {:.0}%", a.result.top_class(), p * 100.0)
            });
        if let Some(text) = prediction
            && ui
                .button(text)
                .on_hover_text(tooltip(ui.ctx(), Command::AcceptModel))
                .clicked()
        {
            commands.send(Command::AcceptModel);
        }
        if let Some((line, why)) = view
            .recording
            .as_ref()
            .and_then(|r| r.analysis.as_ref())
            .and_then(|a| speaker_reference_line(&a.result))
        {
            ui.weak(line).on_hover_text(why);
        }
        if label.class.is_some() {
            ui.weak(match label.source {
                ClassSource::Human => "(human)",
                ClassSource::AcceptedModel => "(accepted model)",
            });
        }
        ui.separator();
        for (cmd, text, enabled) in [
            (Command::Undo, "Undo", annotations.can_undo()),
            (Command::Redo, "Redo", annotations.can_redo()),
            (Command::NextInQueue, "Next in queue", true),
        ] {
            if ui
                .add_enabled(enabled, egui::Button::new(text))
                .on_hover_text(tooltip(ui.ctx(), cmd))
                .clicked()
            {
                commands.send(cmd);
            }
        }
    });
    if folded {
        segment_status_ui(ui, view, &label.segments);
        error_ui(ui, view);
        return;
    }
    ui.horizontal_wrapped(|ui| {
        ui.spacing_mut().slider_width = 60.0;
        for scale in &scheme.attributes {
            let current = label.attributes.get(&scale.id).copied();
            let draft = drafts
                .attributes
                .entry(scale.id.clone())
                .or_insert_with(|| current.unwrap_or((scale.min + scale.max) / 2.0));
            if !ui.ctx().is_being_dragged(ui.next_auto_id()) && current.is_some() {
                *draft = current.unwrap_or(*draft);
            }
            let response = ui
                .add(
                    egui::Slider::new(draft, scale.min..=scale.max)
                        .step_by(scale.step)
                        .text(scale.name.clone())
                        .text_color(if current.is_some() {
                            ui.visuals().text_color()
                        } else {
                            ui.visuals().weak_text_color()
                        }),
                )
                .on_hover_text(if current.is_some() {
                    "drag to change (one edit when you let go)"
                } else {
                    "not rated yet: drag to rate"
                });
            if response.drag_stopped() || (response.changed() && !response.dragged()) {
                send_op(Op::SetAttributes {
                    values: [(scale.id.clone(), Some(*draft))].into(),
                });
            }
        }
    });
    ui.horizontal_wrapped(|ui| {
        ui.spacing_mut().slider_width = 60.0;
        let confidence = drafts
            .confidence
            .get_or_insert(label.confidence.unwrap_or(1.0));
        if !ui.ctx().is_being_dragged(ui.next_auto_id())
            && let Some(value) = label.confidence
        {
            *confidence = value;
        }
        let response = ui.add(
            egui::Slider::new(confidence, 0.0..=1.0)
                .step_by(0.1)
                .text("my confidence"),
        );
        if response.drag_stopped() || (response.changed() && !response.dragged()) {
            send_op(Op::SetConfidence {
                confidence: Some(*confidence),
            });
        }
        for flag in Flag::ALL {
            let mut on = label.flags.contains(&flag);
            if ui.checkbox(&mut on, flag.name()).changed() {
                send_op(Op::SetFlag { flag, on });
            }
        }
        let note = match &mut drafts.note {
            Some((for_file, text)) if for_file == file => text,
            slot => &mut slot.insert((file.to_owned(), label.note.clone())).1,
        };
        let response = ui.add(
            egui::TextEdit::singleline(note)
                .hint_text("note")
                .desired_width(160.0),
        );
        if response.lost_focus() && *note != label.note {
            send_op(Op::SetNote { note: note.clone() });
        }
        if !response.has_focus() && !response.lost_focus() && *note != label.note {
            note.clone_from(&label.note);
        }
        if !label.segments.is_empty() {
            ui.separator();
            ui.label("Segments:");
            for segment in &label.segments {
                ui.weak(format!(
                    "{:.2}–{:.2} s {}",
                    segment.start_s, segment.end_s, segment.class
                ));
            }
        }
        if ui
            .button("Segment")
            .on_hover_text(tooltip(ui.ctx(), Command::AddSegment))
            .clicked()
        {
            commands.send(Command::AddSegment);
        }
    });
    segment_status_ui(ui, view, &label.segments);
    error_ui(ui, view);
}

/// Why the last label edit was refused, until the next one succeeds.
fn error_ui(ui: &mut egui::Ui, view: &StudioView<'_>) {
    if let Some(error) = &view.labelling.error {
        ui.colored_label(ui.visuals().error_fg_color, error.to_string());
    }
}

/// The selected segment, its boundary, a pending mark and auto-play, when any of them is set.
fn segment_status_ui(ui: &mut egui::Ui, view: &StudioView<'_>, segments: &[Segment]) {
    let cursor = view.segments;
    let selected = cursor
        .selected
        .and_then(|id| segments.iter().find(|s| s.id == id));
    if selected.is_none() && cursor.mark_s.is_none() && !cursor.auto_play_next {
        return;
    }
    ui.horizontal_wrapped(|ui| {
        if let Some(mark_s) = cursor.mark_s {
            ui.label(format!("Segment from {mark_s:.3} s: M again ends it at the playhead"));
        }
        if let Some(segment) = selected {
            let boundary = match cursor.boundary {
                Boundary::Start => "start",
                Boundary::End => "end",
            };
            ui.label(format!(
                "Selected segment {}: {:.3}–{:.3} s {} · boundary: {boundary}",
                segment.id, segment.start_s, segment.end_s, segment.class
            ))
            .on_hover_text(
                "number keys set its class, Alt+Left/Right nudge the boundary (Shift: 100 ms), E the other boundary, Q snaps, X splits, J merges, Delete removes, Esc deselects",
            );
        }
        ui.weak(if cursor.auto_play_next {
            "auto-play next: on"
        } else {
            "auto-play next: off"
        })
        .on_hover_text(tooltip(
            ui.ctx(),
            Command::Segment(SegmentCommand::ToggleAutoPlay),
        ));
    });
}
