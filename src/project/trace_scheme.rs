//! Time-continuous traces in `project.json`: which dimensions annotators trace while they listen,
//! on what scale, at what rate, and how several passes of one annotator become one trace.
//!
//! Everything has a default, so project files written before traces existed load unchanged: with
//! no `traces` key, every attribute of the label scheme (arousal, valence, dominance) is traceable
//! on its own scale at 25 Hz, and an annotator's final pass stands for them.

use serde::{Deserialize, Serialize};

use super::LabelScheme;

/// The sampling rate of a trace unless its scheme says otherwise (NOVA's and CARMA's usual rate).
pub const DEFAULT_RATE_HZ: f64 = 25.0;

/// How the traced value is bounded.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TraceMode {
    /// Absolute values on a scale (FEELtrace, CARMA): min at the bottom, max at the top.
    Bounded { min: f64, max: f64 },
    /// Unbounded, relative (RankTrace, PAGAN): only the ups and downs count; each pass is
    /// rescaled to 0–1 (its own minimum and maximum) before it is compared or averaged.
    Relative,
}

/// One traceable dimension.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TraceScheme {
    /// The attribute id (`arousal`) or a dimension of the project's own.
    pub dimension: String,
    /// Name shown in the studio.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    pub mode: TraceMode,
    #[serde(default = "default_rate")]
    pub rate_hz: f64,
}

fn default_rate() -> f64 {
    DEFAULT_RATE_HZ
}

/// Which of an annotator's passes over a recording and dimension stands for them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PassCombine {
    /// The pass they marked final, else their latest kept pass.
    #[default]
    Final,
    /// The mean of all their kept passes, frame by frame.
    Mean,
}

/// The `traces` part of `project.json`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct TraceSettings {
    /// Empty: every attribute of the label scheme, bounded by its scale, at 25 Hz.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub schemes: Vec<TraceScheme>,
    #[serde(default)]
    pub combine: PassCombine,
}

impl TraceSettings {
    /// Whether nothing differs from the defaults (then `project.json` leaves the key out).
    #[must_use]
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }

    /// The traceable dimensions: the listed schemes, else one per attribute of `labels`.
    #[must_use]
    pub fn schemes(&self, labels: &LabelScheme) -> Vec<TraceScheme> {
        if !self.schemes.is_empty() {
            return self.schemes.clone();
        }
        labels
            .attributes
            .iter()
            .map(|a| TraceScheme {
                dimension: a.id.clone(),
                name: a.name.clone(),
                mode: TraceMode::Bounded {
                    min: a.min,
                    max: a.max,
                },
                rate_hz: DEFAULT_RATE_HZ,
            })
            .collect()
    }

    /// The scheme of `dimension`, if it is traceable.
    #[must_use]
    pub fn scheme(&self, labels: &LabelScheme, dimension: &str) -> Option<TraceScheme> {
        self.schemes(labels)
            .into_iter()
            .find(|s| s.dimension == dimension)
    }

    /// Problems that make the settings unusable: rates out of 1–1000 Hz, empty ranges, twins.
    #[must_use]
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        for (i, scheme) in self.schemes.iter().enumerate() {
            if scheme.dimension.trim().is_empty() {
                problems.push(format!("trace scheme {} has an empty dimension", i + 1));
            }
            if !(1.0..=1000.0).contains(&scheme.rate_hz) {
                problems.push(format!(
                    "trace `{}` needs a rate between 1 and 1000 Hz",
                    scheme.dimension
                ));
            }
            if let TraceMode::Bounded { min, max } = scheme.mode
                && min.partial_cmp(&max) != Some(std::cmp::Ordering::Less)
            {
                problems.push(format!("trace `{}` needs min < max", scheme.dimension));
            }
            if self.schemes[..i]
                .iter()
                .any(|s| s.dimension == scheme.dimension)
            {
                problems.push(format!(
                    "trace dimension `{}` appears twice",
                    scheme.dimension
                ));
            }
        }
        problems
    }
}

impl TraceScheme {
    /// The name shown for the dimension (its id when it has none).
    #[must_use]
    pub fn display_name(&self) -> &str {
        if self.name.is_empty() {
            &self.dimension
        } else {
            &self.name
        }
    }

    /// The range drawn and checked: the scale for bounded traces, 0–1 for relative ones.
    #[must_use]
    pub fn range(&self) -> (f64, f64) {
        match self.mode {
            TraceMode::Bounded { min, max } => (min, max),
            TraceMode::Relative => (0.0, 1.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_are_traceable_by_default() {
        let schemes = TraceSettings::default().schemes(&LabelScheme::sparse_merit());
        let names: Vec<&str> = schemes.iter().map(|s| s.dimension.as_str()).collect();
        assert_eq!(names, ["arousal", "valence", "dominance"]);
        assert!(schemes.iter().all(|s| s.rate_hz == DEFAULT_RATE_HZ));
        assert_eq!(schemes[0].range(), (1.0, 7.0));
    }

    #[test]
    fn listed_schemes_replace_the_default_and_are_checked() {
        let settings: TraceSettings = serde_json::from_str(
            r#"{"schemes": [{"dimension": "tension", "mode": {"kind": "relative"}},
                            {"dimension": "tension", "mode": {"kind": "bounded", "min": 1, "max": 1}, "rate_hz": 0.5}],
                "combine": "mean"}"#,
        )
        .unwrap();
        assert_eq!(settings.combine, PassCombine::Mean);
        let tension = settings
            .scheme(&LabelScheme::sparse_merit(), "tension")
            .unwrap();
        assert_eq!((tension.rate_hz, tension.range()), (25.0, (0.0, 1.0)));
        assert!(
            settings
                .scheme(&LabelScheme::sparse_merit(), "arousal")
                .is_none()
        );
        let problems = settings.problems().join("; ");
        assert!(problems.contains("appears twice"), "{problems}");
        assert!(problems.contains("min < max"), "{problems}");
        assert!(problems.contains("between 1 and 1000 Hz"), "{problems}");
    }
}
