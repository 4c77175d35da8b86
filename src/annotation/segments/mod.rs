//! Segment edits as the keyboard, the mouse and the `label` command make them. Each becomes one
//! [`Op`], so one journal line and one undo step, and all follow one rule for overlaps.
//!
//! **The overlap rule.** One annotator's segments never overlap (touching is fine):
//! - a new segment lives in the free stretch where its first mark (the anchor) lies; its other end
//!   stops at the neighbouring segment, at 0 and at the recording's end; an anchor inside a
//!   segment is refused (select that segment to change it);
//! - a moved or nudged boundary stops at its neighbour, at 0 and at the recording's end, and a
//!   segment keeps at least [`MIN_SEGMENT_S`];
//! - any other edit that would overlap (a `segment` line of the `label` command) is refused,
//!   naming the segment it would overlap ([`check_fits`]).

use std::collections::BTreeMap;

use serde::Deserialize;

use super::label::{Op, Segment};

/// The shortest segment an edit leaves (10 ms).
pub const MIN_SEGMENT_S: f64 = 0.010;

/// Slack for comparing times that were computed from the same numbers.
const EPSILON_S: f64 = 1e-9;

/// Which end of a segment an edit moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Boundary {
    #[default]
    Start,
    End,
}

/// Why a segment edit was refused; nothing changes for it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SegmentError {
    #[error("there is no segment {0} in this label")]
    Missing(u64),
    #[error(
        "{at_s:.3} s is inside segment {id} ({start_s:.3}–{end_s:.3} s): select that segment to change it"
    )]
    Inside {
        at_s: f64,
        id: u64,
        start_s: f64,
        end_s: f64,
    },
    #[error(
        "{start_s:.3}–{end_s:.3} s overlaps segment {id} ({other_start_s:.3}–{other_end_s:.3} s): one annotator's segments may not overlap"
    )]
    Overlap {
        start_s: f64,
        end_s: f64,
        id: u64,
        other_start_s: f64,
        other_end_s: f64,
    },
    #[error(
        "{start_s:.3}–{end_s:.3} s is shorter than a segment's 10 ms minimum (after stopping at the neighbours)"
    )]
    TooShort { start_s: f64, end_s: f64 },
    #[error("segment {0} is the last one: there is no next segment to merge it with")]
    NoNext(u64),
    #[error(
        "{at_s:.3} s is not inside segment {id} ({start_s:.3}–{end_s:.3} s) by at least 10 ms: move the playhead into it to split it"
    )]
    SplitOutside {
        at_s: f64,
        id: u64,
        start_s: f64,
        end_s: f64,
    },
}

/// A segment edit before it is resolved against the current segments (the `segment_edit` field
/// of a `label` line reads as this, e.g. `{"split": {"id": 3, "at_s": 1.25}}`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum SegmentEdit {
    /// A new segment from `anchor_s` (its first mark) towards `to_s`.
    Create {
        anchor_s: f64,
        to_s: f64,
        class: String,
    },
    /// One boundary to `to_s` (stopping at the limits).
    Move {
        id: u64,
        boundary: Boundary,
        to_s: f64,
    },
    /// One boundary by `by_s` (negative: earlier), stopping at the limits.
    Nudge {
        id: u64,
        boundary: Boundary,
        by_s: f64,
    },
    /// Two segments from one at `at_s`; the second gets a new id and the same class.
    Split {
        id: u64,
        at_s: f64,
    },
    /// One segment from this and the next (the first's class; the gap between them included).
    MergeWithNext {
        id: u64,
    },
    SetClass {
        id: u64,
        class: String,
    },
    Remove {
        id: u64,
    },
}

