//! Analysing one recording of any length with Sparse MERIT: enhanced audio of exactly the input's
//! length, router probabilities on one frame grid, the utterance-level prediction and an emotion
//! trajectory over sliding windows (from the same pass when the model supports it).

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::chunks::{OverlapAdd, chunk_for_window, plan_chunks, stitch_frames, window_starts};
use super::session::{MeritSession, ModelError, Provider};
use crate::audio::ANALYSIS_RATE_HZ;

/// Samples per router frame (20 ms at 16 kHz), the model's hop.
const FRAME_HOP_SAMPLES: usize = 320;
/// The contract's shortest input.
pub const MIN_SAMPLES: usize = ANALYSIS_RATE_HZ as usize / 2;

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AnalysisParams {
    /// Trajectory window length and hop.
    pub window_s: f64,
    pub hop_s: f64,
    /// Recordings longer than this are analysed in chunks of this length...
    pub chunk_s: f64,
    /// ...overlapping by this much (cross-faded).
    pub overlap_s: f64,
    /// Windows or chunks per model run.
    pub batch: usize,
}

impl Default for AnalysisParams {
    fn default() -> Self {
        Self {
            window_s: 3.0,
            hop_s: 0.5,
            chunk_s: 30.0,
            overlap_s: 2.0,
            batch: 16,
        }
    }
}

/// Class probabilities over time, at window centres.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trajectory {
    pub times_s: Vec<f64>,
    /// One row of class probabilities per time.
    pub probs: Vec<Vec<f32>>,
}

/// Everything the studio and `analyze` show for one recording. The large arrays are not part of
/// the serialised form (they go to WAV/.npy files, or to the cache's binary part).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignalAnalysis {
    pub duration_s: f64,
    /// Set when the input was shorter than the model's minimum and zero-padded to it.
    pub padded_from_s: Option<f64>,
    pub classes: Vec<String>,
    /// Utterance-level class probabilities.
    pub probs: Vec<f32>,
    pub trajectory: Trajectory,
    #[serde(skip)]
    pub enhanced: Vec<f32>,
    pub frame_hop_s: f64,
    pub experts: usize,
    /// `frames × experts`, router probabilities before top-k.
    #[serde(skip)]
    pub ser_gate: Vec<f32>,
    #[serde(skip)]
    pub se_gate: Vec<f32>,
    /// Fraction of frames whose top expert is each expert.
    pub ser_usage: Vec<f64>,
    pub se_usage: Vec<f64>,
    pub provider: Provider,
    pub inference_s: f64,
}

impl SignalAnalysis {
    /// The most probable class.
    #[must_use]
    pub fn top_class(&self) -> &str {
        let best = self
            .probs
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map_or(0, |(index, _)| index);
        self.classes.get(best).map_or("", String::as_str)
    }

    #[must_use]
    pub fn frames(&self) -> usize {
        self.ser_gate.len() / self.experts.max(1)
    }
}

fn softmax(logits: &[f32]) -> Vec<f32> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exps: Vec<f32> = logits.iter().map(|l| (l - max).exp()).collect();
    let sum: f32 = exps.iter().sum();
    exps.into_iter().map(|e| e / sum).collect()
}

fn usage(gate: &[f32], experts: usize) -> Vec<f64> {
    let mut counts = vec![0_usize; experts];
    let frames = gate.chunks_exact(experts.max(1));
    let total = frames.len().max(1);
    for row in frames {
        let top = row
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map_or(0, |(index, _)| index);
        counts[top] += 1;
    }
    counts
        .into_iter()
        .map(|c| c as f64 / total as f64)
        .collect()
}

fn samples_of(seconds: f64, multiple: usize) -> usize {
    let samples = (seconds * f64::from(ANALYSIS_RATE_HZ)).round().max(1.0) as usize;
    samples.div_ceil(multiple) * multiple
}

