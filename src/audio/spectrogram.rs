//! Short-time Fourier transform magnitudes in decibels, on a linear or mel frequency axis.

use std::ops::Range;

use realfft::RealFftPlanner;

/// Frequency axis of a spectrogram.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FrequencyScale {
    /// One row per FFT bin, 0 Hz to Nyquist.
    Linear,
    /// Triangular mel filters (HTK formula) between `min_hz` and `max_hz`.
    Mel {
        bands: usize,
        min_hz: f32,
        max_hz: f32,
    },
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SpectrogramParams {
    pub fft_len: usize,
    pub hop_len: usize,
    pub scale: FrequencyScale,
    /// Values are clamped below at this many dB (relative to full scale).
    pub floor_db: f32,
}

impl Default for SpectrogramParams {
    /// Praat's wide-band look at 16 kHz: 25 ms Hann windows every 10 ms.
    fn default() -> Self {
        Self {
            fft_len: 400,
            hop_len: 160,
            scale: FrequencyScale::Linear,
            floor_db: -100.0,
        }
    }
}

/// Frame-major dB values: `values_db[frame * rows + row]`, row 0 the lowest frequency.
#[derive(Debug, Clone, PartialEq)]
pub struct Spectrogram {
    pub first_frame: usize,
    pub frames: usize,
    pub rows: usize,
    /// Centre frequency of each row.
    pub row_hz: Vec<f32>,
    pub sample_rate_hz: u32,
    pub hop_len: usize,
    pub fft_len: usize,
    pub values_db: Vec<f32>,
}

impl Spectrogram {
    /// Time of a frame's window centre.
    #[must_use]
    pub fn frame_time_secs(&self, frame: usize) -> f64 {
        (frame * self.hop_len) as f64 / f64::from(self.sample_rate_hz)
    }

    #[must_use]
    pub fn value_db(&self, frame: usize, row: usize) -> f32 {
        self.values_db[(frame - self.first_frame) * self.rows + row]
    }
}

/// Number of frames a signal of `len` samples has (one per hop, centred windows).
#[must_use]
pub fn frame_count(len: usize, hop_len: usize) -> usize {
    if len == 0 { 0 } else { len.div_ceil(hop_len) }
}

/// The spectrogram of a whole signal.
#[must_use]
pub fn spectrogram(
    samples: &[f32],
    sample_rate_hz: u32,
    params: &SpectrogramParams,
) -> Spectrogram {
    spectrogram_frames(
        samples,
        sample_rate_hz,
        params,
        0..frame_count(samples.len(), params.hop_len),
    )
}

/// The spectrogram of a range of frames (so long files can be computed tile by tile).
/// Frame `f` is centred on sample `f * hop_len`; the signal is zero beyond its ends.
#[must_use]
pub fn spectrogram_frames(
    samples: &[f32],
    sample_rate_hz: u32,
    params: &SpectrogramParams,
    frames: Range<usize>,
) -> Spectrogram {
    let fft_len = params.fft_len.max(2);
    let bins = fft_len / 2 + 1;
    let window = hann(fft_len);
    let fft = RealFftPlanner::<f32>::new().plan_fft_forward(fft_len);
    let mut input = fft.make_input_vec();
    let mut spectrum = fft.make_output_vec();
    let mut scratch = fft.make_scratch_vec();
    let filters = match params.scale {
        FrequencyScale::Linear => None,
        FrequencyScale::Mel {
            bands,
            min_hz,
            max_hz,
        } => Some(mel_filters(bands, min_hz, max_hz, fft_len, sample_rate_hz)),
    };
    let row_hz = match &filters {
        None => (0..bins)
            .map(|bin| bin as f32 * sample_rate_hz as f32 / fft_len as f32)
            .collect(),
        Some(filters) => filters.iter().map(|f| f.centre_hz).collect(),
    };
    let rows = filters.as_ref().map_or(bins, Vec::len);
    // Power normalised so a full-scale sine reads about 0 dB.
    let window_sum: f32 = window.iter().sum();
    let power_scale = 4.0 / (window_sum * window_sum);
    let mut power = vec![0.0_f32; bins];
    let mut values_db = Vec::with_capacity(frames.len() * rows);
    let half = fft_len / 2;
    for frame in frames.clone() {
        let centre = frame * params.hop_len;
        for (i, (slot, w)) in input.iter_mut().zip(&window).enumerate() {
            let index = (centre + i).checked_sub(half);
            *slot = index.and_then(|k| samples.get(k)).map_or(0.0, |&s| s * w);
        }
        // Lengths always match what the planner made, so this cannot fail.
        if fft
            .process_with_scratch(&mut input, &mut spectrum, &mut scratch)
            .is_err()
        {
            spectrum
                .iter_mut()
                .for_each(|c| *c = realfft::num_complex::Complex::default());
        }
        for (p, c) in power.iter_mut().zip(&spectrum) {
            *p = c.norm_sqr() * power_scale;
        }
        let to_db = |p: f32| (10.0 * p.max(1e-20).log10()).max(params.floor_db);
        match &filters {
            None => values_db.extend(power.iter().map(|&p| to_db(p))),
            Some(filters) => values_db.extend(filters.iter().map(|f| to_db(f.apply(&power)))),
        }
    }
    Spectrogram {
        first_frame: frames.start,
        frames: frames.len(),
        rows,
        row_hz,
        sample_rate_hz,
        hop_len: params.hop_len,
        fft_len,
        values_db,
    }
}

