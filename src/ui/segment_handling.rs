//! Carrying out the segment commands (`segments.rs`) on the open recording: each edit is one
//! journal edit through the labelling part; the playhead moves only when a segment is played.

use crate::annotation::Segment;
use crate::annotation::segments::{Boundary, SegmentEdit, free_around, neighbour, segment_at};
use crate::audio::ANALYSIS_RATE_HZ;
use crate::audio::energy::quietest_point;

use super::app::StudioApp;
use super::labelling::LabelError;
use super::segments::{SNAP_REACH_S, SegmentCommand};
use super::view::scheme_of;

impl StudioApp {
    /// The open recording's listed path, its duration and the current annotator's segments.
    fn segment_context(&self) -> Option<(String, f64, Vec<Segment>)> {
        let recording = self.recording.as_ref()?;
        let file = self.collection.listed_path(recording.index)?.to_owned();
        let segments = self
            .labelling
            .label_of(&file)
            .map(|l| l.segments.clone())
            .unwrap_or_default();
        Some((file, recording.timeline.duration_s, segments))
    }

    /// The selected segment if it still exists, else the one at the playhead.
    fn target_segment(&self, segments: &[Segment], playhead_s: f64) -> Option<u64> {
        self.segments
            .selected
            .filter(|id| segments.iter().any(|s| s.id == *id))
            .or_else(|| segment_at(segments, playhead_s).map(|s| s.id))
    }

    /// Makes `edit` and selects the segment it made or changed.
    pub(super) fn edit_segment(&mut self, edit: &SegmentEdit) {
        let Some((file, duration_s, _)) = self.segment_context() else {
            return;
        };
        let scheme = scheme_of(&self.collection);
        if let Some(id) = self.labelling.edit_segment(&file, edit, duration_s, scheme) {
            self.segments.selected = (!matches!(edit, SegmentEdit::Remove { .. })).then_some(id);
            if let SegmentEdit::Move { boundary, .. } = edit {
                self.segments.boundary = *boundary;
            }
        }
    }

    /// The selected segment's class from the scheme's `index` (the number keys while a segment is
    /// selected); false when no segment is selected.
    pub(super) fn set_selected_segment_class(&mut self, index: usize) -> bool {
        let Some((_, _, segments)) = self.segment_context() else {
            return false;
        };
        let Some(id) = self
            .segments
            .selected
            .filter(|id| segments.iter().any(|s| s.id == *id))
        else {
            return false;
        };
        let scheme = scheme_of(&self.collection);
        if let Some(class) = scheme.classes.get(index) {
            let edit = SegmentEdit::SetClass {
                id,
                class: class.id.clone(),
            };
            self.edit_segment(&edit);
        }
        true
    }

    /// Removes the selected segment; false when none is selected.
    pub(super) fn remove_selected_segment(&mut self) -> bool {
        let Some((_, _, segments)) = self.segment_context() else {
            return false;
        };
        match self
            .segments
            .selected
            .filter(|id| segments.iter().any(|s| s.id == *id))
        {
            Some(id) => {
                self.edit_segment(&SegmentEdit::Remove { id });
                true
            }
            None => false,
        }
    }

    /// A new comment as the current annotator: its id is the journal edit that writes it.
    pub(super) fn add_comment(
        &mut self,
        text: String,
        segment: Option<u64>,
        reply_to: Option<crate::annotation::CommentRef>,
    ) {
        let Some((file, _, _)) = self.segment_context() else {
            return;
        };
        let comment = crate::annotation::Comment {
            id: self.labelling.annotations.next_seq().unwrap_or(1),
            segment,
            reply_to,
            time_ms: crate::annotation::request::now_ms(),
            text,
            resolved: false,
        };
        let scheme = scheme_of(&self.collection);
        self.labelling
            .edit(&file, crate::annotation::Op::PutComment { comment }, scheme);
    }

