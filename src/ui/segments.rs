//! Keyboard-first segment editing: which segment and boundary are selected, a mark waiting for
//! its second press, auto-play, and the segment commands of the table (the palette and the keys
//! read them with the others). `segment_handling.rs` carries them out.
//!
//! Edits never move the playhead (no auto-rewind while editing); only "play segment" does.

use egui::{Key, KeyboardShortcut, Modifiers};

use crate::annotation::segments::Boundary;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SegmentCommand {
    /// First press: a segment starts at the playhead; second press: it ends there.
    Mark,
    Next,
    Previous,
    /// Move the selected boundary; `later` or earlier, 100 ms when `coarse`, else 10 ms.
    Nudge {
        later: bool,
        coarse: bool,
    },
    SwitchBoundary,
    /// The selected boundary to the quietest 10 ms within 50 ms.
    Snap,
    Split,
    MergeWithNext,
    Play,
    ToggleAutoPlay,
}

impl SegmentCommand {
    /// How far a nudge moves, in seconds (signed).
    #[must_use]
    pub fn nudge_s(later: bool, coarse: bool) -> f64 {
        let step = if coarse { 0.100 } else { 0.010 };
        if later { step } else { -step }
    }
}

/// How far a snap looks on either side of the boundary.
pub const SNAP_REACH_S: f64 = 0.050;

const fn key(key: Key) -> KeyboardShortcut {
    KeyboardShortcut::new(Modifiers::NONE, key)
}

const fn alt(key: Key) -> KeyboardShortcut {
    KeyboardShortcut::new(Modifiers::ALT, key)
}

const fn alt_shift(key: Key) -> KeyboardShortcut {
    KeyboardShortcut::new(Modifiers::ALT.plus(Modifiers::SHIFT), key)
}

/// (command, name, shortcut) of segment editing, listed in the palette after the others. Number
/// keys set the selected segment's class, Delete removes it and Escape deselects it (those keys
/// are in the main table).
pub const SEGMENT_COMMANDS: [(SegmentCommand, &str, KeyboardShortcut); 13] = [
    (
        SegmentCommand::Mark,
        "Segment: start at the playhead / end it there (press twice, also while playing)",
        key(Key::M),
    ),
    (
        SegmentCommand::Next,
        "Select the next segment",
        key(Key::Period),
    ),
    (
        SegmentCommand::Previous,
        "Select the previous segment",
        key(Key::Comma),
    ),
    (
        SegmentCommand::Nudge {
            later: false,
            coarse: false,
        },
        "Nudge the selected boundary 10 ms earlier",
        alt(Key::ArrowLeft),
    ),
    (
        SegmentCommand::Nudge {
            later: true,
            coarse: false,
        },
        "Nudge the selected boundary 10 ms later",
        alt(Key::ArrowRight),
    ),
    (
        SegmentCommand::Nudge {
            later: false,
            coarse: true,
        },
        "Nudge the selected boundary 100 ms earlier",
        alt_shift(Key::ArrowLeft),
    ),
    (
        SegmentCommand::Nudge {
            later: true,
            coarse: true,
        },
        "Nudge the selected boundary 100 ms later",
        alt_shift(Key::ArrowRight),
    ),
    (
        SegmentCommand::SwitchBoundary,
        "Switch the selected boundary (start / end)",
        key(Key::E),
    ),
    (
        SegmentCommand::Snap,
        "Snap the selected boundary to the quietest point within 50 ms",
        key(Key::Q),
    ),
    (
        SegmentCommand::Split,
        "Split the segment at the playhead",
        key(Key::X),
    ),
    (
        SegmentCommand::MergeWithNext,
        "Merge the segment with the next",
        key(Key::J),
    ),
    (
        SegmentCommand::Play,
        "Play the segment (then the next, with auto-play)",
        key(Key::P),
    ),
    (
        SegmentCommand::ToggleAutoPlay,
        "Auto-play the next segment on / off",
        KeyboardShortcut::new(Modifiers::SHIFT, Key::P),
    ),
];

/// The selected segment and boundary of the open recording, and what is under way.
#[derive(Debug, Default)]
pub struct SegmentCursor {
    pub selected: Option<u64>,
    pub boundary: Boundary,
    /// The first press of Mark: where the new segment starts.
    pub mark_s: Option<f64>,
    /// When a played segment ends, play the next one.
    pub auto_play_next: bool,
    /// The segment "play segment" is playing.
    pub playing: Option<u64>,
}

impl SegmentCursor {
    /// Forgets the selection and a pending mark (Escape); whether there was anything to forget.
    pub fn clear(&mut self) -> bool {
        let had = self.selected.is_some() || self.mark_s.is_some();
        self.selected = None;
        self.mark_s = None;
        had
    }

    /// A fresh cursor for another recording, keeping the auto-play choice.
    pub fn reset(&mut self) {
        *self = Self {
            auto_play_next: self.auto_play_next,
            ..Self::default()
        };
    }
}
