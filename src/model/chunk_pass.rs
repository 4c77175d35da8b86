//! The chunk pass of an analysis: chunks run in the order the caller wants (the part in view
//! first), their outputs kept as they arrive, and what they add up to so far — utterance
//! probabilities, router frames, one-pass trajectory rows — joined by the same code whether every
//! chunk is done or only some.

use std::ops::Range;
use std::sync::atomic::{AtomicBool, Ordering};

use ndarray::Array2;

use super::analysis::RouterTrace;
use super::chunks::{Chunk, OverlapAdd, chunk_for_window, stitch_frames};
use super::session::{MeritSession, ModelError};

/// The model's outputs for one piece (chunk or window) of a recording.
pub(super) struct PieceOutput {
    pub logits: Vec<f32>,
    pub enhanced: Vec<f32>,
    pub ser_gate: Vec<f32>,
    pub se_gate: Vec<f32>,
    /// `frames × classes`, when the model has the one-pass trajectory output.
    pub trajectory: Option<Vec<f32>>,
    /// The pooled emotion statistics of a speaker-relative model.
    pub statistics: Option<Vec<f32>>,
}

pub(super) fn cancelled(cancel: Option<&AtomicBool>) -> Result<(), ModelError> {
    if cancel.is_some_and(|c| c.load(Ordering::Relaxed)) {
        Err(ModelError::Cancelled)
    } else {
        Ok(())
    }
}

/// Appends `signal[start..start + len]` to `input`, zeros past the signal's end (the padding that
/// brings short clips to the model's minimum and long ones to whole frames, never materialised).
fn extend_padded(input: &mut Vec<f32>, signal: &[f32], start: usize, len: usize) {
    let available = signal.len().saturating_sub(start).min(len);
    if available > 0 {
        input.extend_from_slice(&signal[start..start + available]);
    }
    input.resize(input.len() + len - available, 0.0);
}

/// The pieces of a recording to run: equal-length spans of `signal` given by start sample, in
/// batches, each classified against `reference` (a speaker-relative model's speaker reference).
pub(super) struct Pieces<'a> {
    pub signal: &'a [f32],
    pub starts: &'a [usize],
    pub len: usize,
    pub batch: usize,
    pub reference: Option<&'a [f32]>,
}

/// Runs the pieces, handing each piece's outputs to `take` in order so they can be joined and
/// dropped at once.
pub(super) fn run_pieces(
    session: &mut MeritSession,
    pieces: &Pieces<'_>,
    cancel: Option<&AtomicBool>,
    mut take: impl FnMut(usize, PieceOutput),
) -> Result<(), ModelError> {
    let &Pieces {
        signal,
        starts,
        len,
        batch,
        reference,
    } = pieces;
    let classes = session.card().classes.len();
    let experts = session.card().n_experts;
    let statistics_size = session.statistics_size().unwrap_or(0);
    let mut index = 0;
    for group in starts.chunks(batch.max(1)) {
        cancelled(cancel)?;
        let mut input = Vec::with_capacity(group.len() * len);
        for &start in group {
            extend_padded(&mut input, signal, start, len);
        }
        let out = session.run(input, group.len(), reference)?;
        let per_gate = out.frames * experts;
        let per_trajectory = out.frames * classes;
        for row in 0..group.len() {
            take(
                index,
                PieceOutput {
                    logits: out.emotion_logits[row * classes..(row + 1) * classes].to_vec(),
                    enhanced: out.enhanced[row * len..(row + 1) * len].to_vec(),
                    ser_gate: out.ser_gate[row * per_gate..(row + 1) * per_gate].to_vec(),
                    se_gate: out.se_gate[row * per_gate..(row + 1) * per_gate].to_vec(),
                    trajectory: out
                        .trajectory
                        .as_ref()
                        .map(|t| t[row * per_trajectory..(row + 1) * per_trajectory].to_vec()),
                    statistics: out
                        .statistics
                        .as_ref()
                        .map(|s| s[row * statistics_size..(row + 1) * statistics_size].to_vec()),
                },
            );
            index += 1;
        }
    }
    Ok(())
}

/// The next (at most) `count` chunks to run: those not done, the ones nearest `focus` (a span in
/// samples) first — overlapping it counts as nearest — then in time order.
#[must_use]
pub fn next_chunks(
    chunks: &[Chunk],
    done: &[bool],
    focus: Option<&Range<usize>>,
    count: usize,
) -> Vec<usize> {
    let distance = |chunk: &Chunk| {
        focus.map_or(0, |focus| {
            if chunk.range.end <= focus.start {
                focus.start - chunk.range.end + 1
            } else {
                chunk
                    .range
                    .start
                    .saturating_sub(focus.end.saturating_sub(1))
            }
        })
    };
    let mut waiting: Vec<usize> = (0..chunks.len()).filter(|&i| !done[i]).collect();
    waiting.sort_by_key(|&i| (distance(&chunks[i]), chunks[i].range.start));
    waiting.truncate(count);
    waiting
}

