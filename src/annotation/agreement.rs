//! Inter-annotator agreement: Krippendorff's alpha (nominal for classes, interval for attributes)
//! with a bootstrap confidence interval over recordings, and Fleiss' kappa where every recording has
//! the same number of raters. Missing ratings are allowed (alpha uses recordings with two or more).

use std::collections::BTreeMap;

/// How distances between two values are measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Nominal,
    Interval,
}

/// Ratings of one unit (recording): one value per annotator who rated it.
pub type Unit = Vec<f64>;

/// Sum of squared distances (nominal: 0 or 1) over ordered pairs of distinct positions.
fn pair_sum(level: Level, values: &[f64]) -> f64 {
    match level {
        Level::Interval => {
            let n = values.len() as f64;
            let sum: f64 = values.iter().sum();
            let squares: f64 = values.iter().map(|v| v * v).sum();
            2.0 * (n * squares - sum * sum)
        }
        Level::Nominal => {
            let mut counts: BTreeMap<u64, f64> = BTreeMap::new();
            for v in values {
                *counts.entry(v.to_bits()).or_default() += 1.0;
            }
            let n = values.len() as f64;
            n * n - counts.values().map(|c| c * c).sum::<f64>()
        }
    }
}

/// Krippendorff's alpha over `units`; `None` when it is undefined (fewer than two pairable values,
/// or no variation at all).
#[must_use]
pub fn krippendorff_alpha(units: &[Unit], level: Level) -> Option<f64> {
    let pairable: Vec<&Unit> = units.iter().filter(|u| u.len() >= 2).collect();
    let n: f64 = pairable.iter().map(|u| u.len() as f64).sum();
    if n < 2.0 {
        return None;
    }
    let observed: f64 = pairable
        .iter()
        .map(|u| pair_sum(level, u) / (u.len() as f64 - 1.0))
        .sum::<f64>()
        / n;
    let all: Vec<f64> = pairable.iter().flat_map(|u| u.iter().copied()).collect();
    let expected = pair_sum(level, &all) / (n * (n - 1.0));
    (expected > 0.0).then(|| 1.0 - observed / expected)
}

/// Alpha with a percentile bootstrap interval (recordings resampled with replacement, `rounds`
/// times, seeded so reports are reproducible).
#[must_use]
pub fn alpha_with_interval(
    units: &[Unit],
    level: Level,
    rounds: usize,
    seed: u64,
) -> Option<(f64, f64, f64)> {
    let alpha = krippendorff_alpha(units, level)?;
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut samples: Vec<f64> = (0..rounds)
        .filter_map(|_| {
            let resampled: Vec<Unit> = (0..units.len())
                .map(|_| units[rng.usize(..units.len())].clone())
                .collect();
            krippendorff_alpha(&resampled, level)
        })
        .collect();
    if samples.is_empty() {
        return Some((alpha, alpha, alpha));
    }
    samples.sort_by(f64::total_cmp);
    let at = |p: f64| samples[((samples.len() - 1) as f64 * p).round() as usize];
    Some((alpha, at(0.025), at(0.975)))
}

/// Fleiss' kappa from per-unit category counts; `None` unless every unit has the same number (≥ 2)
/// of ratings.
#[must_use]
pub fn fleiss_kappa(counts: &[Vec<usize>]) -> Option<f64> {
    let raters = counts.first()?.iter().sum::<usize>();
    if raters < 2 || counts.iter().any(|c| c.iter().sum::<usize>() != raters) {
        return None;
    }
    let units = counts.len() as f64;
    let r = raters as f64;
    let categories = counts.iter().map(Vec::len).max().unwrap_or(0);
    let mut proportions = vec![0.0; categories];
    let mut agreement = 0.0;
    for unit in counts {
        let squares: f64 = unit.iter().map(|&c| (c * c) as f64).sum();
        agreement += (squares - r) / (r * (r - 1.0));
        for (p, &c) in proportions.iter_mut().zip(unit) {
            *p += c as f64 / (units * r);
        }
    }
    let observed = agreement / units;
    let expected: f64 = proportions.iter().map(|p| p * p).sum();
    (expected < 1.0).then(|| (observed - expected) / (1.0 - expected))
}

/// Alpha and its bootstrap interval, over how many recordings.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Estimate {
    pub alpha: f64,
    pub low: f64,
    pub high: f64,
    /// Recordings with two or more ratings.
    pub units: usize,
}

