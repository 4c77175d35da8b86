//! Analysing one recording of any length with Sparse MERIT: enhanced audio of exactly the input's
//! length, router probabilities on one frame grid, the utterance-level prediction and an emotion
//! trajectory over sliding windows (from the same pass when the model supports it).

use std::ops::Range;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use ndarray::Array2;
use serde::{Deserialize, Serialize};

use super::chunk_pass::{ChunkOutputs, Pieces, next_chunks, run_pieces, softmax};
use super::chunks::{plan_chunks, window_starts};
use super::contract::MIN_SAMPLES;
use super::reference::{ReferenceNote, SpeakerReference};
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
            // Measured: 20 s chunks (two per model run) analyse 1.2x faster than 30 s on 2 CPU
            // cores; attention grows with the square of the chunk, overlap with its count.
            chunk_s: 20.0,
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

/// Whether a router frame holds probabilities (a partial analysis leaves frames not yet run NaN).
fn analysed<'a>(row: impl IntoIterator<Item = &'a f32>) -> bool {
    !row.into_iter().any(|p| p.is_nan())
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
        let mut frames = 0_usize;
        for row in probs.rows() {
            if analysed(row) {
                counts[argmax(row)] += 1;
                frames += 1;
            }
        }
        let frames = frames.max(1);
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

    /// Whether `frame` has been analysed (a partial analysis leaves the others NaN).
    #[must_use]
    pub fn is_analysed(&self, frame: usize) -> bool {
        analysed(self.probs.row(frame))
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
    /// A speaker-relative model's pooled emotion statistics of the recording (what the references
    /// of the speaker's other recordings are made of); they do not depend on the reference used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub statistics: Option<Vec<f32>>,
    /// The speaker reference the labels were classified against; none: the model's population
    /// reference (or a model that is not speaker-relative).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<ReferenceNote>,
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

fn samples_of(seconds: f64, multiple: usize) -> usize {
    let samples = (seconds * f64::from(ANALYSIS_RATE_HZ)).round().max(1.0) as usize;
    samples.div_ceil(multiple) * multiple
}

/// The analysis of a long recording while it runs: the chunks done so far (see
/// [`RouterTrace::is_analysed`]); its trajectory has only the windows analysed and its enhanced
/// audio is empty until the end.
#[derive(Debug, Clone)]
pub struct PartialAnalysis {
    pub so_far: SignalAnalysis,
    /// Fraction of the recording's chunks analysed.
    pub done_fraction: f64,
}

/// How a caller steers one analysis: cancel it, say which part to analyse first, and receive the
/// analysis so far while it runs (the window's way to show a long recording's visible part, or a
/// slow model's utterance label, before the rest is done).
#[derive(Default)]
pub struct Steering<'a> {
    pub cancel: Option<&'a AtomicBool>,
    /// The span (seconds) to analyse first; asked before every model run, so it follows the view.
    pub focus: Option<&'a dyn Fn() -> Option<Range<f64>>>,
    /// Receives the analysis so far while work remains...
    pub partial: Option<&'a mut dyn FnMut(PartialAnalysis)>,
    /// ...at most this often (zero: after every model run). The window waits half a second, so a
    /// fast model pays nothing for it and a slow one shows its progress.
    pub partial_every: Duration,
}

impl<'a> Steering<'a> {
    /// Only a cancel flag.
    #[must_use]
    pub fn cancel(cancel: Option<&'a AtomicBool>) -> Self {
        Self {
            cancel,
            ..Self::default()
        }
    }
}

/// Analyses a 16 kHz mono signal; a speaker-relative model classifies it against `reference`
/// (other models ignore it).
///
/// The trajectory comes from the chunk pass itself when the model has the one-pass trajectory
/// output for `params.window_s` (chunks then overlap by at least a window, so every window lies
/// whole in one chunk); otherwise from a second pass over sliding windows. Chunks run nearest the
/// steering's focus first.
///
/// # Errors
/// [`ModelError`] from inference, or [`ModelError::Cancelled`] when the steering's flag is set.
pub fn analyze_signal(
    session: &mut MeritSession,
    signal: &[f32],
    reference: Option<&SpeakerReference>,
    params: &AnalysisParams,
    mut steering: Steering<'_>,
) -> Result<SignalAnalysis, ModelError> {
    let reference = reference.filter(|_| session.statistics_size().is_some());
    let started = Instant::now();
    let cancel = steering.cancel;
    let duration_s = signal.len() as f64 / f64::from(ANALYSIS_RATE_HZ);
    let classes = session.card().classes.clone();
    let provider = session.provider();
    let shape = (session.card().n_experts, classes.len());
    let hop_samples = session.frame_hop_samples();
    // Pad to the model's minimum, then to whole router frames so chunks align with the frame grid.
    let padded_from_s = (signal.len() < MIN_SAMPLES).then_some(duration_s);
    let total = signal.len().max(MIN_SAMPLES).div_ceil(hop_samples) * hop_samples;

    let window_len = samples_of(params.window_s, 1).max(MIN_SAMPLES);
    let one_pass = session
        .trajectory_window_s()
        .is_some_and(|w| (w - params.window_s).abs() < 1e-6);
    let chunk_len = samples_of(session.chunk_seconds(params.chunk_s), hop_samples).max(MIN_SAMPLES);
    let mut overlap = samples_of(params.overlap_s, hop_samples);
    if one_pass {
        overlap = overlap.max(samples_of(params.window_s, hop_samples));
    }
    let chunks = plan_chunks(total, chunk_len, overlap.min(chunk_len / 2));
    let len = chunks[0].range.len();
    // As much audio per run for chunks as for trajectory windows: memory stays bounded by the batch,
    // not by the chunk length (and by the model: MeritSession::chunks_per_run_limit).
    let chunk_batch = (params.batch * window_len / len.max(1))
        .clamp(1, session.chunks_per_run_limit().unwrap_or(usize::MAX));
    let window = window_len.min(total);
    let window_starts = window_starts(total, window, samples_of(params.hop_s, 1));
    let single_window = window_starts.len() == 1 && window == len;
    // Without the one-pass output, trajectory windows run after the chunks, each on its own.
    let window_pass = !(one_pass || single_window);
    let hop_s = hop_samples as f64 / f64::from(ANALYSIS_RATE_HZ);
    let to_samples = |seconds: f64| (seconds.max(0.0) * f64::from(ANALYSIS_RATE_HZ)) as usize;
    let window_centre_s = |start: usize| {
        (start as f64 + window as f64 / 2.0).min(signal.len() as f64) / f64::from(ANALYSIS_RATE_HZ)
    };
    // What the chunks done so far say (the enhanced audio only at the end); the same code makes
    // the partial and the final analysis.
    let so_far = |outputs: &ChunkOutputs<'_>, trajectory: Trajectory| {
        let (ser, se) = outputs.routers(hop_s)?;
        Ok::<_, ModelError>(SignalAnalysis {
            duration_s,
            padded_from_s,
            classes: classes.clone(),
            probs: outputs.utterance_probs(),
            trajectory,
            enhanced: Vec::new(),
            ser,
            se,
            provider,
            inference_s: started.elapsed().as_secs_f64(),
            statistics: outputs.recording_statistics(),
            reference: reference.map(SpeakerReference::note),
        })
    };
    // The trajectory windows the chunk pass has given so far.
    let trajectory_so_far = |outputs: &ChunkOutputs<'_>| {
        let mut trajectory = Trajectory {
            times_s: Vec::new(),
            probs: Vec::new(),
        };
        for &start in &window_starts {
            let row = if single_window {
                outputs.logits(0).map(<[f32]>::to_vec)
            } else if one_pass {
                outputs.trajectory_row(start, window)
            } else {
                None
            };
            if let Some(logits) = row {
                trajectory.times_s.push(window_centre_s(start));
                trajectory.probs.push(softmax(&logits));
            }
        }
        trajectory
    };

    let mut outputs = ChunkOutputs::new(&chunks, total, hop_samples, shape);
    let mut last_report = started;
    loop {
        let focus = steering
            .focus
            .and_then(|focus| focus())
            .map(|span| to_samples(span.start)..to_samples(span.end));
        let batch = next_chunks(&chunks, &outputs.done(), focus.as_ref(), chunk_batch);
        if batch.is_empty() {
            break;
        }
        let starts: Vec<usize> = batch.iter().map(|&i| chunks[i].range.start).collect();
        let pieces = Pieces {
            signal,
            starts: &starts,
            len,
            batch: batch.len(),
            reference: reference.map(|r| r.values.as_slice()),
        };
        run_pieces(session, &pieces, cancel, |k, piece| {
            outputs.add(batch[k], piece);
        })?;
        let work_remains = outputs.done_fraction() < 1.0 || window_pass;
        if let Some(report) = steering.partial.as_mut()
            && work_remains
            && last_report.elapsed() >= steering.partial_every
        {
            report(PartialAnalysis {
                so_far: so_far(&outputs, trajectory_so_far(&outputs))?,
                done_fraction: outputs.done_fraction(),
            });
            last_report = Instant::now();
        }
    }
    let trajectory = if window_pass {
        let mut probs = Vec::with_capacity(window_starts.len());
        let pieces = Pieces {
            signal,
            starts: &window_starts,
            len: window,
            batch: params.batch,
            reference: reference.map(|r| r.values.as_slice()),
        };
        run_pieces(session, &pieces, cancel, |_, piece| {
            probs.push(softmax(&piece.logits));
        })?;
        Trajectory {
            times_s: window_starts.iter().map(|&s| window_centre_s(s)).collect(),
            probs,
        }
    } else {
        trajectory_so_far(&outputs)
    };
    let mut analysis = so_far(&outputs, trajectory)?;
    analysis.enhanced = outputs.into_enhanced();
    analysis.enhanced.truncate(signal.len());
    Ok(analysis)
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