/// The chunk pass's outputs as they arrive, in any order.
pub(super) struct ChunkOutputs<'a> {
    chunks: &'a [Chunk],
    total: usize,
    hop_samples: usize,
    experts: usize,
    classes: usize,
    /// By chunk index; the enhanced audio goes into `enhanced` at once.
    pieces: Vec<Option<PieceOutput>>,
    enhanced: OverlapAdd<'a>,
}

impl<'a> ChunkOutputs<'a> {
    pub fn new(
        chunks: &'a [Chunk],
        total: usize,
        hop_samples: usize,
        (experts, classes): (usize, usize),
    ) -> Self {
        Self {
            chunks,
            total,
            hop_samples,
            experts,
            classes,
            pieces: chunks.iter().map(|_| None).collect(),
            enhanced: OverlapAdd::new(chunks, total),
        }
    }

    pub fn add(&mut self, index: usize, mut piece: PieceOutput) {
        self.enhanced
            .add(index, &std::mem::take(&mut piece.enhanced));
        self.pieces[index] = Some(piece);
    }

    pub fn done(&self) -> Vec<bool> {
        self.pieces.iter().map(Option::is_some).collect()
    }

    /// Fraction of the chunks done.
    pub fn done_fraction(&self) -> f64 {
        let done = self.pieces.iter().filter(|p| p.is_some()).count();
        done as f64 / self.pieces.len().max(1) as f64
    }

    /// The logits of chunk `index`, once done.
    pub fn logits(&self, index: usize) -> Option<&[f32]> {
        self.pieces[index].as_ref().map(|p| p.logits.as_slice())
    }

    /// The mean of `values` of the chunks done, each weighted by the new audio it contributes
    /// (one chunk: its own); `None` before any chunk is done or when `values` gives none.
    fn chunk_weighted_mean(
        &self,
        values: impl Fn(&PieceOutput) -> Option<Vec<f32>>,
    ) -> Option<Vec<f32>> {
        let mut sums: Option<Vec<f32>> = None;
        let mut weight_sum = 0.0_f32;
        for (index, (piece, chunk)) in self.pieces.iter().zip(self.chunks).enumerate() {
            let Some(values) = piece.as_ref().and_then(&values) else {
                continue;
            };
            let fresh = chunk.range.end
                - index
                    .checked_sub(1)
                    .map_or(0, |p| self.chunks[p].range.end.min(chunk.range.end));
            let weight = fresh as f32 / self.total as f32;
            weight_sum += weight;
            let sums = sums.get_or_insert_with(|| vec![0.0; values.len()]);
            for (sum, value) in sums.iter_mut().zip(values) {
                *sum += value * weight;
            }
        }
        let mut sums = sums?;
        if weight_sum > 0.0 {
            sums.iter_mut().for_each(|s| *s /= weight_sum);
        }
        Some(sums)
    }

    /// Utterance-level class probabilities over the chunks done: each chunk's probabilities
    /// weighted by the new audio it contributes.
    pub fn utterance_probs(&self) -> Vec<f32> {
        self.chunk_weighted_mean(|piece| Some(softmax(&piece.logits)))
            .unwrap_or_else(|| vec![0.0; self.classes])
    }

    /// A speaker-relative model's statistics of the recording: the chunks' pooled statistics,
    /// weighted as [`Self::utterance_probs`] weighs their probabilities.
    pub fn recording_statistics(&self) -> Option<Vec<f32>> {
        self.chunk_weighted_mean(|piece| piece.statistics.clone())
    }

