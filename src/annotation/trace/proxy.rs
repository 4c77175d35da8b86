//! The model's *proxy* trace. Sparse MERIT predicts classes, not arousal or valence; a proxy
//! trace places each class on Russell's circumplex (valence, arousal in −1…1) and takes the
//! probability-weighted position of the model's class trajectory, mapped onto the dimension's
//! scale. It is labelled "proxy" wherever it is shown: it is a stand-in, not a measurement.

use super::TraceSeries;

/// Class id → (valence, arousal), after Russell (1980) and the usual placements in speech-emotion
/// work: angry unpleasant and aroused, sad unpleasant and calm, happy pleasant and aroused,
/// neutral at the centre. Classes not listed (`other`, `no_agreement`) carry no position: their
/// probability is left out and the rest renormalised.
pub const CIRCUMPLEX: [(&str, f64, f64); 8] = [
    ("angry", -0.6, 0.8),
    ("happy", 0.8, 0.5),
    ("sad", -0.7, -0.5),
    ("neutral", 0.0, 0.0),
    ("surprise", 0.2, 0.9),
    ("fear", -0.6, 0.7),
    ("disgust", -0.7, 0.3),
    ("contempt", -0.5, 0.2),
];

/// A class's position on `dimension` (`arousal` or `valence`), −1…1; `None` when it has none.
#[must_use]
pub fn circumplex_position(class: &str, dimension: &str) -> Option<f64> {
    let &(_, valence, arousal) = CIRCUMPLEX.iter().find(|(c, _, _)| *c == class)?;
    match dimension {
        "arousal" => Some(arousal),
        "valence" => Some(valence),
        _ => None,
    }
}

/// The proxy trace of `dimension` on the scale `min..max`, at `rate_hz`, from the model's
/// trajectory (`times_s[i]` with class probabilities `probs[i]` over `classes`). `None` when
/// the dimension has no circumplex axis or no class has a position.
#[must_use]
pub fn proxy_series(
    classes: &[String],
    times_s: &[f64],
    probs: &[Vec<f32>],
    dimension: &str,
    (min, max): (f64, f64),
    rate_hz: f64,
) -> Option<TraceSeries> {
    let positions: Vec<Option<f64>> = classes
        .iter()
        .map(|c| circumplex_position(c, dimension))
        .collect();
    if positions.iter().all(Option::is_none) {
        return None;
    }
    let points: Vec<(f64, f64)> = times_s
        .iter()
        .zip(probs)
        .filter_map(|(&t, row)| {
            let (weighted, total) =
                row.iter()
                    .zip(&positions)
                    .fold((0.0, 0.0), |(w, total), (&p, position)| match position {
                        Some(x) => (w + f64::from(p) * x, total + f64::from(p)),
                        None => (w, total),
                    });
            (total > 0.0).then(|| (t, min + (weighted / total + 1.0) / 2.0 * (max - min)))
        })
        .collect();
    let (&(first_s, _), &(last_s, _)) = (points.first()?, points.last()?);
    let first = (first_s * rate_hz).ceil().max(0.0) as u64;
    let last = (last_s * rate_hz).floor() as u64;
    let mut at = 0;
    let values = (first..=last.max(first))
        .map(|k| {
            let t = k as f64 / rate_hz;
            while at + 1 < points.len() && points[at + 1].0 <= t {
                at += 1;
            }
            match points.get(at + 1) {
                Some(&(t1, v1)) if t1 > points[at].0 => {
                    let (t0, v0) = points[at];
                    v0 + (v1 - v0) * ((t - t0) / (t1 - t0)).clamp(0.0, 1.0)
                }
                _ => points[at].1,
            }
        })
        .collect();
    Some(TraceSeries {
        rate_hz,
        start_s: first as f64 / rate_hz,
        values,
    })
}