impl SegmentEdit {
    /// The edit as one [`Op`] on `segments`, for a recording of `duration_s` (use
    /// `f64::INFINITY` when it is not known); `new_id` names a segment it creates. `Ok(None)`:
    /// nothing would change (a boundary already at its limit).
    ///
    /// # Errors
    /// [`SegmentError`] saying why the edit cannot be made.
    pub fn resolve(
        &self,
        segments: &[Segment],
        duration_s: f64,
        new_id: u64,
    ) -> Result<Option<Op>, SegmentError> {
        let put = |segment: Segment| Some(Op::PutSegment { segment });
        Ok(match self {
            Self::Create {
                anchor_s,
                to_s,
                class,
            } => {
                let (low, high) = free_around(segments, *anchor_s, duration_s)?;
                let start_s = anchor_s.min(*to_s).max(low);
                let end_s = anchor_s.max(*to_s).min(high);
                if end_s - start_s < MIN_SEGMENT_S - EPSILON_S {
                    return Err(SegmentError::TooShort { start_s, end_s });
                }
                put(Segment {
                    id: new_id,
                    start_s,
                    end_s,
                    class: class.clone(),
                    attributes: BTreeMap::new(),
                })
            }
            Self::Move { id, boundary, to_s } => {
                move_boundary(segments, *id, *boundary, *to_s, duration_s)?
            }
            Self::Nudge { id, boundary, by_s } => {
                let segment = find(segments, *id)?;
                let from = match boundary {
                    Boundary::Start => segment.start_s,
                    Boundary::End => segment.end_s,
                };
                move_boundary(segments, *id, *boundary, from + by_s, duration_s)?
            }
            Self::Split { id, at_s } => {
                let segment = find(segments, *id)?;
                if !(segment.start_s + MIN_SEGMENT_S..=segment.end_s - MIN_SEGMENT_S).contains(at_s)
                {
                    return Err(SegmentError::SplitOutside {
                        at_s: *at_s,
                        id: *id,
                        start_s: segment.start_s,
                        end_s: segment.end_s,
                    });
                }
                let left = Segment {
                    end_s: *at_s,
                    ..segment.clone()
                };
                let right = Segment {
                    id: new_id,
                    start_s: *at_s,
                    ..segment.clone()
                };
                Some(Op::EditSegments {
                    remove: Vec::new(),
                    put: vec![left, right],
                })
            }
            Self::MergeWithNext { id } => {
                let segment = find(segments, *id)?;
                let next = ordered(segments)
                    .into_iter()
                    .filter(|s| s.id != *id && s.start_s >= segment.start_s)
                    .find(|s| s.start_s > segment.start_s || s.id > *id)
                    .ok_or(SegmentError::NoNext(*id))?;
                Some(Op::EditSegments {
                    remove: vec![next.id],
                    put: vec![Segment {
                        end_s: segment.end_s.max(next.end_s),
                        ..segment.clone()
                    }],
                })
            }
            Self::SetClass { id, class } => {
                let segment = find(segments, *id)?;
                (segment.class != *class).then(|| Op::PutSegment {
                    segment: Segment {
                        class: class.clone(),
                        ..segment.clone()
                    },
                })
            }
            Self::Remove { id } => {
                find(segments, *id)?;
                Some(Op::RemoveSegment { id: *id })
            }
        })
    }
}

fn find(segments: &[Segment], id: u64) -> Result<&Segment, SegmentError> {
    segments
        .iter()
        .find(|s| s.id == id)
        .ok_or(SegmentError::Missing(id))
}

/// The segments by start time (then id).
#[must_use]
pub fn ordered(segments: &[Segment]) -> Vec<&Segment> {
    let mut ordered: Vec<&Segment> = segments.iter().collect();
    ordered.sort_by(|a, b| a.start_s.total_cmp(&b.start_s).then(a.id.cmp(&b.id)));
    ordered
}

/// The free stretch (between neighbouring segments, 0 and `duration_s`) that holds `at_s`.
///
/// # Errors
/// [`SegmentError::Inside`] when `at_s` is inside a segment.
pub fn free_around(
    segments: &[Segment],
    at_s: f64,
    duration_s: f64,
) -> Result<(f64, f64), SegmentError> {
    let (mut low, mut high) = (0.0_f64, duration_s);
    for s in segments {
        if s.start_s + EPSILON_S < at_s && at_s < s.end_s - EPSILON_S {
            return Err(SegmentError::Inside {
                at_s,
                id: s.id,
                start_s: s.start_s,
                end_s: s.end_s,
            });
        }
        if s.end_s <= at_s + EPSILON_S {
            low = low.max(s.end_s);
        } else {
            high = high.min(s.start_s);
        }
    }
    Ok((low, high.max(low)))
}