    /// The SER and SE routers' frames over the whole recording; frames of chunks not yet done
    /// are NaN (see [`RouterTrace::is_analysed`]).
    pub fn routers(&self, hop_s: f64) -> Result<(RouterTrace, RouterTrace), ModelError> {
        let experts = self.experts.max(1);
        // Every chunk has the same length, so any done chunk says how many frames each gives.
        let frames_per_chunk = self
            .pieces
            .iter()
            .flatten()
            .next()
            .map_or(0, |p| p.ser_gate.len() / experts);
        let total_frames = self
            .chunks
            .last()
            .map_or(0, |c| c.range.start / self.hop_samples)
            + frames_per_chunk;
        let trace = |gate: fn(&PieceOutput) -> &[f32]| {
            let parts: Vec<Option<&[f32]>> =
                self.pieces.iter().map(|p| p.as_ref().map(gate)).collect();
            let joined =
                stitch_frames(self.chunks, &parts, experts, self.hop_samples, total_frames);
            Array2::from_shape_vec((total_frames, experts), joined)
                .map(|probs| RouterTrace::new(probs, hop_s))
                .map_err(|e| ModelError::Inference(format!("router frames do not join: {e}")))
        };
        Ok((
            trace(|p| p.ser_gate.as_slice())?,
            trace(|p| p.se_gate.as_slice())?,
        ))
    }

    /// The one-pass trajectory's logits for the window `[start, start + window)`, once the chunk
    /// that holds it is done.
    pub fn trajectory_row(&self, start: usize, window: usize) -> Option<Vec<f32>> {
        let index = chunk_for_window(self.chunks, start, window).unwrap_or(0);
        let rows = self.pieces[index].as_ref()?.trajectory.as_deref()?;
        let frames = rows.len() / self.classes.max(1);
        let frame = ((start - self.chunks[index].range.start) / self.hop_samples)
            .min(frames.saturating_sub(1));
        Some(rows[frame * self.classes..(frame + 1) * self.classes].to_vec())
    }

    /// The enhanced signal (every chunk must be done).
    pub fn into_enhanced(self) -> Vec<f32> {
        self.enhanced.finish()
    }
}

pub(super) fn softmax(logits: &[f32]) -> Vec<f32> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exps: Vec<f32> = logits.iter().map(|l| (l - max).exp()).collect();
    let sum: f32 = exps.iter().sum();
    exps.into_iter().map(|e| e / sum).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::chunks::plan_chunks;

    #[test]
    fn the_chunks_in_view_go_first_then_the_nearest() {
        let chunks = plan_chunks(100, 20, 0); // 0..20, 20..40, ..., 80..100
        let none = [false; 5];
        assert_eq!(next_chunks(&chunks, &none, None, 2), vec![0, 1]);
        assert_eq!(
            next_chunks(&chunks, &none, Some(&(45..70)), 5),
            vec![2, 3, 1, 4, 0]
        );
        let done = [false, false, true, true, false];
        assert_eq!(next_chunks(&chunks, &done, Some(&(45..70)), 2), vec![1, 4]);
        assert!(next_chunks(&chunks, &[true; 5], Some(&(0..10)), 3).is_empty());
    }

    fn piece(logits: Vec<f32>, frames: usize, gate: f32) -> PieceOutput {
        PieceOutput {
            logits,
            enhanced: vec![1.0; 20],
            ser_gate: vec![gate; frames * 2],
            se_gate: vec![gate; frames * 2],
            trajectory: None,
            statistics: Some(vec![gate, 2.0 * gate]),
        }
    }

    #[test]
    fn partial_outputs_cover_only_the_chunks_done() {
        let chunks = plan_chunks(60, 20, 0);
        let mut outputs = ChunkOutputs::new(&chunks, 60, 2, (2, 2));
        outputs.add(1, piece(vec![0.0, 10.0], 10, 0.5));
        assert!((outputs.done_fraction() - 1.0 / 3.0).abs() < 1e-9);
        // One chunk done: the utterance is that chunk's, not diluted by the others.
        let probs = outputs.utterance_probs();
        assert!(probs[1] > 0.99, "{probs:?}");
        let (ser, _) = outputs.routers(0.02).unwrap();
        assert_eq!(ser.frames(), 30);
        let analysed: Vec<bool> = (0..30).map(|f| ser.is_analysed(f)).collect();
        assert_eq!(analysed, [[false; 10], [true; 10], [false; 10]].concat());
        assert_eq!(ser.usage.iter().sum::<f64>(), 1.0);
        assert_eq!(outputs.recording_statistics(), Some(vec![0.5, 1.0]));
        outputs.add(0, piece(vec![10.0, 0.0], 10, 0.2));
        outputs.add(2, piece(vec![10.0, 0.0], 10, 0.2));
        let statistics = outputs.recording_statistics().unwrap();
        assert!((statistics[0] - 0.3).abs() < 1e-6, "{statistics:?}");
        let (ser, _) = outputs.routers(0.02).unwrap();
        assert!((0..30).all(|f| ser.is_analysed(f)));
        assert!((outputs.utterance_probs()[0] - 2.0 / 3.0).abs() < 1e-3);
        assert_eq!(outputs.into_enhanced(), vec![1.0; 60]);
    }
}