    pub(super) fn run_segment(&mut self, command: SegmentCommand) {
        let Some((file, duration_s, segments)) = self.segment_context() else {
            return;
        };
        let playhead_s = self.player.transport.position_s();
        let selected = self
            .segments
            .selected
            .filter(|id| segments.iter().any(|s| s.id == *id));
        let boundary = self.segments.boundary;
        match command {
            SegmentCommand::Mark => match self.segments.mark_s.take() {
                None => match free_around(&segments, playhead_s, duration_s) {
                    Ok(_) => {
                        self.segments.mark_s = Some(playhead_s);
                        self.labelling.error = None;
                    }
                    Err(error) => self.labelling.error = Some(LabelError::Request(error.into())),
                },
                Some(anchor_s) => {
                    let scheme = scheme_of(&self.collection);
                    let class = self.labelling.new_segment_class(&file, scheme);
                    self.edit_segment(&SegmentEdit::Create {
                        anchor_s,
                        to_s: playhead_s,
                        class,
                    });
                }
            },
            SegmentCommand::Next | SegmentCommand::Previous => {
                let forward = command == SegmentCommand::Next;
                if let Some(id) = neighbour(&segments, selected, playhead_s, forward) {
                    self.segments.selected = Some(id);
                }
            }
            SegmentCommand::Nudge { later, coarse } => match selected {
                Some(id) => self.edit_segment(&SegmentEdit::Nudge {
                    id,
                    boundary,
                    by_s: SegmentCommand::nudge_s(later, coarse),
                }),
                None => self.labelling.error = Some(LabelError::NoSegmentSelected),
            },
            SegmentCommand::SwitchBoundary => {
                self.segments.boundary = match boundary {
                    Boundary::Start => Boundary::End,
                    Boundary::End => Boundary::Start,
                };
            }
            SegmentCommand::Snap => {
                let (Some(id), Some(signal)) = (
                    selected,
                    self.recording.as_ref().and_then(|r| r.original.as_ref()),
                ) else {
                    self.labelling.error = Some(LabelError::NoSegmentSelected);
                    return;
                };
                let Some(segment) = segments.iter().find(|s| s.id == id) else {
                    return;
                };
                let at_s = match boundary {
                    Boundary::Start => segment.start_s,
                    Boundary::End => segment.end_s,
                };
                let to_s = quietest_point(&signal.samples, ANALYSIS_RATE_HZ, at_s, SNAP_REACH_S);
                self.edit_segment(&SegmentEdit::Move { id, boundary, to_s });
            }
            SegmentCommand::Split => match self.target_segment(&segments, playhead_s) {
                Some(id) => self.edit_segment(&SegmentEdit::Split {
                    id,
                    at_s: playhead_s,
                }),
                None => self.labelling.error = Some(LabelError::NoSegmentAtPlayhead),
            },
            SegmentCommand::MergeWithNext => match self.target_segment(&segments, playhead_s) {
                Some(id) => self.edit_segment(&SegmentEdit::MergeWithNext { id }),
                None => self.labelling.error = Some(LabelError::NoSegmentSelected),
            },
            SegmentCommand::Play => {
                let id = self
                    .target_segment(&segments, playhead_s)
                    .or_else(|| neighbour(&segments, None, playhead_s, true));
                match id.and_then(|id| segments.iter().find(|s| s.id == id)) {
                    Some(segment) => self.play_segment(segment),
                    None => self.labelling.error = Some(LabelError::NoSegmentSelected),
                }
            }
            SegmentCommand::ToggleAutoPlay => {
                self.segments.auto_play_next = !self.segments.auto_play_next;
            }
        }
    }

    /// Plays `segment` from its start and pauses at its end (exactly: the audio thread stops).
    fn play_segment(&mut self, segment: &Segment) {
        let transport = &self.player.transport;
        transport.seek_s(segment.start_s);
        transport.set_stop_at_s(Some(segment.end_s));
        transport.set_playing(true);
        self.segments.selected = Some(segment.id);
        self.segments.playing = Some(segment.id);
    }

    /// Called once per frame: when a played segment has ended, plays the next one if auto-play
    /// is on. A pause by the user (the stop point not reached) waits.
    pub(super) fn follow_segment_playback(&mut self) {
        let transport = &self.player.transport;
        let Some(id) = self.segments.playing else {
            return;
        };
        if transport.is_playing() || transport.stop_at_samples().is_some() {
            return;
        }
        self.segments.playing = None;
        if !self.segments.auto_play_next {
            return;
        }
        let Some((_, _, segments)) = self.segment_context() else {
            return;
        };
        let next = neighbour(&segments, Some(id), transport.position_s(), true)
            .and_then(|next| segments.iter().find(|s| s.id == next));
        if let Some(next) = next {
            self.play_segment(next);
        }
    }
}
