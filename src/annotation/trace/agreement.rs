//! Agreement between traces: Lin's concordance correlation coefficient (CCC) for each pair of
//! annotators and its mean, Krippendorff's interval alpha over frames, Cronbach's alpha (the
//! figure NOVA reports), each with a percentile bootstrap interval over recordings; optionally
//! the CCC at each pair's best lag within a window (annotators react late).
//!
//! Every figure compares series on one grid (the dimension's rate) and uses only the frames the
//! compared traces share. Per recording: mean pairwise CCC, Cronbach's alpha over the frames every
//! annotator of the recording traced; a dimension's figure is the mean over its recordings.
//! Krippendorff's alpha pools the frames of every recording (each frame a unit).

use std::collections::BTreeMap;

use super::TraceSeries;
use crate::annotation::agreement::{Level, Unit, krippendorff_alpha};

const BOOTSTRAP_ROUNDS: usize = 1000;
const SEED: u64 = 1;

/// Lin's CCC with population (1/n) moments; `None` for fewer than two values or when both are
/// constant and equal (0/0).
#[must_use]
pub fn ccc(x: &[f64], y: &[f64]) -> Option<f64> {
    let n = x.len().min(y.len());
    if n < 2 {
        return None;
    }
    let (x, y) = (&x[..n], &y[..n]);
    let count = n as f64;
    let mean_x = x.iter().sum::<f64>() / count;
    let mean_y = y.iter().sum::<f64>() / count;
    let (mut var_x, mut var_y, mut cov) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        var_x += (a - mean_x) * (a - mean_x);
        var_y += (b - mean_y) * (b - mean_y);
        cov += (a - mean_x) * (b - mean_y);
    }
    let denominator = (var_x + var_y) / count + (mean_x - mean_y).powi(2);
    (denominator > 0.0).then(|| 2.0 * cov / count / denominator)
}

/// The stretches of `a` and `b` (same rate) that cover the same frames.
fn overlap<'a>(a: &'a TraceSeries, b: &'a TraceSeries) -> (&'a [f64], &'a [f64]) {
    let start_a = (a.start_s * a.rate_hz).round() as i64;
    let start_b = (b.start_s * b.rate_hz).round() as i64;
    let first = start_a.max(start_b);
    let end = (start_a + a.values.len() as i64).min(start_b + b.values.len() as i64);
    if end <= first {
        return (&[], &[]);
    }
    let slice = |s: &'a TraceSeries, start: i64| {
        let from = usize::try_from(first - start).unwrap_or(0);
        let to = usize::try_from(end - start).unwrap_or(0);
        &s.values[from..to]
    };
    (slice(a, start_a), slice(b, start_b))
}

/// The best CCC over lags of `y` behind `x` within ±`max_lag` frames, and that lag.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Lagged {
    pub ccc: f64,
    /// Positive: the second trace follows the first this many seconds later.
    pub lag_s: f64,
}

/// CCC of `x` against `y` shifted by every lag within ±`max_lag` frames (at `rate_hz`); the best.
#[must_use]
pub fn best_lag_ccc(x: &[f64], y: &[f64], max_lag: usize, rate_hz: f64) -> Option<Lagged> {
    let n = x.len().min(y.len());
    let max_lag = max_lag.min(n.saturating_sub(2));
    let mut best: Option<Lagged> = None;
    for lag in -(max_lag as i64)..=(max_lag as i64) {
        let shift = lag.unsigned_abs() as usize;
        let value = if lag >= 0 {
            ccc(&x[..n - shift], &y[shift..n])
        } else {
            ccc(&x[shift..n], &y[..n - shift])
        };
        if let Some(value) = value
            && best.is_none_or(|b| value > b.ccc)
        {
            best = Some(Lagged {
                ccc: value,
                lag_s: lag as f64 / rate_hz,
            });
        }
    }
    best
}

/// CCC of every pair of annotators of one recording (over the frames both traced).
pub fn pair_cccs(recording: &BTreeMap<String, TraceSeries>) -> Vec<(String, String, Option<f64>)> {
    let names: Vec<&String> = recording.keys().collect();
    let mut pairs = Vec::new();
    for (i, a) in names.iter().enumerate() {
        for b in &names[i + 1..] {
            let (x, y) = overlap(&recording[*a], &recording[*b]);
            pairs.push(((*a).clone(), (*b).clone(), ccc(x, y)));
        }
    }
    pairs
}

