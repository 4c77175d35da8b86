//! A min/max pyramid over a signal, so a waveform of any length draws at any zoom in O(pixels).

use std::sync::Arc;

/// Samples per bin at the finest level; finer zooms read the samples themselves.
const BASE_SAMPLES_PER_BIN: usize = 16;
/// Each level's bins cover this many bins of the level below.
const LEVEL_FACTOR: usize = 4;

/// The extent of the signal under one column of pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MinMax {
    pub min: f32,
    pub max: f32,
}

impl MinMax {
    const EMPTY: Self = Self {
        min: f32::INFINITY,
        max: f32::NEG_INFINITY,
    };

    fn include(&mut self, other: Self) {
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
    }

    fn of_samples(samples: &[f32]) -> Self {
        samples.iter().fold(Self::EMPTY, |mut acc, &s| {
            acc.include(Self { min: s, max: s });
            acc
        })
    }
}

#[derive(Debug, Clone)]
struct Level {
    samples_per_bin: usize,
    bins: Vec<MinMax>,
}

/// A mono signal with its min/max levels (each level about a quarter of the one below).
#[derive(Debug, Clone)]
pub struct WaveformPyramid {
    samples: Arc<[f32]>,
    sample_rate_hz: u32,
    levels: Vec<Level>,
}

impl WaveformPyramid {
    #[must_use]
    pub fn new(samples: Arc<[f32]>, sample_rate_hz: u32) -> Self {
        let mut levels = Vec::new();
        let mut bins: Vec<MinMax> = samples
            .chunks(BASE_SAMPLES_PER_BIN)
            .map(MinMax::of_samples)
            .collect();
        let mut samples_per_bin = BASE_SAMPLES_PER_BIN;
        while bins.len() > 1 {
            let coarser = bins
                .chunks(LEVEL_FACTOR)
                .map(|group| {
                    group.iter().fold(MinMax::EMPTY, |mut acc, &bin| {
                        acc.include(bin);
                        acc
                    })
                })
                .collect();
            levels.push(Level {
                samples_per_bin,
                bins,
            });
            bins = coarser;
            samples_per_bin *= LEVEL_FACTOR;
        }
        levels.push(Level {
            samples_per_bin,
            bins,
        });
        Self {
            samples,
            sample_rate_hz,
            levels,
        }
    }

    #[must_use]
    pub fn samples(&self) -> &Arc<[f32]> {
        &self.samples
    }

    #[must_use]
    pub fn sample_rate_hz(&self) -> u32 {
        self.sample_rate_hz
    }

    #[must_use]
    pub fn duration_secs(&self) -> f64 {
        self.samples.len() as f64 / f64::from(self.sample_rate_hz)
    }

    /// Number of levels (for tests and diagnostics).
    #[must_use]
    pub fn level_count(&self) -> usize {
        self.levels.len()
    }

    /// Min/max of the signal under each of `columns` equal slices of `[start_secs, end_secs)`;
    /// `None` for columns outside the signal. Cost is proportional to `columns`, not to the span.
    #[must_use]
    pub fn columns(&self, start_secs: f64, end_secs: f64, columns: usize) -> Vec<Option<MinMax>> {
        if columns == 0 || end_secs <= start_secs {
            return Vec::new();
        }
        let rate = f64::from(self.sample_rate_hz);
        let start_sample = start_secs * rate;
        let samples_per_column = (end_secs - start_secs) * rate / columns as f64;
        // The coarsest level whose bins still fit inside one column.
        let level = self
            .levels
            .iter()
            .rev()
            .find(|level| level.samples_per_bin as f64 <= samples_per_column);
        let len = self.samples.len() as f64;
        (0..columns)
            .map(|column| {
                let from = (start_sample + column as f64 * samples_per_column).max(0.0);
                let to = (start_sample + (column + 1) as f64 * samples_per_column).min(len);
                if to <= from {
                    return None;
                }
                // Truncation to whole samples is intended here.
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                let (from, to) = (from.floor() as usize, (to.ceil() as usize).max(1));
                Some(match level {
                    Some(level) => {
                        let first_bin = from / level.samples_per_bin;
                        let last_bin = to.div_ceil(level.samples_per_bin).min(level.bins.len());
                        level.bins[first_bin..last_bin.max(first_bin + 1)]
                            .iter()
                            .fold(MinMax::EMPTY, |mut acc, &bin| {
                                acc.include(bin);
                                acc
                            })
                    }
                    None => MinMax::of_samples(&self.samples[from..to.max(from + 1)]),
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn brute_force(samples: &[f32], from: usize, to: usize) -> MinMax {
        MinMax::of_samples(&samples[from..to])
    }

    #[test]
    fn columns_bound_the_true_extent() {
        let samples: Vec<f32> = (0..100_003)
            .map(|i| (i as f32 * 0.013).sin() * (i as f32 * 0.0007).cos())
            .collect();
        let pyramid = WaveformPyramid::new(samples.clone().into(), 1000);
        for columns in [1, 7, 640, 5000, 150_000] {
            let extents = pyramid.columns(0.0, 100.003, columns);
            assert_eq!(extents.len(), columns);
            let per_column = samples.len() as f64 / columns as f64;
            for (column, extent) in extents.iter().enumerate() {
                let from = (column as f64 * per_column).floor() as usize;
                let to = (((column + 1) as f64 * per_column).ceil() as usize).min(samples.len());
                let Some(extent) = extent else { continue };
                let truth = brute_force(&samples, from, to.max(from + 1));
                // Bins may reach past the column edges by less than a column, never fall short.
                assert!(extent.min <= truth.min && extent.max >= truth.max);
                let reach = per_column.ceil() as usize + BASE_SAMPLES_PER_BIN;
                let widened = brute_force(
                    &samples,
                    from.saturating_sub(reach),
                    (to + reach).min(samples.len()),
                );
                assert!(extent.min >= widened.min && extent.max <= widened.max);
            }
        }
    }

    #[test]
    fn single_column_is_the_global_extent() {
        let samples = vec![0.0, -0.5, 0.25, 0.9, -0.1];
        let pyramid = WaveformPyramid::new(samples.into(), 5);
        let extents = pyramid.columns(0.0, 1.0, 1);
        assert_eq!(
            extents,
            vec![Some(MinMax {
                min: -0.5,
                max: 0.9
            })]
        );
    }

    #[test]
    fn columns_outside_the_signal_are_none() {
        let pyramid = WaveformPyramid::new(vec![0.5; 100].into(), 100);
        let extents = pyramid.columns(-1.0, 2.0, 3);
        assert_eq!(extents[0], None);
        assert!(extents[1].is_some());
        assert_eq!(extents[2], None);
    }

    #[test]
    fn empty_signal_has_no_extent() {
        let pyramid = WaveformPyramid::new(Vec::new().into(), 16_000);
        assert!(pyramid.columns(0.0, 1.0, 10).iter().all(Option::is_none));
    }

    #[test]
    fn levels_shrink_by_the_factor() {
        let pyramid = WaveformPyramid::new(vec![0.0; 16 * 4 * 4 * 4].into(), 16_000);
        assert_eq!(pyramid.level_count(), 4);
    }
}
