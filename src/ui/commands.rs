//! Every action of the window in one table: its name, its shortcut, and what it does. Keyboard
//! handling, tooltips and the command palette all read this table, so they cannot disagree.

use egui::{Key, KeyboardShortcut, Modifiers};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    PlayPause,
    SwitchAb,
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
    Palette,
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
pub const COMMANDS: [(Command, &str, KeyboardShortcut); 21] = [
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
        "Cancel the analysis",
        key(Key::Escape),
    ),
    (
        Command::OpenProject,
        "Open a project, folder or manifest…",
        ctrl(Key::O),
    ),
    (Command::ChooseModel, "Choose another model…", ctrl(Key::M)),
    (Command::ShowModelCard, "Show the model card", key(Key::I)),
    (Command::Palette, "Command palette", ctrl(Key::K)),
];

/// The name of `command` with its shortcut, for tooltips.
#[must_use]
pub fn tooltip(ctx: &egui::Context, command: Command) -> String {
    COMMANDS
        .iter()
        .find(|(c, _, _)| *c == command)
        .map_or_else(String::new, |(_, name, shortcut)| {
            format!("{name} ({})", ctx.format_shortcut(shortcut))
        })
}

/// Commands whose shortcut was pressed this frame (none while a text field has focus, so typing
/// in the search box or palette does not trigger them).
pub fn pressed(ctx: &egui::Context) -> Vec<Command> {
    if ctx.egui_wants_keyboard_input() {
        return Vec::new();
    }
    ctx.input_mut(|input| {
        // Shift+A before A: consume_shortcut matches modifiers exactly, so the order only avoids
        // surprises if that ever changes.
        COMMANDS
            .iter()
            .rev()
            .filter(|(_, _, shortcut)| input.consume_shortcut(shortcut))
            .map(|(command, _, _)| *command)
            .collect()
    })
}