fn cancelled(cancel: Option<&AtomicBool>) -> Result<(), ModelError> {
    if cancel.is_some_and(|c| c.load(Ordering::Relaxed)) {
        Err(ModelError::Inference("cancelled".into()))
    } else {
        Ok(())
    }
}

/// The model's outputs for one piece (chunk or window) of a recording.
struct PieceOutput {
    logits: Vec<f32>,
    enhanced: Vec<f32>,
    ser_gate: Vec<f32>,
    se_gate: Vec<f32>,
    /// `frames × classes`, when the model has the one-pass trajectory output.
    trajectory: Option<Vec<f32>>,
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

/// Runs equal-length pieces of `signal` (given by start sample) in batches, handing each piece's
/// outputs to `take` in order so they can be joined and dropped at once.
fn run_pieces(
    session: &mut MeritSession,
    signal: &[f32],
    starts: &[usize],
    len: usize,
    batch: usize,
    cancel: Option<&AtomicBool>,
    mut take: impl FnMut(usize, PieceOutput),
) -> Result<(), ModelError> {
    let classes = session.card().classes.len();
    let experts = session.card().n_experts;
    let mut index = 0;
    for group in starts.chunks(batch.max(1)) {
        cancelled(cancel)?;
        let mut input = Vec::with_capacity(group.len() * len);
        for &start in group {
            extend_padded(&mut input, signal, start, len);
        }
        let out = session.run(input, group.len())?;
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
                },
            );
            index += 1;
        }
    }
    Ok(())
}

