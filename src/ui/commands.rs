//! Every action of the window in one table: its name, its shortcut, and what it does. Keyboard
//! handling, tooltips and the command palette all read this table, so they cannot disagree.
//! Panels never change the window's state themselves: they send an [`Action`] (a command of the
//! table, or an edit that carries data) and the app applies them all once per frame.

use std::path::PathBuf;
use std::sync::mpsc;

use egui::{Key, KeyboardShortcut, Modifiers};

use crate::annotation::Op;
use crate::annotation::segments::SegmentEdit;
use crate::export::Format;

use super::agreement::AgreementAction;
use super::lane_layout::LaneKind;
use super::retraining::RetrainAction;
use super::rows::BrowserView;
use super::segments::{SEGMENT_COMMANDS, SegmentCommand};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// Set the class with this index in the project's label scheme (keys from the scheme).
    SetClass(usize),
    AcceptModel,
    NextInQueue,
    Undo,
    Redo,
    AddSegment,
    RemoveSegment,
    PlayPause,
    SwitchAb,
    SwitchRnnoise,
    ToggleLoop,
    NextRecording,
    PreviousRecording,
    ZoomIn,
    ZoomOut,
    ZoomToSelection,
    Fit,
    ScrollBack,
    ScrollForward,
    Slower,
    Faster,
    ToggleSpectrogram,
    AnalyseRecording,
    AnalyseCollection,
    CancelAnalysis,
    OpenProject,
    ChooseModel,
    ShowModelCard,
    ExportLabels,
    ChooseExportFolder,
    Palette,
    /// Segment editing (its own table, `segments.rs`).
    Segment(SegmentCommand),
    ToggleComments,
    TracePass,
    NextTraceDimension,
    MarkFinalPass,
    ShowAgreement,
    Retrain,
}

/// A change the user asked for: a named command, or an edit with its data.
#[derive(Debug, Clone)]
pub enum Action {
    Command(Command),
    /// Open recording `index` in the view.
    Select(usize),
    /// Replace the open project (Recent menu, a dropped folder).
    OpenPath(PathBuf),
    /// Write labels as this annotator from now on.
    SetAnnotator(String),
    /// The annotator field as typed (not yet taken).
    EditAnnotatorField(String),
    /// An edit of the open recording's label by the current annotator.
    EditLabel(Op),
    /// Move the playhead (and drop the selection).
    Seek(f64),
    /// A dragged time range (for looping, zooming and segments).
    SetSelection(f64, f64),
    Zoom {
        factor: f64,
        anchor_s: f64,
    },
    Scroll(f64),
    SetBrowserView(BrowserView),
    /// The palette's text (`None` closes it).
    SetPaletteQuery(Option<String>),
    ShowModelCard(bool),
    ShowExport(bool),
    SetExportChoice {
        format: Format,
        mine_only: bool,
    },
    /// A segment edit of the open recording by the current annotator (a dragged boundary).
    EditSegment(SegmentEdit),
    /// Select one of the current annotator's segments (`None`: none).
    SelectSegment(Option<u64>),
    /// A lane dragged to this height (pixels).
    SetLaneHeight(LaneKind, f32),
    /// Collapse or expand a lane.
    ToggleLane(LaneKind),
    /// Fold or unfold the label strip's attribute, flag and note rows.
    ToggleLabelFold,
    /// A new comment by the current annotator on the open recording (or one of its segments).
    AddComment {
        text: String,
        segment: Option<u64>,
        reply_to: Option<crate::annotation::CommentRef>,
    },
    /// The value the trace input holds now (trace mode), on the dimension's scale.
    TraceValue(f64),
    /// The retrain window's choices, the retrain, and switching models.
    Retrain(RetrainAction),
    Agreement(AgreementAction),
}

impl From<Command> for Action {
    fn from(command: Command) -> Self {
        Self::Command(command)
    }
}

/// What panels (and the keyboard) send actions through; the app drains them after drawing.
#[derive(Clone)]
pub struct CommandSender(mpsc::Sender<Action>);

impl CommandSender {
    pub fn send(&self, action: impl Into<Action>) {
        // The receiver lives as long as the app that owns both ends.
        let _ = self.0.send(action.into());
    }
}

/// Both ends of the window's action queue.
pub fn action_queue() -> (CommandSender, mpsc::Receiver<Action>) {
    let (sender, receiver) = mpsc::channel();
    (CommandSender(sender), receiver)
}

const fn key(key: Key) -> KeyboardShortcut {
    KeyboardShortcut::new(Modifiers::NONE, key)
}

const fn ctrl(key: Key) -> KeyboardShortcut {
    KeyboardShortcut::new(Modifiers::COMMAND, key)
}

const fn shift(key: Key) -> KeyboardShortcut {
    KeyboardShortcut::new(Modifiers::SHIFT, key)
}

