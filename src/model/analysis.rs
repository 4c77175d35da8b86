//! Analysing one recording of any length with Sparse MERIT: enhanced audio of exactly the input's
//! length, router probabilities on one frame grid, the utterance-level prediction and an emotion
//! trajectory over sliding windows (from the same pass when the model supports it).

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use ndarray::Array2;
use serde::{Deserialize, Serialize};

use super::chunks::{OverlapAdd, chunk_for_window, plan_chunks, stitch_frames, window_starts};
use super::contract::MIN_SAMPLES;
use super::session::{MeritSession, ModelError, Provider};
use crate::audio::ANALYSIS_RATE_HZ;

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

/// One router's decisions over a recording: probabilities per frame and expert, how often each
/// expert was chosen, and the time between frames (measured from the model when it was loaded).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RouterTrace {
    /// `[frames × experts]`, router probabilities before top-k. Not serialised: it goes to `.npy`
    /// files or the cache's binary part.
    #[serde(skip)]
    pub probs: Array2<f32>,
    /// Fraction of frames whose top expert is each expert.
    pub usage: Vec<f64>,
    pub hop_s: f64,
}

/// The index of the largest value (the first of equals; 0 for none).
fn argmax<'a>(values: impl IntoIterator<Item = &'a f32>) -> usize {
    values
        .into_iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map_or(0, |(index, _)| index)
}

impl RouterTrace {
    /// A trace of `probs` (`[frames × experts]`) with frames `hop_s` apart; usage is counted here.
    #[must_use]
    pub fn new(probs: Array2<f32>, hop_s: f64) -> Self {
        let mut counts = vec![0_usize; probs.ncols()];
        for row in probs.rows() {
            counts[argmax(row)] += 1;
        }
        let frames = probs.nrows().max(1);
        Self {
            usage: counts
                .into_iter()
                .map(|c| c as f64 / frames as f64)
                .collect(),
            probs,
            hop_s,
        }
    }

    #[must_use]
    pub fn frames(&self) -> usize {
        self.probs.nrows()
    }

    #[must_use]
    pub fn experts(&self) -> usize {
        self.probs.ncols()
    }

    /// The frame that covers time `t_s`, if the trace reaches it.
    #[must_use]
    pub fn frame_at(&self, t_s: f64) -> Option<usize> {
        let frame = (t_s / self.hop_s).floor();
        (frame >= 0.0 && (frame as usize) < self.frames()).then_some(frame as usize)
    }

    /// The expert with the highest probability at `frame` (the one top-1 routing chose).
    #[must_use]
    pub fn chosen(&self, frame: usize) -> usize {
        argmax(self.probs.row(frame))
    }
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
    /// The emotion (SER) and enhancement (SE) routers.
    pub ser: RouterTrace,
    pub se: RouterTrace,
    pub provider: Provider,
    pub inference_s: f64,
}

/// A [`SignalAnalysis`] whose parts disagree in size (read from a damaged or foreign file).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("inconsistent analysis: {0}")]
pub struct ShapeMismatch(String);

impl SignalAnalysis {
    /// Checks that the parts agree in size, so that code drawing them can index freely: one
    /// probability per class (utterance and every trajectory row), one time per trajectory row,
    /// one usage figure per expert and a positive frame hop for each router.
    pub fn check_shapes(&self) -> Result<(), ShapeMismatch> {
        let classes = self.classes.len();
        let mismatch = |what: String| Err(ShapeMismatch(what));
        if self.probs.len() != classes {
            return mismatch(format!(
                "{} probabilities for {classes} classes",
                self.probs.len()
            ));
        }
        let trajectory = &self.trajectory;
        if trajectory.times_s.len() != trajectory.probs.len() {
            return mismatch(format!(
                "{} trajectory times for {} rows",
                trajectory.times_s.len(),
                trajectory.probs.len()
            ));
        }
        if let Some(row) = trajectory.probs.iter().find(|row| row.len() != classes) {
            return mismatch(format!(
                "a trajectory row of {} for {classes} classes",
                row.len()
            ));
        }
        for (name, router) in [("SER", &self.ser), ("SE", &self.se)] {
            if router.usage.len() != router.experts() {
                return mismatch(format!(
                    "{name} router: usage of {} experts, probabilities of {}",
                    router.usage.len(),
                    router.experts()
                ));
            }
            if !(router.hop_s.is_finite() && router.hop_s > 0.0) {
                return mismatch(format!("{name} router: frame hop {} s", router.hop_s));
            }
        }
        Ok(())
    }

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
}

fn softmax(logits: &[f32]) -> Vec<f32> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exps: Vec<f32> = logits.iter().map(|l| (l - max).exp()).collect();
    let sum: f32 = exps.iter().sum();
    exps.into_iter().map(|e| e / sum).collect()
}

fn samples_of(seconds: f64, multiple: usize) -> usize {
    let samples = (seconds * f64::from(ANALYSIS_RATE_HZ)).round().max(1.0) as usize;
    samples.div_ceil(multiple) * multiple
}

fn cancelled(cancel: Option<&AtomicBool>) -> Result<(), ModelError> {
    if cancel.is_some_and(|c| c.load(Ordering::Relaxed)) {
        Err(ModelError::Cancelled)
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
/// [`ModelError`] from inference, or [`ModelError::Cancelled`] when `cancel` is set.
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
    let hop_samples = session.frame_hop_samples();
    // Pad to the model's minimum, then to whole router frames so chunks align with the frame grid.
    let padded_from_s = (signal.len() < MIN_SAMPLES).then_some(duration_s);
    let total = signal.len().max(MIN_SAMPLES).div_ceil(hop_samples) * hop_samples;

    let window_len = samples_of(params.window_s, 1).max(MIN_SAMPLES);
    let one_pass = session
        .trajectory_window_s()
        .is_some_and(|w| (w - params.window_s).abs() < 1e-6);
    let chunk_len = samples_of(params.chunk_s, hop_samples).max(MIN_SAMPLES);
    let mut overlap = samples_of(params.overlap_s, hop_samples);
    if one_pass {
        overlap = overlap.max(samples_of(params.window_s, hop_samples));
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
    let total_frames = chunks.last().map_or(0, |c| c.range.start / hop_samples)
        + ser_parts.last().map_or(0, |p| p.len() / experts.max(1));
    let hop_s = hop_samples as f64 / f64::from(ANALYSIS_RATE_HZ);
    let trace = |parts: &[Vec<f32>]| {
        let joined = stitch_frames(&chunks, parts, experts, hop_samples, total_frames);
        Array2::from_shape_vec((total_frames, experts), joined)
            .map(|probs| RouterTrace::new(probs, hop_s))
            .map_err(|e| ModelError::Inference(format!("router frames do not join: {e}")))
    };
    let (ser, se) = (trace(&ser_parts)?, trace(&se_parts)?);
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
                let frame = ((start - chunks[index].range.start) / hop_samples)
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
        ser,
        se,
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
        let trace = RouterTrace::new(Array2::from_shape_vec((4, 3), gate.to_vec()).unwrap(), 0.02);
        assert_eq!(trace.usage, vec![0.25, 0.5, 0.25]);
        assert_eq!(
            (trace.chosen(1), trace.frame_at(0.07), trace.frame_at(0.08)),
            (1, Some(3), None)
        );
    }

    #[test]
    fn lengths_round_up_to_frames() {
        assert_eq!(samples_of(30.0, 320), 480_000);
        assert_eq!(samples_of(0.01, 320), 320);
    }
}
