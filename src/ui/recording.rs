//! The recording open in the view: its decoded signal and waveform pyramid, spectrogram images and
//! analysis, each produced by a background job so the window never waits.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::audio::pitch::{ProsodyTrack, prosody_track};
use crate::audio::pyramid::WaveformPyramid;
use crate::audio::spectrogram::{FrequencyScale, SpectrogramParams, spectrogram};
use crate::audio::{ANALYSIS_RATE_HZ, AudioError, DecodeOptions, decode_file};
use crate::jobs::{Job, Notify};
use crate::model::analysis::{PartialAnalysis, SignalAnalysis};

use super::engine::EngineError;
use super::problems::FileProblem;
use super::timeline::Timeline;

/// One opening of a recording in the view. Each [`RecordingState::open`] gets a new id, so images
/// cached under it never show another recording (or an earlier opening of the same one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RecordingId(u64);

impl RecordingId {
    fn next() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        Self(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

/// What a pane image is drawn from: a recording and the analysis generation of its data (0 for
/// data decoded from the file itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DataVersion {
    pub recording: RecordingId,
    pub generation: u64,
}

/// A signal and its min/max pyramid, drawn as a waveform.
pub struct Signal {
    pub samples: Arc<[f32]>,
    pub pyramid: WaveformPyramid,
}

impl Signal {
    fn new(samples: Arc<[f32]>) -> Self {
        let pyramid = WaveformPyramid::new(samples.clone(), ANALYSIS_RATE_HZ);
        Self { samples, pyramid }
    }
}

/// A mel spectrogram scaled to bytes (0 = floor, 255 = loudest), frame by frame, with coarser
/// levels (each the maximum over 4 frames of the one below) so a zoomed-out view reads a few
/// values per pixel column, not thousands.
pub struct SpectrogramImage {
    pub bands: usize,
    pub hop_s: f64,
    /// Level 0 is the spectrogram itself; level k holds `4^k` frames per bin.
    levels: Vec<Vec<u8>>,
}

const SPECTROGRAM_BANDS: usize = 80;
const SPECTROGRAM_RANGE_DB: f32 = 80.0;
const LEVEL_FACTOR: usize = 4;

impl SpectrogramImage {
    #[must_use]
    pub fn of(samples: &[f32]) -> Self {
        let params = SpectrogramParams {
            scale: FrequencyScale::Mel {
                bands: SPECTROGRAM_BANDS,
                min_hz: 50.0,
                max_hz: 8_000.0,
            },
            ..SpectrogramParams::default()
        };
        let spectrogram = spectrogram(samples, ANALYSIS_RATE_HZ, &params);
        let loudest = spectrogram
            .values_db
            .iter()
            .copied()
            .fold(f32::NEG_INFINITY, f32::max);
        let floor = loudest - SPECTROGRAM_RANGE_DB;
        let bands = spectrogram.rows.max(1);
        let mut levels = vec![
            spectrogram
                .values_db
                .iter()
                .map(|&db| ((db - floor) / SPECTROGRAM_RANGE_DB * 255.0).clamp(0.0, 255.0) as u8)
                .collect::<Vec<u8>>(),
        ];
        while let Some(below) = levels.last()
            && below.len() / bands > 1
        {
            let coarser: Vec<u8> = below
                .chunks(bands * LEVEL_FACTOR)
                .flat_map(|group| {
                    (0..bands).map(move |band| {
                        group
                            .chunks(bands)
                            .map(|frame| frame[band])
                            .max()
                            .unwrap_or(0)
                    })
                })
                .collect();
            levels.push(coarser);
        }
        Self {
            bands,
            hop_s: params.hop_len as f64 / f64::from(ANALYSIS_RATE_HZ),
            levels,
        }
    }

    /// Frames of the full-resolution spectrogram.
    #[must_use]
    pub fn frames(&self) -> usize {
        self.levels
            .first()
            .map_or(0, |level| level.len() / self.bands)
    }

