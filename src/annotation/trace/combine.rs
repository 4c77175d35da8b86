//! From passes to one trace per annotator, and from annotators to their mean: regular series on
//! the audio-time grid, resampled (linearly) where rates differ.

use std::collections::BTreeMap;

use super::{TraceMode, TracePass, Traces};
use crate::project::PassCombine;

/// Values on a regular grid: `values[i]` at `start_s + i / rate_hz` seconds of audio.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TraceSeries {
    pub rate_hz: f64,
    pub start_s: f64,
    pub values: Vec<f64>,
}

impl TraceSeries {
    /// A pass as a series; relative passes rescaled to 0–1 by their own minimum and maximum
    /// (a flat relative pass becomes 0.5 throughout).
    #[must_use]
    pub fn of_pass(pass: &TracePass) -> Self {
        let values = match pass.mode {
            TraceMode::Bounded { .. } => pass.values.clone(),
            TraceMode::Relative => {
                let (low, high) = pass
                    .values
                    .iter()
                    .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &v| {
                        (l.min(v), h.max(v))
                    });
                let span = high - low;
                pass.values
                    .iter()
                    .map(|v| if span > 0.0 { (v - low) / span } else { 0.5 })
                    .collect()
            }
        };
        Self {
            rate_hz: pass.rate_hz,
            start_s: pass.time_s(0),
            values,
        }
    }

    #[must_use]
    pub fn end_s(&self) -> f64 {
        self.start_s + self.values.len().saturating_sub(1) as f64 / self.rate_hz
    }

    #[must_use]
    pub fn time_s(&self, i: usize) -> f64 {
        self.start_s + i as f64 / self.rate_hz
    }

    /// The value at `time_s` (linear between samples), `None` outside the series.
    #[must_use]
    pub fn value_at(&self, time_s: f64) -> Option<f64> {
        let position = (time_s - self.start_s) * self.rate_hz;
        let last = self.values.len().checked_sub(1)?;
        if !(-1e-9..=last as f64 + 1e-9).contains(&position) {
            return None;
        }
        let position = position.clamp(0.0, last as f64);
        let i = position.floor() as usize;
        let fraction = position - i as f64;
        let a = self.values[i];
        Some(match self.values.get(i + 1) {
            Some(&b) if fraction > 0.0 => a + (b - a) * fraction,
            _ => a,
        })
    }

    /// The series on the grid `k / rate_hz` (k whole) across the span it covers.
    #[must_use]
    pub fn resampled(&self, rate_hz: f64) -> Self {
        if (rate_hz - self.rate_hz).abs() < 1e-12 {
            return self.clone();
        }
        let first = (self.start_s * rate_hz - 1e-9).ceil().max(0.0) as u64;
        let last = (self.end_s() * rate_hz + 1e-9).floor() as u64;
        let values = (first..=last)
            .filter_map(|k| self.value_at(k as f64 / rate_hz))
            .collect();
        Self {
            rate_hz,
            start_s: first as f64 / rate_hz,
            values,
        }
    }

    /// Grid index of the first sample.
    fn first_index(&self) -> i64 {
        (self.start_s * self.rate_hz).round() as i64
    }
}

/// Frame-by-frame mean of series on one grid (each frame over the series that cover it).
fn mean_of(series: &[TraceSeries], rate_hz: f64) -> Option<TraceSeries> {
    let series: Vec<TraceSeries> = series.iter().map(|s| s.resampled(rate_hz)).collect();
    let first = series.iter().map(TraceSeries::first_index).min()?;
    let end = series
        .iter()
        .map(|s| s.first_index() + s.values.len() as i64)
        .max()?;
    let len = usize::try_from(end - first).ok()?;
    let mut sums = vec![(0.0, 0_u32); len];
    for s in &series {
        let offset = usize::try_from(s.first_index() - first).ok()?;
        for (slot, v) in sums[offset..].iter_mut().zip(&s.values) {
            slot.0 += v;
            slot.1 += 1;
        }
    }
    Some(TraceSeries {
        rate_hz,
        start_s: first as f64 / rate_hz,
        values: sums
            .into_iter()
            .map(|(sum, n)| if n > 0 { sum / f64::from(n) } else { f64::NAN })
            .collect(),
    })
}

/// The trace that stands for one annotator in `dimension`: the final pass (marked, else the
/// latest kept), or the mean of the kept passes, at `rate_hz`. `None` when they kept none.
#[must_use]
pub fn annotator_series(
    traces: &Traces,
    dimension: &str,
    combine: PassCombine,
    rate_hz: f64,
) -> Option<TraceSeries> {
    let kept: Vec<&TracePass> = traces.kept(dimension).collect();
    match combine {
        PassCombine::Final => {
            let marked = traces
                .finals
                .get(dimension)
                .and_then(|id| kept.iter().find(|p| p.id == *id));
            let pass = marked.or(kept.last())?;
            Some(TraceSeries::of_pass(pass).resampled(rate_hz))
        }
        PassCombine::Mean => {
            let series: Vec<TraceSeries> = kept.iter().map(|p| TraceSeries::of_pass(p)).collect();
            mean_of(&series, rate_hz)
        }
    }
}

/// Mean over annotators, frame by frame (the human mean the model proxy is scored against).
#[must_use]
pub fn human_mean(
    by_annotator: &BTreeMap<String, TraceSeries>,
    rate_hz: f64,
) -> Option<TraceSeries> {
    let series: Vec<TraceSeries> = by_annotator.values().cloned().collect();
    mean_of(&series, rate_hz)
}

/// Each annotator's trace of `dimension` in one recording (those who kept a pass), at `rate_hz`.
#[must_use]
pub fn recording_series(
    labels: &BTreeMap<String, crate::annotation::Label>,
    dimension: &str,
    combine: PassCombine,
    rate_hz: f64,
) -> BTreeMap<String, TraceSeries> {
    labels
        .iter()
        .filter_map(|(annotator, label)| {
            let series = annotator_series(&label.traces, dimension, combine, rate_hz)?;
            Some((annotator.clone(), series))
        })
        .collect()
}

/// The time average of a series (its frames that hold a value).
#[must_use]
pub fn time_mean(series: &TraceSeries) -> Option<f64> {
    let finite: Vec<f64> = series
        .values
        .iter()
        .copied()
        .filter(|v| v.is_finite())
        .collect();
    (!finite.is_empty()).then(|| finite.iter().sum::<f64>() / finite.len() as f64)
}