/// Mean CCC over the pairs of annotators of one recording.
#[must_use]
pub fn mean_pairwise_ccc(recording: &BTreeMap<String, TraceSeries>) -> Option<f64> {
    mean(pair_cccs(recording).into_iter().filter_map(|(_, _, c)| c))
}

fn mean(values: impl IntoIterator<Item = f64>) -> Option<f64> {
    let (sum, n) = values
        .into_iter()
        .fold((0.0, 0_usize), |(s, n), v| (s + v, n + 1));
    (n > 0).then(|| sum / n as f64)
}

/// Cronbach's alpha of `items` (one column of observations per annotator, all the same length).
#[must_use]
pub fn cronbach_alpha(items: &[Vec<f64>]) -> Option<f64> {
    let k = items.len();
    let n = items.first()?.len();
    if k < 2 || n < 2 || items.iter().any(|c| c.len() != n) {
        return None;
    }
    let variance = |values: &mut dyn Iterator<Item = f64>| {
        let values: Vec<f64> = values.collect();
        let m = values.iter().sum::<f64>() / n as f64;
        values.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / (n as f64 - 1.0)
    };
    let item_variances: f64 = items.iter().map(|c| variance(&mut c.iter().copied())).sum();
    let total = variance(&mut (0..n).map(|i| items.iter().map(|c| c[i]).sum::<f64>()));
    (total > 0.0).then(|| k as f64 / (k as f64 - 1.0) * (1.0 - item_variances / total))
}

/// Frames of one recording: each frame's values, one per annotator who traced it.
fn frame_units(recording: &BTreeMap<String, TraceSeries>) -> Vec<Unit> {
    let starts: Vec<(i64, &TraceSeries)> = recording
        .values()
        .map(|s| ((s.start_s * s.rate_hz).round() as i64, s))
        .collect();
    let Some(first) = starts.iter().map(|(i, _)| *i).min() else {
        return Vec::new();
    };
    let end = starts
        .iter()
        .map(|(i, s)| i + s.values.len() as i64)
        .max()
        .unwrap_or(first);
    (first..end)
        .map(|frame| {
            starts
                .iter()
                .filter_map(|(start, s)| {
                    usize::try_from(frame - start)
                        .ok()
                        .and_then(|i| s.values.get(i))
                        .copied()
                        .filter(|v| v.is_finite())
                })
                .collect()
        })
        .collect()
}

/// Cronbach's alpha over the frames that every annotator of the recording traced.
fn recording_cronbach(recording: &BTreeMap<String, TraceSeries>) -> Option<f64> {
    let k = recording.len();
    let full: Vec<Unit> = frame_units(recording)
        .into_iter()
        .filter(|u| u.len() == k)
        .collect();
    let items: Vec<Vec<f64>> = (0..k)
        .map(|j| full.iter().map(|u| u[j]).collect())
        .collect();
    cronbach_alpha(&items)
}

/// A figure with its 95 % bootstrap interval, over how many recordings.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct TraceEstimate {
    pub value: f64,
    pub low: f64,
    pub high: f64,
    pub recordings: usize,
}

/// Agreement of one traced dimension.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TraceAgreement {
    pub rate_hz: f64,
    pub annotators: Vec<String>,
    /// Recordings traced by two or more annotators.
    pub recordings: usize,
    /// Mean pairwise CCC (per recording, then the mean over recordings).
    pub ccc: Option<f64>,
    pub ccc_interval: Option<[f64; 2]>,
    pub krippendorff_alpha: Option<f64>,
    pub krippendorff_alpha_interval: Option<[f64; 2]>,
    pub cronbach_alpha: Option<f64>,
    pub cronbach_alpha_interval: Option<[f64; 2]>,
    /// Each pair's CCC, the mean over the recordings both traced.
    pub pairs: Vec<(String, String, Option<f64>)>,
    /// Mean pairwise CCC at each pair's best lag within the window, when asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lagged: Option<Lagged>,
}

/// The mean of the figures of the `picked` recordings that have one.
fn mean_over(per_recording: &[Option<f64>], picked: &[usize]) -> Option<f64> {
    mean(picked.iter().filter_map(|&i| per_recording[i]))
}