/// Where `boundary` of segment `id` may go: between its neighbour (or 0, or the end) and
/// [`MIN_SEGMENT_S`] from its other boundary.
///
/// # Errors
/// [`SegmentError::Missing`].
pub fn boundary_limits(
    segments: &[Segment],
    id: u64,
    boundary: Boundary,
    duration_s: f64,
) -> Result<(f64, f64), SegmentError> {
    let segment = find(segments, id)?;
    let others = segments.iter().filter(|s| s.id != id);
    Ok(match boundary {
        Boundary::Start => {
            let low = others
                .filter(|s| s.start_s < segment.start_s + EPSILON_S)
                .map(|s| s.end_s)
                .fold(0.0, f64::max);
            (low.min(segment.start_s), segment.end_s - MIN_SEGMENT_S)
        }
        Boundary::End => {
            let high = others
                .filter(|s| s.end_s > segment.end_s - EPSILON_S)
                .map(|s| s.start_s)
                .fold(duration_s, f64::min);
            (segment.start_s + MIN_SEGMENT_S, high.max(segment.end_s))
        }
    })
}

fn move_boundary(
    segments: &[Segment],
    id: u64,
    boundary: Boundary,
    to_s: f64,
    duration_s: f64,
) -> Result<Option<Op>, SegmentError> {
    let segment = find(segments, id)?;
    let (low, high) = boundary_limits(segments, id, boundary, duration_s)?;
    let mut moved = segment.clone();
    let (current, slot) = match boundary {
        Boundary::Start => (segment.start_s, &mut moved.start_s),
        Boundary::End => (segment.end_s, &mut moved.end_s),
    };
    // Limits from overlapping old data can cross: then the boundary stays.
    let target = if low <= high {
        to_s.clamp(low, high)
    } else {
        current
    };
    *slot = target;
    Ok(((target - current).abs() > EPSILON_S).then_some(Op::PutSegment { segment: moved }))
}

/// The segment holding `at_s` (the later one where two touch).
#[must_use]
pub fn segment_at(segments: &[Segment], at_s: f64) -> Option<&Segment> {
    ordered(segments)
        .into_iter()
        .rev()
        .find(|s| s.start_s <= at_s && at_s < s.end_s)
}

/// The segment after (`forward`) or before `current`; without one, the first segment that ends
/// after `at_s` (forward) or the last that starts before it.
#[must_use]
pub fn neighbour(
    segments: &[Segment],
    current: Option<u64>,
    at_s: f64,
    forward: bool,
) -> Option<u64> {
    let ordered = ordered(segments);
    let position = current.and_then(|id| ordered.iter().position(|s| s.id == id));
    let found = match (position, forward) {
        (Some(index), true) => ordered.get(index + 1),
        (Some(index), false) => index.checked_sub(1).and_then(|i| ordered.get(i)),
        (None, true) => ordered.iter().find(|s| s.end_s > at_s + EPSILON_S),
        (None, false) => ordered.iter().rev().find(|s| s.start_s < at_s - EPSILON_S),
    };
    found.map(|s| s.id)
}

/// Refuses an edit that would make segments overlap (a put segment against the ones that stay,
/// or two put segments against each other).
///
/// # Errors
/// [`SegmentError::Overlap`] naming the segment it would overlap.
pub fn check_fits(segments: &[Segment], op: &Op) -> Result<(), SegmentError> {
    let (remove, put): (&[u64], &[Segment]) = match op {
        Op::PutSegment { segment } => (&[], std::slice::from_ref(segment)),
        Op::EditSegments { remove, put } => (remove, put),
        _ => return Ok(()),
    };
    let staying = segments
        .iter()
        .filter(|s| !remove.contains(&s.id) && !put.iter().any(|p| p.id == s.id));
    let after: Vec<&Segment> = staying.chain(put).collect();
    for new in put {
        let overlapped = after.iter().find(|other| {
            other.id != new.id
                && other.start_s < new.end_s - EPSILON_S
                && new.start_s < other.end_s - EPSILON_S
        });
        if let Some(other) = overlapped {
            return Err(SegmentError::Overlap {
                start_s: new.start_s,
                end_s: new.end_s,
                id: other.id,
                other_start_s: other.start_s,
                other_end_s: other.end_s,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