fn hann(len: usize) -> Vec<f32> {
    (0..len)
        .map(|i| 0.5 - 0.5 * (2.0 * std::f32::consts::PI * i as f32 / len as f32).cos())
        .collect()
}

fn hz_to_mel(hz: f32) -> f32 {
    2595.0 * (1.0 + hz / 700.0).log10()
}

fn mel_to_hz(mel: f32) -> f32 {
    700.0 * (10.0_f32.powf(mel / 2595.0) - 1.0)
}

struct MelFilter {
    centre_hz: f32,
    first_bin: usize,
    weights: Vec<f32>,
}

impl MelFilter {
    fn apply(&self, power: &[f32]) -> f32 {
        self.weights
            .iter()
            .zip(&power[self.first_bin..])
            .map(|(w, p)| w * p)
            .sum()
    }
}

fn mel_filters(
    bands: usize,
    min_hz: f32,
    max_hz: f32,
    fft_len: usize,
    sample_rate_hz: u32,
) -> Vec<MelFilter> {
    let nyquist = sample_rate_hz as f32 / 2.0;
    let (min_mel, max_mel) = (hz_to_mel(min_hz.max(0.0)), hz_to_mel(max_hz.min(nyquist)));
    let edges: Vec<f32> = (0..bands + 2)
        .map(|i| mel_to_hz(min_mel + (max_mel - min_mel) * i as f32 / (bands + 1) as f32))
        .collect();
    let bin_hz = sample_rate_hz as f32 / fft_len as f32;
    let bins = fft_len / 2 + 1;
    edges
        .windows(3)
        .map(|edge| {
            let (low, centre, high) = (edge[0], edge[1], edge[2]);
            let weight = |bin: usize| {
                let hz = bin as f32 * bin_hz;
                if hz <= low || hz >= high {
                    0.0
                } else if hz <= centre {
                    (hz - low) / (centre - low)
                } else {
                    (high - hz) / (high - centre)
                }
            };
            let first_bin = (0..bins).find(|&b| weight(b) > 0.0).unwrap_or(0);
            let last_bin = (0..bins)
                .rev()
                .find(|&b| weight(b) > 0.0)
                .unwrap_or(first_bin);
            MelFilter {
                centre_hz: centre,
                first_bin,
                weights: (first_bin..=last_bin).map(weight).collect(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(freq_hz: f32, rate_hz: u32, len: usize) -> Vec<f32> {
        (0..len)
            .map(|i| (2.0 * std::f32::consts::PI * freq_hz * i as f32 / rate_hz as f32).sin())
            .collect()
    }

    fn loudest_row(spec: &Spectrogram, frame: usize) -> usize {
        (0..spec.rows)
            .max_by(|&a, &b| spec.value_db(frame, a).total_cmp(&spec.value_db(frame, b)))
            .unwrap()
    }

    #[test]
    fn a_sine_peaks_in_its_bin_near_zero_db() {
        let spec = spectrogram(
            &sine(1000.0, 16_000, 16_000),
            16_000,
            &SpectrogramParams::default(),
        );
        assert_eq!(spec.frames, 100);
        assert_eq!(spec.rows, 201);
        let row = loudest_row(&spec, 50);
        assert!(
            (spec.row_hz[row] - 1000.0).abs() <= 40.0,
            "peak at {} Hz",
            spec.row_hz[row]
        );
        let peak = spec.value_db(50, row);
        assert!((-3.0..=1.0).contains(&peak), "peak {peak} dB");
        assert!(spec.value_db(50, 150) < peak - 40.0);
    }

    #[test]
    fn mel_scale_follows_frequency() {
        let params = SpectrogramParams {
            scale: FrequencyScale::Mel {
                bands: 64,
                min_hz: 0.0,
                max_hz: 8000.0,
            },
            ..SpectrogramParams::default()
        };
        let low = spectrogram(&sine(300.0, 16_000, 8000), 16_000, &params);
        let high = spectrogram(&sine(4000.0, 16_000, 8000), 16_000, &params);
        assert_eq!(low.rows, 64);
        assert!(loudest_row(&low, 25) < loudest_row(&high, 25));
        assert!((low.row_hz[loudest_row(&low, 25)] - 300.0).abs() < 100.0);
    }

    #[test]
    fn tiles_equal_the_whole() {
        let signal = sine(440.0, 16_000, 9_000);
        let params = SpectrogramParams::default();
        let whole = spectrogram(&signal, 16_000, &params);
        let tile = spectrogram_frames(&signal, 16_000, &params, 20..40);
        for frame in 20..40 {
            for row in [0, 10, 200] {
                assert_eq!(whole.value_db(frame, row), tile.value_db(frame, row));
            }
        }
    }

    #[test]
    fn silence_sits_on_the_floor() {
        let spec = spectrogram(&[0.0; 1600], 16_000, &SpectrogramParams::default());
        assert!(spec.values_db.iter().all(|&v| v == -100.0));
        assert_eq!(frame_count(0, 160), 0);
    }
}
