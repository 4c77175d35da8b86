//! The recording view: transport bar, then every pane on one time axis with one playhead.

use egui::Color32;

use crate::audio::format_time;
use crate::playback::Track;
use crate::ui::commands::{Action, Command, CommandSender, tooltip};
use crate::ui::player::Playback;
use crate::ui::view::StudioView;

use super::LabelDrafts;
use super::lanes::{self, TimeGesture};

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

fn transport_bar(ui: &mut egui::Ui, view: &StudioView<'_>, commands: &CommandSender) {
    let transport = &view.player.transport;
    ui.horizontal_wrapped(|ui| {
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
        command_button(ui, "-", false, Command::Slower, commands);
        ui.monospace(format!("{:.2}×", transport.speed()));
        command_button(ui, "+", false, Command::Faster, commands);
        ui.separator();
        if let Some(recording) = view.recording {
            ui.monospace(format!(
                "{} / {}",
                format_time(transport.position_s()),
                format_time(recording.timeline.duration_s)
            ));
        }
        ui.separator();
        command_button(ui, "Zoom in", false, Command::ZoomIn, commands);
        command_button(ui, "Zoom out", false, Command::ZoomOut, commands);
        command_button(ui, "Fit", false, Command::Fit, commands);
        ui.separator();
        let current = view.recording.map(|r| r.index);
        if current.is_some() && view.engine.engine.analysing() == current {
            ui.spinner();
            command_button(ui, "Cancel", false, Command::CancelAnalysis, commands);
        } else {
            command_button(ui, "Analyse", false, Command::AnalyseRecording, commands);
        }
        if let Playback::Unavailable(_) = view.player.output {
            ui.weak("no audio device: playback is silent");
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
    let playhead = view.player.transport.position_s();
    let Some(recording) = view.recording else {
        ui.centered_and_justified(|ui| {
            ui.weak("Select a recording (Up/Down keys or click). Ctrl+K lists every command.");
        });
        return;
    };
    ui.strong(
        recording
            .path
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
    )
    .on_hover_text(recording.path.display().to_string());
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
    let labels = view
        .current_file()
        .and_then(|file| view.labelling.annotations.labels_of(file));
    let mut gestures = Vec::new();
    let mut rects = Vec::new();
    egui::ScrollArea::vertical().auto_shrink([false, false]).show(ui, |ui| {
        let width = ui.available_width().min(panel_width);
        let timeline = recording.timeline;
        let (rect, g) = lanes::ruler(ui, width, &timeline);
        rects.push(rect);
        gestures.extend(g);
        let (rect, g) = lanes::waveform(ui, width, &timeline, &original.pyramid, "Original", Color32::from_rgb(0x56, 0xB4, 0xE9));
        rects.push(rect);
        gestures.extend(g);
        match &recording.analysis {
            Some(analysis) => {
                let (rect, g) = lanes::waveform(ui, width, &timeline, &analysis.enhanced.pyramid, "Enhanced (Sparse MERIT)", Color32::from_rgb(0x00, 0x9E, 0x73));
                rects.push(rect);
                gestures.extend(g);
            }
            None => match &recording.analysis_error {
                Some(error) => {
                    ui.colored_label(ui.visuals().error_fg_color, format!("analysis failed: {error}"))
                        .on_hover_text("Press I for the model card; Ctrl+M chooses another model.");
                }
                None => {
                    ui.weak("Enhanced audio, trajectory and routing appear once the recording is analysed (A).");
                }
            },
        }
        if let Some(scheme) = view.trace_scheme() {
            let lane = super::trace::trace_lane_of(view, recording, &scheme);
            let (rect, g, value) = lanes::trace_lane(ui, width, &timeline, &lane);
            if let Some(message) = &view.trace.message {
                ui.weak(message);
            }
            rects.push(rect);
            gestures.extend(g);
            if let Some(value) = value {
                commands.send(Action::TraceValue(value));
            }
        }
        let slot = usize::from(recording.show_enhanced_spectrogram && recording.analysis.is_some());
        let title = if slot == 1 { "Spectrogram, enhanced (S: original)" } else { "Spectrogram, original (S: enhanced)" };
        let image = recording.spectrograms[slot]
            .as_ref()
            .map(|(generation, image)| (image.as_ref(), recording.version(*generation)));
        let (rect, g) = lanes::spectrogram(ui, width, &timeline, image, title);
        rects.push(rect);
        gestures.extend(g);
        if let Some(analysis) = &recording.analysis {
            let result = &analysis.result;
            if let Some(padded) = result.padded_from_s {
                ui.weak(format!("clip of {padded:.2} s padded to the model's 0.5 s minimum"));
            }
            let (rect, g) = lanes::trajectory(ui, width, &timeline, result);
            if let Some(labels) = labels {
                lanes::labels_over(ui, rect, &timeline, labels);
            }
            rects.push(rect);
            gestures.extend(g);
            let data = recording.version(recording.analysis_generation);
            let (rect, g) = lanes::heatmap(ui, width, &timeline, (&result.ser, data), "SER router");
            rects.push(rect);
            gestures.extend(g);
            let (rect, g) = lanes::heatmap(ui, width, &timeline, (&result.se, data), "SE router");
            rects.push(rect);
            gestures.extend(g);
        }
        for rect in &rects {
            lanes::overlay(ui, *rect, &timeline, playhead, recording.selection);
        }
    });
    for gesture in gestures {
        commands.send(match gesture {
            TimeGesture::Seek(t) => Action::Seek(t),
            TimeGesture::Select(a, b) => Action::SetSelection(a, b),
            TimeGesture::Zoom { factor, anchor_s } => Action::Zoom { factor, anchor_s },
            TimeGesture::Scroll(fraction) => Action::Scroll(fraction),
        });
    }
}