/// Analyses a 16 kHz mono signal.
///
/// The trajectory comes from the chunk pass itself when the model has the one-pass trajectory
/// output for `params.window_s` (chunks then overlap by at least a window, so every window lies
/// whole in one chunk); otherwise from a second pass over sliding windows.
///
/// # Errors
/// [`ModelError`] from inference, or `Inference("cancelled")` when `cancel` is set.
pub fn analyze_signal(
    session: &mut MeritSession,
    signal: &[f32],
    params: &AnalysisParams,
    cancel: Option<&AtomicBool>,
) -> Result<SignalAnalysis, ModelError> {
    let started = Instant::now();
    let duration_s = signal.len() as f64 / f64::from(ANALYSIS_RATE_HZ);
    let experts = session.card().n_experts;
    let classes = session.card().classes.clone();
    // Pad to the model's minimum, then to whole router frames so chunks align with the frame grid.
    let padded_from_s = (signal.len() < MIN_SAMPLES).then_some(duration_s);
    let total = signal.len().max(MIN_SAMPLES).div_ceil(FRAME_HOP_SAMPLES) * FRAME_HOP_SAMPLES;

    let window_len = samples_of(params.window_s, 1).max(MIN_SAMPLES);
    let one_pass = session
        .trajectory_window_s()
        .is_some_and(|w| (w - params.window_s).abs() < 1e-6);
    let chunk_len = samples_of(params.chunk_s, FRAME_HOP_SAMPLES).max(MIN_SAMPLES);
    let mut overlap = samples_of(params.overlap_s, FRAME_HOP_SAMPLES);
    if one_pass {
        overlap = overlap.max(samples_of(params.window_s, FRAME_HOP_SAMPLES));
    }
    let chunks = plan_chunks(total, chunk_len, overlap.min(chunk_len / 2));
    let len = chunks[0].range.len();
    let starts: Vec<usize> = chunks.iter().map(|c| c.range.start).collect();
    // As much audio per run for chunks as for trajectory windows: memory stays bounded by the batch,
    // not by the chunk length.
    let chunk_batch = (params.batch * window_len / len.max(1)).max(1);
    let mut enhanced = OverlapAdd::new(&chunks, total);
    let (mut logits, mut ser_parts, mut se_parts, mut trajectory_parts) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    run_pieces(
        session,
        signal,
        &starts,
        len,
        chunk_batch,
        cancel,
        |index, piece| {
            enhanced.add(index, &piece.enhanced);
            logits.push(piece.logits);
            ser_parts.push(piece.ser_gate);
            se_parts.push(piece.se_gate);
            trajectory_parts.push(piece.trajectory);
        },
    )?;
    let mut enhanced = enhanced.finish();
    enhanced.truncate(signal.len());
    let total_frames = chunks
        .last()
        .map_or(0, |c| c.range.start / FRAME_HOP_SAMPLES)
        + ser_parts.last().map_or(0, |p| p.len() / experts.max(1));
    let ser_gate = stitch_frames(
        &chunks,
        &ser_parts,
        experts,
        FRAME_HOP_SAMPLES,
        total_frames,
    );
    let se_gate = stitch_frames(&chunks, &se_parts, experts, FRAME_HOP_SAMPLES, total_frames);
    // Utterance level: one pass for a single chunk; else chunk probabilities weighted by the new
    // audio each chunk contributes.
    let mut probs = vec![0.0_f32; classes.len()];
    for (index, (chunk_logits, chunk)) in logits.iter().zip(&chunks).enumerate() {
        let fresh = chunk.range.end
            - index
                .checked_sub(1)
                .map_or(0, |p| chunks[p].range.end.min(chunk.range.end));
        for (sum, p) in probs.iter_mut().zip(softmax(chunk_logits)) {
            *sum += p * fresh as f32 / total as f32;
        }
    }

    let window = window_len.min(total);
    let hop = samples_of(params.hop_s, 1);
    let window_starts = window_starts(total, window, hop);
    let trajectory_logits: Vec<Vec<f32>> = if window_starts.len() == 1 && window == len {
        vec![logits[0].clone()]
    } else if one_pass {
        window_starts
            .iter()
            .map(|&start| {
                let index = chunk_for_window(&chunks, start, window).unwrap_or(0);
                let rows = trajectory_parts[index].as_deref().unwrap_or_default();
                let frames = rows.len() / classes.len().max(1);
                let frame = ((start - chunks[index].range.start) / FRAME_HOP_SAMPLES)
                    .min(frames.saturating_sub(1));
                rows[frame * classes.len()..(frame + 1) * classes.len()].to_vec()
            })
            .collect()
    } else {
        let mut windows = Vec::with_capacity(window_starts.len());
        run_pieces(
            session,
            signal,
            &window_starts,
            window,
            params.batch,
            cancel,
            |_, piece| windows.push(piece.logits),
        )?;
        windows
    };
    let trajectory = Trajectory {
        times_s: window_starts
            .iter()
            .map(|&start| {
                (start as f64 + window as f64 / 2.0).min(signal.len() as f64)
                    / f64::from(ANALYSIS_RATE_HZ)
            })
            .collect(),
        probs: trajectory_logits.iter().map(|l| softmax(l)).collect(),
    };
    Ok(SignalAnalysis {
        duration_s,
        padded_from_s,
        probs,
        trajectory,
        enhanced,
        frame_hop_s: session.card().frame_hop_s,
        experts,
        ser_usage: usage(&ser_gate, experts),
        se_usage: usage(&se_gate, experts),
        ser_gate,
        se_gate,
        classes,
        provider: session.provider(),
        inference_s: started.elapsed().as_secs_f64(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softmax_and_usage() {
        let p = softmax(&[0.0, 0.0, (3.0_f32).ln()]);
        assert!((p[2] - 0.6).abs() < 1e-6);
        let gate = [0.7, 0.2, 0.1, 0.1, 0.8, 0.1, 0.2, 0.7, 0.1, 0.1, 0.1, 0.8];
        assert_eq!(usage(&gate, 3), vec![0.25, 0.5, 0.25]);
    }

    #[test]
    fn lengths_round_up_to_frames() {
        assert_eq!(samples_of(30.0, FRAME_HOP_SAMPLES), 480_000);
        assert_eq!(samples_of(0.01, FRAME_HOP_SAMPLES), 320);
    }
}