/// Percentile bootstrap over recordings of `figure` (computed on a resampled set of recordings).
fn bootstrap(count: usize, figure: &dyn Fn(&[usize]) -> Option<f64>) -> Option<TraceEstimate> {
    let all: Vec<usize> = (0..count).collect();
    let value = figure(&all)?;
    let mut rng = fastrand::Rng::with_seed(SEED);
    let mut samples: Vec<f64> = (0..BOOTSTRAP_ROUNDS)
        .filter_map(|_| {
            let picked: Vec<usize> = (0..count).map(|_| rng.usize(..count)).collect();
            figure(&picked)
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    let at = |p: f64| {
        samples
            .get(((samples.len().max(1) - 1) as f64 * p).round() as usize)
            .copied()
            .unwrap_or(value)
    };
    Some(TraceEstimate {
        value,
        low: at(0.025),
        high: at(0.975),
        recordings: count,
    })
}

/// Agreement over `recordings` (each: annotator → series at `rate_hz`); `max_lag_s` adds the
/// lag-compensated CCC.
#[must_use]
pub fn trace_agreement(
    recordings: &[BTreeMap<String, TraceSeries>],
    rate_hz: f64,
    max_lag_s: Option<f64>,
) -> TraceAgreement {
    let shared: Vec<&BTreeMap<String, TraceSeries>> =
        recordings.iter().filter(|r| r.len() >= 2).collect();
    let mut annotators: Vec<String> = recordings.iter().flat_map(|r| r.keys().cloned()).collect();
    annotators.sort();
    annotators.dedup();
    let per_ccc: Vec<Option<f64>> = shared.iter().map(|r| mean_pairwise_ccc(r)).collect();
    let per_cronbach: Vec<Option<f64>> = shared.iter().map(|r| recording_cronbach(r)).collect();
    let units: Vec<Vec<Unit>> = shared.iter().map(|r| frame_units(r)).collect();
    let alpha = |picked: &[usize]| {
        let pooled: Vec<Unit> = picked
            .iter()
            .flat_map(|&i| units[i].iter().cloned())
            .collect();
        krippendorff_alpha(&pooled, Level::Interval)
    };
    let mut pair_values: BTreeMap<(String, String), Vec<f64>> = BTreeMap::new();
    for recording in &shared {
        for (a, b, value) in pair_cccs(recording) {
            let slot = pair_values.entry((a, b)).or_default();
            slot.extend(value);
        }
    }
    let lagged = max_lag_s.and_then(|window| {
        let max_lag = (window * rate_hz).round() as usize;
        let found: Vec<Lagged> = shared
            .iter()
            .flat_map(|recording| {
                let names: Vec<&String> = recording.keys().collect();
                let mut found = Vec::new();
                for (i, a) in names.iter().enumerate() {
                    for b in &names[i + 1..] {
                        let (x, y) = overlap(&recording[*a], &recording[*b]);
                        found.extend(best_lag_ccc(x, y, max_lag, rate_hz));
                    }
                }
                found
            })
            .collect();
        Some(Lagged {
            ccc: mean(found.iter().map(|l| l.ccc))?,
            lag_s: mean(found.iter().map(|l| l.lag_s))?,
        })
    });
    let ccc = bootstrap(shared.len(), &|picked: &[usize]| {
        mean_over(&per_ccc, picked)
    });
    let krippendorff = bootstrap(shared.len(), &alpha);
    let cronbach = bootstrap(shared.len(), &|picked: &[usize]| {
        mean_over(&per_cronbach, picked)
    });
    let interval = |e: Option<TraceEstimate>| e.map(|e| [e.low, e.high]);
    TraceAgreement {
        rate_hz,
        annotators,
        recordings: shared.len(),
        ccc: ccc.map(|e| e.value),
        ccc_interval: interval(ccc),
        krippendorff_alpha: krippendorff.map(|e| e.value),
        krippendorff_alpha_interval: interval(krippendorff),
        cronbach_alpha: cronbach.map(|e| e.value),
        cronbach_alpha_interval: interval(cronbach),
        pairs: pair_values
            .into_iter()
            .map(|((a, b), values)| (a, b, mean(values)))
            .collect(),
        lagged,
    }
}
