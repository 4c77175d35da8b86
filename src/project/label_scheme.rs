//! What annotators can say about a recording: emotion classes and attribute scales.

use serde::{Deserialize, Serialize};

/// One emotion class, as the project shows and stores it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmotionClass {
    /// Stable id stored in labels and exports, e.g. `angry`.
    pub id: String,
    /// Name shown in the studio, e.g. `Angry`.
    pub name: String,
    /// Key that sets this class in the studio, e.g. `1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hotkey: Option<String>,
    /// MSP-Podcast letter code (A, S, H, N, U, F, D, C, O, X) for import and export.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub msp_code: Option<String>,
}

/// A dimensional attribute on a numeric scale, e.g. arousal from 1 to 7.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttributeScale {
    pub id: String,
    pub name: String,
    pub min: f64,
    pub max: f64,
    /// Granularity of the scale (1 for MSP-Podcast's integer ratings).
    #[serde(default = "default_step")]
    pub step: f64,
}

fn default_step() -> f64 {
    1.0
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabelScheme {
    pub classes: Vec<EmotionClass>,
    #[serde(default)]
    pub attributes: Vec<AttributeScale>,
}

fn class(id: &str, name: &str, hotkey: &str, msp_code: &str) -> EmotionClass {
    EmotionClass {
        id: id.into(),
        name: name.into(),
        hotkey: Some(hotkey.into()),
        msp_code: Some(msp_code.into()),
    }
}

fn msp_attributes() -> Vec<AttributeScale> {
    [
        ("arousal", "Arousal"),
        ("valence", "Valence"),
        ("dominance", "Dominance"),
    ]
    .into_iter()
    .map(|(id, name)| AttributeScale {
        id: id.into(),
        name: name.into(),
        min: 1.0,
        max: 7.0,
        step: 1.0,
    })
    .collect()
}

impl LabelScheme {
    /// The ids of the scheme's attribute scales (`arousal`, …), in order.
    #[must_use]
    pub fn attribute_ids(&self) -> Vec<String> {
        self.attributes.iter().map(|a| a.id.clone()).collect()
    }

    /// The four classes of the released Sparse MERIT checkpoint, with MSP-Podcast attributes.
    #[must_use]
    pub fn sparse_merit() -> Self {
        Self {
            classes: vec![
                class("angry", "Angry", "1", "A"),
                class("sad", "Sad", "2", "S"),
                class("happy", "Happy", "3", "H"),
                class("neutral", "Neutral", "4", "N"),
            ],
            attributes: msp_attributes(),
        }
    }

    /// MSP-Podcast's eight primary emotions plus O (other) and X (no agreement).
    #[must_use]
    pub fn msp_podcast() -> Self {
        Self {
            classes: vec![
                class("angry", "Angry", "1", "A"),
                class("sad", "Sad", "2", "S"),
                class("happy", "Happy", "3", "H"),
                class("surprise", "Surprise", "4", "U"),
                class("fear", "Fear", "5", "F"),
                class("disgust", "Disgust", "6", "D"),
                class("contempt", "Contempt", "7", "C"),
                class("neutral", "Neutral", "8", "N"),
                class("other", "Other", "9", "O"),
                class("no_agreement", "No agreement", "0", "X"),
            ],
            attributes: msp_attributes(),
        }
    }

    #[must_use]
    pub fn class_by_id(&self, id: &str) -> Option<&EmotionClass> {
        self.classes.iter().find(|c| c.id == id)
    }

    /// The class a label names: by id, display name or MSP code, ignoring case.
    #[must_use]
    pub fn resolve_class(&self, label: &str) -> Option<&EmotionClass> {
        let label = label.trim();
        self.classes.iter().find(|c| {
            c.id.eq_ignore_ascii_case(label)
                || c.name.eq_ignore_ascii_case(label)
                || c.msp_code
                    .as_deref()
                    .is_some_and(|code| code.eq_ignore_ascii_case(label))
        })
    }

    /// Problems that make the scheme unusable: duplicate ids or hotkeys, empty scales.
    #[must_use]
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.classes.is_empty() {
            problems.push("the label scheme has no classes".to_owned());
        }
        for (i, a) in self.classes.iter().enumerate() {
            if a.id.trim().is_empty() {
                problems.push(format!("class {} has an empty id", i + 1));
            }
            for b in &self.classes[i + 1..] {
                if a.id == b.id {
                    problems.push(format!("class id `{}` appears twice", a.id));
                }
                if a.hotkey.is_some() && a.hotkey == b.hotkey {
                    problems.push(format!(
                        "classes `{}` and `{}` share the hotkey {}",
                        a.id,
                        b.id,
                        a.hotkey.as_deref().unwrap_or_default()
                    ));
                }
            }
        }
        for scale in &self.attributes {
            let ordered = scale.min < scale.max && scale.step > 0.0;
            if !ordered {
                problems.push(format!(
                    "attribute `{}` needs min < max and a positive step",
                    scale.id
                ));
            }
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_ids_names_and_msp_codes() {
        let scheme = LabelScheme::msp_podcast();
        assert_eq!(scheme.resolve_class("A").unwrap().id, "angry");
        assert_eq!(scheme.resolve_class("Neutral").unwrap().id, "neutral");
        assert_eq!(scheme.resolve_class(" sad ").unwrap().id, "sad");
        assert_eq!(scheme.resolve_class("x").unwrap().id, "no_agreement");
        assert!(scheme.resolve_class("bored").is_none());
    }

    #[test]
    fn built_in_schemes_are_valid_and_duplicates_are_found() {
        assert!(LabelScheme::sparse_merit().problems().is_empty());
        assert!(LabelScheme::msp_podcast().problems().is_empty());
        let mut scheme = LabelScheme::sparse_merit();
        scheme.classes[1].hotkey = Some("1".into());
        scheme.classes.push(scheme.classes[0].clone());
        let problems = scheme.problems();
        assert!(problems.iter().any(|p| p.contains("appears twice")));
        assert!(problems.iter().any(|p| p.contains("share the hotkey")));
    }
}
