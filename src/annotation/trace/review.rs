//! What the review queue needs from a recording's traces: the lowest pairwise CCC of any traced
//! dimension, and how far the model's proxy lies from the human mean. Over the whole recording the
//! proxy is the circumplex position of the model's *utterance* probabilities (its trajectory is
//! only at hand for the open recording), compared with the time average of the human mean trace.

use std::collections::BTreeMap;

use super::{circumplex_position, human_mean, pair_cccs, recording_series, time_mean};
use crate::annotation::Label;
use crate::project::{PassCombine, TraceScheme};

/// (lowest pairwise CCC, largest proxy gap as a fraction of the scale) over `schemes`.
#[must_use]
pub fn review_figures(
    labels: &BTreeMap<String, Label>,
    schemes: &[TraceScheme],
    combine: PassCombine,
    utterance: Option<(&[String], &[f32])>,
) -> (Option<f64>, Option<f64>) {
    let mut lowest: Option<f64> = None;
    let mut gap: Option<f64> = None;
    for scheme in schemes {
        let by = recording_series(labels, &scheme.dimension, combine, scheme.rate_hz);
        if by.is_empty() {
            continue;
        }
        for (_, _, value) in pair_cccs(&by) {
            if let Some(value) = value {
                lowest = Some(lowest.map_or(value, |l: f64| l.min(value)));
            }
        }
        let Some((classes, probs)) = utterance else {
            continue;
        };
        let (weighted, total) =
            classes.iter().zip(probs).fold(
                (0.0, 0.0),
                |(w, t), (c, &p)| match circumplex_position(c, &scheme.dimension) {
                    Some(x) => (w + f64::from(p) * x, t + f64::from(p)),
                    None => (w, t),
                },
            );
        let Some(mean) = human_mean(&by, scheme.rate_hz).as_ref().and_then(time_mean) else {
            continue;
        };
        if total > 0.0 {
            let (min, max) = scheme.range();
            let proxy = min + (weighted / total + 1.0) / 2.0 * (max - min);
            let this = (proxy - mean).abs() / (max - min);
            gap = Some(gap.map_or(this, |g: f64| g.max(this)));
        }
    }
    (lowest, gap)
}