    /// The loudest value of `band` over frames `first..last`, read from the coarsest level whose
    /// bins still fit in that span (so the cost does not grow with the span).
    #[must_use]
    pub fn max_over(&self, first: usize, last: usize, band: usize) -> u8 {
        let span = last.saturating_sub(first).max(1);
        let mut level = 0;
        let mut per_bin = 1;
        while level + 1 < self.levels.len() && per_bin * LEVEL_FACTOR <= span {
            level += 1;
            per_bin *= LEVEL_FACTOR;
        }
        let values = &self.levels[level];
        let bins = values.len() / self.bands;
        (first / per_bin..last.div_ceil(per_bin).min(bins))
            .map(|bin| values[bin * self.bands + band])
            .max()
            .unwrap_or(0)
    }
}

/// Sparse MERIT's outputs for the open recording, with the enhanced signal ready to draw and play.
pub struct RecordingAnalysis {
    pub result: SignalAnalysis,
    pub enhanced: Signal,
    /// The blake3 hash of the model that made it (what accepting its prediction records).
    pub model_hash: Option<String>,
}

impl RecordingAnalysis {
    #[must_use]
    pub fn new(mut result: SignalAnalysis, model_hash: Option<String>) -> Self {
        let enhanced = Signal::new(std::mem::take(&mut result.enhanced).into());
        Self {
            result,
            enhanced,
            model_hash,
        }
    }
}

/// What [`RecordingState::poll`] found finished.
#[derive(Debug, Clone, Copy, Default)]
pub struct Arrivals {
    pub decoded: bool,
    pub rnnoise: bool,
}

/// Moves finished per-signal jobs' results (with their analysis generation) into `results`.
fn take_finished<T: Send + 'static>(
    jobs: &mut [Option<(u64, Job<T>)>; 2],
    results: &mut [Option<(u64, Arc<T>)>; 2],
) {
    for (job, result) in jobs.iter_mut().zip(results.iter_mut()) {
        if let Some((generation, running)) = job.as_mut()
            && let Some(finished) = running.try_take()
        {
            let generation = *generation;
            *job = None;
            if let Ok(value) = finished {
                *result = Some((generation, Arc::new(value)));
            }
        }
    }
}

pub struct RecordingState {
    pub id: RecordingId,
    pub index: usize,
    pub path: PathBuf,
    pub timeline: Timeline,
    pub original: Option<Signal>,
    pub error: Option<FileProblem>,
    pub analysis: Option<RecordingAnalysis>,
    /// A long analysis's results so far, shown until the first complete one arrives.
    pub partial: Option<PartialAnalysis>,
    /// Counts the analyses (partial ones too) this opening has received (a new model gives a new one).
    pub analysis_generation: u64,
    /// Why the last analysis of this recording failed.
    pub analysis_error: Option<Arc<EngineError>>,
    /// Original and enhanced spectrograms as they arrive, with the analysis generation each was
    /// made from.
    pub spectrograms: [Option<(u64, Arc<SpectrogramImage>)>; 2],
    pub show_enhanced_spectrogram: bool,
    /// F0 and intensity of the original and the enhanced signal, as they arrive (with the
    /// analysis generation each was computed from).
    pub prosody: [Option<(u64, Arc<ProsodyTrack>)>; 2],
    /// RNNoise's enhancement of the original (the classic baseline, for a third playback source).
    pub rnnoise: Option<Arc<[f32]>>,
    rnnoise_job: Option<Job<Option<Arc<[f32]>>>>,
    /// A dragged time range (for looping and zooming).
    pub selection: Option<(f64, f64)>,
    load: Option<Job<Result<Signal, AudioError>>>,
    spectrogram_jobs: [Option<(u64, Job<SpectrogramImage>)>; 2],
    prosody_jobs: [Option<(u64, Job<ProsodyTrack>)>; 2],
    notify: Option<Notify>,
}

impl RecordingState {
    /// Starts decoding `path` in the background.
    #[must_use]
    pub fn open(index: usize, path: PathBuf, notify: Option<Notify>) -> Self {
        let job_path = path.clone();
        let load = Job::spawn("decode", notify.clone(), move |context| {
            decode_file(
                &job_path,
                DecodeOptions {
                    keep_original: false,
                    cancel: Some(context.cancel_flag()),
                },
            )
            .map(|decoded| Signal::new(decoded.analysis.into()))
        });
        let mut state = Self {
            id: RecordingId::next(),
            index,
            path,
            timeline: Timeline::new(1.0),
            original: None,
            error: None,
            analysis: None,
            partial: None,
            analysis_generation: 0,
            analysis_error: None,
            spectrograms: [None, None],
            show_enhanced_spectrogram: false,
            prosody: [None, None],
            rnnoise: None,
            rnnoise_job: None,
            selection: None,
            load: None,
            spectrogram_jobs: [None, None],
            prosody_jobs: [None, None],
            notify,
        };
        match load {
            Ok(job) => state.load = Some(job),
            Err(error) => state.error = Some(error.into()),
        }
        state
    }

    /// Starts what is computed from a signal (slot 0 original, 1 enhanced): its spectrogram and
    /// its prosody contours.
    fn start_derived(&mut self, slot: usize, samples: Arc<[f32]>) {
        let for_prosody = samples.clone();
        if let Ok(job) = Job::spawn("spectrogram", self.notify.clone(), move |_| {
            SpectrogramImage::of(&samples)
        }) {
            self.spectrogram_jobs[slot] = Some((self.analysis_generation, job));
        }
        let threads = std::thread::available_parallelism().map_or(1, usize::from);
        if let Ok(job) = Job::spawn("prosody", self.notify.clone(), move |_| {
            prosody_track(&for_prosody, threads)
        }) {
            self.prosody_jobs[slot] = Some((self.analysis_generation, job));
        }
    }

