//! Time-continuous traces: an annotator moves a value (arousal, say) while the recording plays,
//! and it is sampled at a fixed rate against *audio* time. One sweep is a [`TracePass`]; its samples
//! sit on the grid `index / rate_hz` seconds from the start of the recording, so speed changes and
//! pauses never stretch it.
//!
//! A pass reaches the journal as [`TraceEdit`]s: `begin`, then `block`s of at most
//! [`BLOCK_MAX_S`] of samples (each line fsynced), then `end`. A studio killed mid-pass loses at
//! most the block it was filling; the replayed pass stays `open` and counts as interrupted. Every
//! edit returns its exact inverse, as labels' edits do, so undo (discarding a pass) is one more edit.

mod agreement;
mod combine;
mod proxy;
mod report;
mod review;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use crate::project::TraceMode;
pub use agreement::{
    Lagged, TraceAgreement, TraceEstimate, best_lag_ccc, ccc, cronbach_alpha, mean_pairwise_ccc,
    pair_cccs, trace_agreement,
};
pub use combine::{TraceSeries, annotator_series, human_mean, recording_series, time_mean};
pub use proxy::{CIRCUMPLEX, circumplex_position, proxy_series};
pub use report::{
    ClassTrajectory, DimensionReport, Labelled, RecordingAgreement, dimension_reports, model_proxy,
    proxy_ccc, recording_agreement, traced_files,
};
pub use review::review_figures;

/// Version of the trace edits' own fields (the journal line has its own version too).
pub const TRACE_VERSION: u32 = 1;
/// At most this much trace (in audio seconds) goes into one journal line.
pub const BLOCK_MAX_S: f64 = 0.5;

/// How a pass was traced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TraceInput {
    Mouse,
    Keys,
    Gamepad,
    Imported,
}

/// Whether a pass ran to its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PassState {
    /// Still being traced, or cut off by a crash (the replayed journal has no `end`).
    #[default]
    Open,
    Complete,
    /// Ended early and kept: the annotator stopped, or the gamepad went away.
    Incomplete,
}

/// One sweep of one annotator over one recording and dimension.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TracePass {
    /// The journal sequence number of its `begin` edit.
    pub id: u64,
    pub dimension: String,
    pub rate_hz: f64,
    pub mode: TraceMode,
    pub input: TraceInput,
    /// Grid index of the first sample: it was taken at `start_index / rate_hz` seconds of audio.
    pub start_index: u64,
    pub values: Vec<f64>,
    #[serde(default)]
    pub state: PassState,
    /// Undone: kept in the journal, left out of everything else.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub discarded: bool,
}

impl TracePass {
    /// Audio time of sample `i`.
    #[must_use]
    pub fn time_s(&self, i: usize) -> f64 {
        (self.start_index + i as u64) as f64 / self.rate_hz
    }

    /// Kept passes count; discarded ones do not.
    #[must_use]
    pub fn kept(&self) -> bool {
        !self.discarded && !self.values.is_empty()
    }
}

/// One change to an annotator's passes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "trace", rename_all = "snake_case")]
pub enum TraceEdit {
    /// A new, empty pass (`pass` is the journal sequence number of this edit).
    Begin {
        pass: u64,
        dimension: String,
        rate_hz: f64,
        mode: TraceMode,
        input: TraceInput,
        start_index: u64,
    },
    /// Samples appended to the pass (at most [`BLOCK_MAX_S`] of them per edit).
    Block {
        pass: u64,
        values: Vec<f64>,
    },
    /// Cuts the pass back to `len` samples (the inverse of a block).
    Truncate {
        pass: u64,
        len: usize,
    },
    End {
        pass: u64,
        state: PassState,
    },
    /// Discards (undo) or keeps again (redo) a pass.
    Discard {
        pass: u64,
        on: bool,
    },
    /// Marks the final pass of a dimension (`None`: none marked).
    SetFinal {
        dimension: String,
        pass: Option<u64>,
    },
    /// Removes a pass (the inverse of `begin`).
    Remove {
        pass: u64,
    },
    /// Puts a whole pass back (the inverse of `remove`).
    Restore {
        pass: Box<TracePass>,
    },
}

