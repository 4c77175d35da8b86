//! The recording view: transport bar, then every pane on one time axis with one playhead.

use crate::annotation::segments::SegmentEdit;
use crate::audio::format_time;
use crate::playback::Track;
use crate::ui::commands::{Action, Command, CommandSender, tooltip};
use crate::ui::player::Playback;
use crate::ui::recording::RecordingState;
use crate::ui::view::StudioView;

use super::LabelDrafts;
use super::lanes::{SegmentGesture, TimeGesture};

fn command_button(
    ui: &mut egui::Ui,
    text: &str,
    selected: bool,
    command: Command,
    commands: &CommandSender,
) {
    if ui
        .selectable_label(selected, text)
        .on_hover_text(tooltip(ui.ctx(), command))
        .clicked()
    {
        commands.send(command);
    }
}

/// The open recording's name, then (right-aligned) position, zoom and analysis.
fn recording_bar(
    ui: &mut egui::Ui,
    view: &StudioView<'_>,
    recording: &RecordingState,
    commands: &CommandSender,
) {
    let name = recording
        .path
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    let mut name_drawn = false;
    ui.horizontal(|ui| {
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            let comments = view
                .current_file()
                .and_then(|file| view.labelling.annotations.labels_of(file))
                .map_or(0, |by| by.values().map(|l| l.comments.len()).sum::<usize>());
            command_button(
                ui,
                &format!("Comments ({comments})"),
                view.windows.comments,
                Command::ToggleComments,
                commands,
            );
            ui.separator();
            if view.engine.engine.analysing() == Some(recording.index) {
                command_button(ui, "Cancel", false, Command::CancelAnalysis, commands);
                ui.spinner();
            } else {
                command_button(ui, "Analyse", false, Command::AnalyseRecording, commands);
            }
            ui.separator();
            command_button(ui, "Fit", false, Command::Fit, commands);
            command_button(ui, "−", false, Command::ZoomOut, commands);
            command_button(ui, "+", false, Command::ZoomIn, commands);
            ui.label("Zoom");
            ui.separator();
            ui.monospace(format!(
                "{} / {}",
                format_time(view.player.transport.position_s()),
                format_time(recording.timeline.duration_s)
            ));
            // The name takes what the controls leave, cut with "…", so a long name never runs
            // under them; where they leave too little it gets a line of its own below.
            if ui.available_width() >= NAME_MIN_WIDTH {
                ui.with_layout(egui::Layout::left_to_right(egui::Align::Center), |ui| {
                    name_label(ui, &name, recording);
                });
                name_drawn = true;
            }
        });
    });
    if !name_drawn {
        name_label(ui, &name, recording);
    }
}

/// Narrower than this, the recording's name goes on its own line.
const NAME_MIN_WIDTH: f32 = 160.0;

fn name_label(ui: &mut egui::Ui, name: &str, recording: &RecordingState) {
    ui.add(egui::Label::new(egui::RichText::new(name).strong()).truncate())
        .on_hover_text(recording.path.display().to_string());
}

fn transport_bar(ui: &mut egui::Ui, view: &StudioView<'_>, commands: &CommandSender) {
    let transport = &view.player.transport;
    // One row at 1280 px: short labels, the full names in the tooltips.
    ui.horizontal(|ui| {
        let playing = transport.is_playing();
        command_button(
            ui,
            if playing { "Pause" } else { "Play" },
            playing,
            Command::PlayPause,
            commands,
        );
        let has_enhanced = view.recording.is_some_and(|r| r.analysis.is_some());
        ui.add_enabled_ui(has_enhanced, |ui| {
            let track = transport.track();
            command_button(
                ui,
                "A original",
                track == Track::Original,
                Command::SwitchAb,
                commands,
            );
            command_button(
                ui,
                "B enhanced",
                track == Track::Enhanced,
                Command::SwitchAb,
                commands,
            );
        });
        let has_rnnoise = view.recording.is_some_and(|r| r.rnnoise.is_some());
        ui.add_enabled_ui(has_rnnoise, |ui| {
            let on = transport.track() == Track::Rnnoise;
            command_button(ui, "C RNNoise", on, Command::SwitchRnnoise, commands);
        });
        command_button(
            ui,
            "Loop",
            transport.loop_range().is_some(),
            Command::ToggleLoop,
            commands,
        );
        command_button(ui, "−", false, Command::Slower, commands);
        ui.monospace(format!("{:.2}×", transport.speed()));
        command_button(ui, "+", false, Command::Faster, commands);
        ui.separator();
        if let Playback::Unavailable(error) = &view.player.output {
            ui.weak("(silent)")
                .on_hover_text(format!("no audio device: playback is silent ({error})"));
        }
    });
}

pub fn recording_ui(
    ui: &mut egui::Ui,
    view: &StudioView<'_>,
    drafts: &mut LabelDrafts,
    commands: &CommandSender,
) {
    // Panes use the panel's own width even if a strip above them asks for more.
    let panel_width = ui.available_width();
    transport_bar(ui, view, commands);
    ui.separator();
    let Some(recording) = view.recording else {
        ui.centered_and_justified(|ui| {
            ui.weak("Select a recording (Up/Down keys or click). Ctrl+K lists every command.");
        });
        return;
    };
    recording_bar(ui, view, recording, commands);
    if let Some(error) = &recording.error {
        ui.colored_label(
            ui.visuals().error_fg_color,
            format!("cannot open this recording: {error}"),
        );
        return;
    }
    if recording.original.is_none() {
        ui.horizontal(|ui| {
            ui.spinner();
            ui.label("decoding…");
        });
        return;
    }
    super::label_ui(ui, view, drafts, commands);
    ui.separator();
    let Some(original) = &recording.original else {
        return;
    };
    let (gestures, segment_gestures) =
        super::lane_stack::lanes_ui(ui, view, recording, original, panel_width, commands);
    for gesture in gestures {
        commands.send(match gesture {
            TimeGesture::Seek(t) => Action::Seek(t),
            TimeGesture::Select(a, b) => Action::SetSelection(a, b),
            TimeGesture::Zoom { factor, anchor_s } => Action::Zoom { factor, anchor_s },
            TimeGesture::Scroll(fraction) => Action::Scroll(fraction),
        });
    }
    for gesture in segment_gestures {
        commands.send(match gesture {
            SegmentGesture::Select(id) => Action::SelectSegment(id),
            SegmentGesture::Move { id, boundary, to_s } => {
                Action::EditSegment(SegmentEdit::Move { id, boundary, to_s })
            }
        });
    }
}