/// (command, name, shortcut), in the order the palette lists them.
pub const COMMANDS: [(Command, &str, KeyboardShortcut); 36] = [
    (
        Command::SwitchRnnoise,
        "Switch original / RNNoise (the classic baseline)",
        key(Key::C),
    ),
    (Command::ExportLabels, "Export labels…", ctrl(Key::E)),
    (
        Command::ChooseExportFolder,
        "Export: choose the folder and go",
        KeyboardShortcut::new(Modifiers::COMMAND.plus(Modifiers::SHIFT), Key::E),
    ),
    (
        Command::AcceptModel,
        "Accept the model's prediction as the label",
        key(Key::Y),
    ),
    (
        Command::NextInQueue,
        "Next in the review queue",
        key(Key::Enter),
    ),
    (Command::Undo, "Undo the last label edit", ctrl(Key::Z)),
    (
        Command::Redo,
        "Redo",
        KeyboardShortcut::new(Modifiers::COMMAND.plus(Modifiers::SHIFT), Key::Z),
    ),
    (
        Command::AddSegment,
        "Segment from the selection (label's class)",
        key(Key::G),
    ),
    (
        Command::RemoveSegment,
        "Remove the selected segment (else the one at the playhead)",
        key(Key::Delete),
    ),
    (Command::PlayPause, "Play / pause", key(Key::Space)),
    (
        Command::SwitchAb,
        "Switch original / enhanced (A/B)",
        key(Key::B),
    ),
    (
        Command::ToggleLoop,
        "Loop the selection on / off",
        key(Key::L),
    ),
    (
        Command::NextRecording,
        "Next recording",
        key(Key::ArrowDown),
    ),
    (
        Command::PreviousRecording,
        "Previous recording",
        key(Key::ArrowUp),
    ),
    (Command::ZoomIn, "Zoom in", key(Key::Equals)),
    (Command::ZoomOut, "Zoom out", key(Key::Minus)),
    (
        Command::ZoomToSelection,
        "Zoom to the selection",
        key(Key::Z),
    ),
    (Command::Fit, "Show the whole recording", key(Key::F)),
    (Command::ScrollBack, "Scroll back", key(Key::ArrowLeft)),
    (
        Command::ScrollForward,
        "Scroll forward",
        key(Key::ArrowRight),
    ),
    (Command::Slower, "Slower playback", key(Key::OpenBracket)),
    (Command::Faster, "Faster playback", key(Key::CloseBracket)),
    (
        Command::ToggleSpectrogram,
        "Spectrogram of original / enhanced",
        key(Key::S),
    ),
    (
        Command::AnalyseRecording,
        "Analyse this recording",
        key(Key::A),
    ),
    (
        Command::AnalyseCollection,
        "Analyse the whole collection",
        shift(Key::A),
    ),
    (
        Command::CancelAnalysis,
        "Deselect the segment, else cancel the analysis",
        key(Key::Escape),
    ),
    (
        Command::OpenProject,
        "Open a project, folder or manifest…",
        ctrl(Key::O),
    ),
    (Command::ChooseModel, "Choose another model…", ctrl(Key::M)),
    (
        Command::Retrain,
        "Retrain the model from the labels; switch models…",
        ctrl(Key::R),
    ),
    (Command::ShowModelCard, "Show the model card", key(Key::I)),
    (Command::Palette, "Command palette", ctrl(Key::K)),
    (
        Command::ToggleComments,
        "Show / hide the comments",
        key(Key::N),
    ),
    (
        Command::TracePass,
        "Trace: start a pass (plays; mouse, PageUp/PageDown or a gamepad) / stop it",
        key(Key::T),
    ),
    (
        Command::NextTraceDimension,
        "Trace: next dimension (arousal, valence, …)",
        shift(Key::T),
    ),
    (
        Command::MarkFinalPass,
        "Trace: mark your latest pass final; again: the one before, then none",
        shift(Key::F),
    ),
    (
        Command::ShowAgreement,
        "Agreement between annotators (labels and traces)…",
        ctrl(Key::G),
    ),
];

/// Every command of the tables, in the palette's order: the main table, then segment editing.
pub fn all_commands() -> impl Iterator<Item = (Command, &'static str, KeyboardShortcut)> {
    COMMANDS.iter().copied().chain(
        SEGMENT_COMMANDS
            .iter()
            .map(|&(command, name, shortcut)| (Command::Segment(command), name, shortcut)),
    )
}

/// The key for a label scheme hotkey ("1".."9", "0", or a letter).
#[must_use]
pub fn hotkey(text: &str) -> Option<KeyboardShortcut> {
    Key::from_name(text.trim()).map(key)
}

/// The name of `command` with its shortcut, for tooltips.
#[must_use]
pub fn tooltip(ctx: &egui::Context, command: Command) -> String {
    all_commands()
        .find(|(c, _, _)| *c == command)
        .map_or_else(String::new, |(_, name, shortcut)| {
            format!("{name} ({})", ctx.format_shortcut(&shortcut))
        })
}

fn modifier_count(modifiers: Modifiers) -> u8 {
    u8::from(modifiers.shift)
        + u8::from(modifiers.command || modifiers.ctrl)
        + u8::from(modifiers.alt)
}

/// Commands whose shortcut was pressed this frame (none while a text field has focus, so typing
/// in the search box or palette does not trigger them).
pub fn pressed(ctx: &egui::Context, class_keys: &[Option<KeyboardShortcut>]) -> Vec<Command> {
    if ctx.egui_wants_keyboard_input() {
        return Vec::new();
    }
    ctx.input_mut(|input| {
        // Ctrl+Shift+Z before Ctrl+Z and Shift+A before A: consume_shortcut lets extra modifiers
        // through, so the more specific shortcut must take the key first.
        let mut ordered: Vec<_> = all_commands().collect();
        ordered.sort_by_key(|(_, _, s)| std::cmp::Reverse(modifier_count(s.modifiers)));
        let mut commands: Vec<Command> = ordered
            .into_iter()
            .filter(|(_, _, shortcut)| input.consume_shortcut(shortcut))
            .map(|(command, _, _)| command)
            .collect();
        commands.extend(
            class_keys
                .iter()
                .enumerate()
                .filter(|(_, shortcut)| shortcut.is_some_and(|s| input.consume_shortcut(&s)))
                .map(|(index, _)| Command::SetClass(index)),
        );
        commands
    })
}