/// An annotator's passes over one recording.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Traces {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub passes: Vec<TracePass>,
    /// Dimension → the pass marked final.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub finals: BTreeMap<String, u64>,
}

impl Traces {
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.passes.is_empty() && self.finals.is_empty()
    }

    #[must_use]
    pub fn pass(&self, id: u64) -> Option<&TracePass> {
        self.passes.iter().find(|p| p.id == id)
    }

    fn pass_mut(&mut self, id: u64) -> Option<&mut TracePass> {
        self.passes.iter_mut().find(|p| p.id == id)
    }

    /// Kept passes of `dimension`, oldest first.
    pub fn kept<'a>(&'a self, dimension: &'a str) -> impl Iterator<Item = &'a TracePass> + 'a {
        self.passes
            .iter()
            .filter(move |p| p.dimension == dimension && p.kept())
    }

    /// Applies `edit`; returns the edit that undoes it. An edit naming a pass that is not there
    /// changes nothing (and its inverse changes nothing either).
    pub fn apply(&mut self, edit: &TraceEdit) -> TraceEdit {
        match edit {
            TraceEdit::Begin {
                pass,
                dimension,
                rate_hz,
                mode,
                input,
                start_index,
            } => {
                self.passes.retain(|p| p.id != *pass);
                self.passes.push(TracePass {
                    id: *pass,
                    dimension: dimension.clone(),
                    rate_hz: *rate_hz,
                    mode: *mode,
                    input: *input,
                    start_index: *start_index,
                    values: Vec::new(),
                    state: PassState::Open,
                    discarded: false,
                });
                TraceEdit::Remove { pass: *pass }
            }
            TraceEdit::Block { pass, values } => {
                let Some(p) = self.pass_mut(*pass) else {
                    return TraceEdit::Truncate {
                        pass: *pass,
                        len: usize::MAX,
                    };
                };
                let len = p.values.len();
                p.values.extend_from_slice(values);
                TraceEdit::Truncate { pass: *pass, len }
            }
            TraceEdit::Truncate { pass, len } => {
                let values = self
                    .pass_mut(*pass)
                    .map(|p| p.values.split_off((*len).min(p.values.len())))
                    .unwrap_or_default();
                TraceEdit::Block {
                    pass: *pass,
                    values,
                }
            }
            TraceEdit::End { pass, state } => {
                let previous = self
                    .pass_mut(*pass)
                    .map_or(*state, |p| std::mem::replace(&mut p.state, *state));
                TraceEdit::End {
                    pass: *pass,
                    state: previous,
                }
            }
            TraceEdit::Discard { pass, on } => {
                let previous = self
                    .pass_mut(*pass)
                    .map_or(*on, |p| std::mem::replace(&mut p.discarded, *on));
                TraceEdit::Discard {
                    pass: *pass,
                    on: previous,
                }
            }
            TraceEdit::SetFinal { dimension, pass } => {
                let previous = match pass {
                    Some(pass) => self.finals.insert(dimension.clone(), *pass),
                    None => self.finals.remove(dimension),
                };
                TraceEdit::SetFinal {
                    dimension: dimension.clone(),
                    pass: previous,
                }
            }
            TraceEdit::Remove { pass } => match self.passes.iter().position(|p| p.id == *pass) {
                Some(index) => TraceEdit::Restore {
                    pass: Box::new(self.passes.remove(index)),
                },
                None => TraceEdit::Remove { pass: *pass },
            },
            TraceEdit::Restore { pass } => {
                self.passes.retain(|p| p.id != pass.id);
                self.passes.push((**pass).clone());
                self.passes.sort_by_key(|p| p.id);
                TraceEdit::Remove { pass: pass.id }
            }
        }
    }
}

/// Splits `values` (taken at `rate_hz`) into journal blocks of at most [`BLOCK_MAX_S`] each.
#[must_use]
pub fn block_len(rate_hz: f64) -> usize {
    ((BLOCK_MAX_S * rate_hz).floor() as usize).max(1)
}

#[cfg(test)]
mod tests;