impl std::fmt::Display for Estimate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:.3} [{:.3}, {:.3}] over {} recordings",
            self.alpha, self.low, self.high, self.units
        )
    }
}

/// Agreement of a project's annotators.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AgreementReport {
    pub annotators: Vec<String>,
    /// Recordings with at least one label.
    pub recordings: usize,
    /// Classes, nominal alpha.
    pub classes: Option<Estimate>,
    /// Fleiss' kappa of the classes, when every recording has the same number (≥ 2) of them.
    pub fleiss_kappa: Option<f64>,
    /// Each attribute, interval alpha.
    pub attributes: BTreeMap<String, Option<Estimate>>,
    /// Class alpha for each pair of annotators, over the recordings both labelled.
    pub pairs: Vec<(String, String, Option<Estimate>)>,
}

const BOOTSTRAP_ROUNDS: usize = 1000;
const SEED: u64 = 1;

fn estimate(units: &[Unit], level: Level) -> Option<Estimate> {
    let (alpha, low, high) = alpha_with_interval(units, level, BOOTSTRAP_ROUNDS, SEED)?;
    Some(Estimate {
        alpha,
        low,
        high,
        units: units.iter().filter(|u| u.len() >= 2).count(),
    })
}

/// Agreement over `recordings`, each given as its labels by annotator.
#[must_use]
pub fn report<'a>(
    recordings: impl IntoIterator<Item = &'a BTreeMap<String, super::Label>>,
    attributes: &[String],
) -> AgreementReport {
    let recordings: Vec<&BTreeMap<String, super::Label>> = recordings.into_iter().collect();
    let mut annotators: Vec<String> = recordings
        .iter()
        .flat_map(|by| by.keys().cloned())
        .collect();
    annotators.sort();
    annotators.dedup();
    let mut class_ids: Vec<&str> = recordings
        .iter()
        .flat_map(|by| by.values().filter_map(|l| l.class.as_deref()))
        .collect();
    class_ids.sort_unstable();
    class_ids.dedup();
    let code = |class: &str| class_ids.iter().position(|c| *c == class).unwrap_or(0) as f64;
    let class_units = |who: &dyn Fn(&str) -> bool| -> Vec<Unit> {
        recordings
            .iter()
            .map(|by| {
                by.iter()
                    .filter(|(name, _)| who(name))
                    .filter_map(|(_, l)| l.class.as_deref().map(code))
                    .collect()
            })
            .collect()
    };
    let units = class_units(&|_| true);
    let voted: Vec<&Unit> = units.iter().filter(|u| !u.is_empty()).collect();
    let counts: Vec<Vec<usize>> = voted
        .iter()
        .map(|unit| {
            let mut row = vec![0; class_ids.len()];
            for &value in *unit {
                row[value as usize] += 1;
            }
            row
        })
        .collect();
    let pairs = annotators
        .iter()
        .enumerate()
        .flat_map(|(i, a)| annotators[i + 1..].iter().map(move |b| (a, b)))
        .map(|(a, b)| {
            let units = class_units(&|name| name == a || name == b);
            (a.clone(), b.clone(), estimate(&units, Level::Nominal))
        })
        .collect();
    AgreementReport {
        recordings: recordings.iter().filter(|by| !by.is_empty()).count(),
        classes: estimate(&units, Level::Nominal),
        fleiss_kappa: fleiss_kappa(&counts),
        attributes: attributes
            .iter()
            .map(|name| {
                let units: Vec<Unit> = recordings
                    .iter()
                    .map(|by| {
                        by.values()
                            .filter_map(|l| l.attributes.get(name).copied())
                            .collect()
                    })
                    .collect();
                (name.clone(), estimate(&units, Level::Interval))
            })
            .collect(),
        pairs,
        annotators,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAN: f64 = f64::NAN;

    /// Coders × units, NaN = not rated; turned into units of present values.
    fn units(rows: &[&[f64]]) -> Vec<Unit> {
        (0..rows[0].len())
            .map(|u| {
                rows.iter()
                    .map(|row| row[u])
                    .filter(|v| !v.is_nan())
                    .collect()
            })
            .collect()
    }

    // Reference values from the PyPI package `krippendorff` (0.8.x):
    //   krippendorff.alpha(reliability_data=ROWS, level_of_measurement=LEVEL)
    const NOMINAL: [&[f64]; 3] = [
        &[0., 1., 2., 3., 0., 1., NAN, 2., 2., 0., 3., 1.],
        &[0., 1., 2., 0., 0., 2., 1., 2., NAN, 0., 3., 1.],
        &[NAN, 1., 3., 3., 0., 2., 1., 2., 2., 1., 3., NAN],
    ];
    const INTERVAL: [&[f64]; 3] = [
        &[5., 2., 3., 7., 4., 1., NAN, 6., 3., 5., 2., 4.],
        &[6., 2., 4., 6., 4., 2., 3., 6., NAN, 4., 2., 5.],
        &[NAN, 1., 4., 7., 5., 2., 3., 7., 3., 5., 3., NAN],
    ];

    #[test]
    fn alpha_matches_the_reference_implementation() {
        let nominal = krippendorff_alpha(&units(&NOMINAL), Level::Nominal).unwrap();
        assert!(
            (nominal - 0.674_540_682_414_698_2).abs() < 1e-12,
            "{nominal}"
        );
        let interval = krippendorff_alpha(&units(&INTERVAL), Level::Interval).unwrap();
        assert!(
            (interval - 0.898_956_975_228_161_6).abs() < 1e-12,
            "{interval}"
        );
        let pair = krippendorff_alpha(&units(&NOMINAL[..2]), Level::Nominal).unwrap();
        assert!((pair - 0.739_726_027_397_260_3).abs() < 1e-12, "{pair}");
    }

    #[test]
    fn bootstrap_interval_brackets_alpha_and_is_reproducible() {
        let data = units(&NOMINAL);
        let (alpha, low, high) = alpha_with_interval(&data, Level::Nominal, 500, 7).unwrap();
        assert!(low <= alpha && alpha <= high && low < high);
        assert_eq!(
            alpha_with_interval(&data, Level::Nominal, 500, 7),
            Some((alpha, low, high))
        );
    }

    #[test]
    fn undefined_cases_say_so() {
        assert_eq!(krippendorff_alpha(&[vec![1.0]], Level::Nominal), None);
        assert_eq!(
            krippendorff_alpha(&[vec![1.0, 1.0], vec![1.0, 1.0]], Level::Nominal),
            None
        );
    }

    #[test]
    fn project_report_from_labels() {
        use crate::annotation::Label;
        let classes = ["angry", "sad", "happy", "neutral"];
        let recordings: Vec<BTreeMap<String, Label>> = (0..NOMINAL[0].len())
            .map(|unit| {
                NOMINAL
                    .iter()
                    .zip(&INTERVAL)
                    .enumerate()
                    .filter(|(_, (n, _))| !n[unit].is_nan())
                    .map(|(coder, (n, i))| {
                        let label = Label {
                            class: Some(classes[n[unit] as usize].to_owned()),
                            attributes: (!i[unit].is_nan())
                                .then(|| ("arousal".to_owned(), i[unit]))
                                .into_iter()
                                .collect(),
                            ..Label::default()
                        };
                        (format!("coder{coder}"), label)
                    })
                    .collect()
            })
            .collect();
        let report = report(&recordings, &["arousal".to_owned()]);
        assert_eq!(report.annotators.len(), 3);
        let classes = report.classes.unwrap();
        assert!((classes.alpha - 0.674_540_682_414_698_2).abs() < 1e-12);
        assert_eq!(classes.units, 12);
        assert_eq!(report.fleiss_kappa, None, "raters per recording vary");
        assert_eq!(report.pairs.len(), 3);
        let pair = report.pairs[0].2.unwrap();
        assert!((pair.alpha - 0.739_726_027_397_260_3).abs() < 1e-12);
        assert!(report.attributes["arousal"].is_some());
    }

    #[test]
    fn fleiss_kappa_matches_the_textbook_example() {
        // Fleiss (1971) as worked on Wikipedia: 10 subjects, 14 raters, 5 categories: 0.210.
        let table: Vec<Vec<usize>> = vec![
            vec![0, 0, 0, 0, 14],
            vec![0, 2, 6, 4, 2],
            vec![0, 0, 3, 5, 6],
            vec![0, 3, 9, 2, 0],
            vec![2, 2, 8, 1, 1],
            vec![7, 7, 0, 0, 0],
            vec![3, 2, 6, 3, 0],
            vec![2, 5, 3, 2, 2],
            vec![6, 5, 2, 1, 0],
            vec![0, 2, 2, 3, 7],
        ];
        let kappa = fleiss_kappa(&table).unwrap();
        assert!((kappa - 0.210).abs() < 5e-4, "{kappa}");
        assert_eq!(fleiss_kappa(&[vec![2, 0], vec![1, 0]]), None);
    }
}