    /// Zooms by `factor` around the playhead, or around the middle when the playhead is out of view.
    pub fn zoom_at_playhead(&mut self, factor: f64, playhead_s: f64) {
        let timeline = &mut self.timeline;
        let anchor = if (timeline.start_s..=timeline.end_s()).contains(&playhead_s) {
            playhead_s
        } else {
            timeline.start_s + timeline.span_s / 2.0
        };
        timeline.zoom(factor, anchor);
    }

    /// What the pane images of analysis generation `generation` are drawn from.
    #[must_use]
    pub fn version(&self, generation: u64) -> DataVersion {
        DataVersion {
            recording: self.id,
            generation,
        }
    }

    /// Takes finished work; says whether the decoded signal and the RNNoise track just arrived.
    pub fn poll(&mut self) -> Arrivals {
        let mut arrived = false;
        let mut rnnoise = false;
        if let Some(job) = self.rnnoise_job.as_mut()
            && let Some(result) = job.try_take()
        {
            self.rnnoise_job = None;
            self.rnnoise = result.ok().flatten();
            rnnoise = self.rnnoise.is_some();
        }
        if let Some(job) = self.load.as_mut()
            && let Some(result) = job.try_take()
        {
            self.load = None;
            match result {
                Ok(Ok(signal)) => {
                    self.timeline =
                        Timeline::new(signal.samples.len() as f64 / f64::from(ANALYSIS_RATE_HZ));
                    self.start_derived(0, signal.samples.clone());
                    let samples = signal.samples.clone();
                    self.rnnoise_job = Job::spawn("rnnoise", self.notify.clone(), move |_| {
                        crate::audio::rnnoise::denoise_16k(&samples)
                            .ok()
                            .map(Into::into)
                    })
                    .ok();
                    self.original = Some(signal);
                    arrived = true;
                }
                Ok(Err(error)) => self.error = Some(error.into()),
                Err(panicked) => self.error = Some(panicked.into()),
            }
        }
        take_finished(&mut self.spectrogram_jobs, &mut self.spectrograms);
        take_finished(&mut self.prosody_jobs, &mut self.prosody);
        Arrivals {
            decoded: arrived,
            rnnoise,
        }
    }

    /// Takes a finished analysis of this recording.
    pub fn set_analysis(&mut self, result: SignalAnalysis, model_hash: Option<String>) {
        let analysis = RecordingAnalysis::new(result, model_hash);
        self.analysis_generation += 1;
        self.start_derived(1, analysis.enhanced.samples.clone());
        self.analysis = Some(analysis);
        self.partial = None;
        self.analysis_error = None;
    }

    /// The analysis the panes draw: the complete one, else the results so far with the fraction
    /// done.
    #[must_use]
    pub fn shown_analysis(&self) -> Option<(&SignalAnalysis, Option<f64>)> {
        match (&self.analysis, &self.partial) {
            (Some(analysis), _) => Some((&analysis.result, None)),
            (None, Some(partial)) => Some((&partial.so_far, Some(partial.done_fraction))),
            (None, None) => None,
        }
    }

    /// Takes an analysis's results so far, unless a complete analysis is already shown (a
    /// re-analysis keeps showing the last complete one until its own is complete).
    pub fn set_partial(&mut self, partial: PartialAnalysis) {
        if self.analysis.is_none() {
            self.analysis_generation += 1;
            self.partial = Some(partial);
        }
    }

    #[must_use]
    pub fn is_busy(&self) -> bool {
        self.load.is_some()
            || self.rnnoise_job.is_some()
            || self.spectrogram_jobs.iter().any(Option::is_some)
            || self.prosody_jobs.iter().any(Option::is_some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coarse_levels_keep_the_loudest_value() {
        let samples = crate::audio::test_signal::speech_like(20.0, ANALYSIS_RATE_HZ);
        let image = SpectrogramImage::of(&samples);
        assert_eq!(image.frames(), 2_000);
        for (first, last) in [(0, 1), (10, 17), (0, 2_000), (333, 1_555)] {
            for band in [0, 40, 79] {
                let direct = (first..last)
                    .map(|f| image.levels[0][f * image.bands + band])
                    .max()
                    .unwrap();
                // A coarse bin may reach a little past the span, never miss a peak inside it.
                assert!(image.max_over(first, last, band) >= direct);
            }
        }
        assert_eq!(
            image.max_over(5, 6, 3),
            image.levels[0][5 * image.bands + 3]
        );
    }
}
