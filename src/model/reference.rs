//! Speaker references for a speaker-relative model. Its emotion head classifies a recording's pooled
//! statistics against the speaker's own voice: the mean statistics of the same speaker's other
//! recordings (leave one out, as in training); when the speaker is unknown or has too few other
//! recordings, the model's mean of its training recordings of the speaker's gender, where the
//! collection gives the gender and the model has one; else the population's stored in the model.
//! Pure: the statistics come from analyses and the model's card.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

/// Fewest other recordings of a speaker that make a reference. Training formed each reference from
/// the speaker's 3 other clips in a batch; one other recording is too noisy to stand for a voice.
pub const MIN_OTHER_RECORDINGS: usize = 2;

/// A speaker's gender as far as references go (the model pipeline fits one reference per gender:
/// `models/training/merit/heads.py`, `GENDERS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Gender {
    Female,
    Male,
}

impl Gender {
    /// The gender a manifest's cell names (`female`, `F`, `woman`, ...; any case); none for
    /// anything else, which then gets no gender reference.
    #[must_use]
    pub fn parse(cell: &str) -> Option<Self> {
        match cell.trim().to_lowercase().as_str() {
            "female" | "f" | "woman" | "w" => Some(Self::Female),
            "male" | "m" | "man" => Some(Self::Male),
            _ => None,
        }
    }

    /// The name the model's card keys its references by.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Female => "female",
            Self::Male => "male",
        }
    }
}

/// What a collection says of one recording's voice.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Voice {
    pub speaker: Option<String>,
    pub gender: Option<Gender>,
}

/// The reference one recording is classified against.
#[derive(Debug, Clone, PartialEq)]
pub struct SpeakerReference {
    pub basis: ReferenceNote,
    pub values: Vec<f32>,
}

/// What an analysis records of the reference its labels used (none: the population's). Untagged,
/// so that cached analyses from before gender references read as they were written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ReferenceNote {
    /// The mean of `recordings` other recordings of `speaker`.
    Speaker { speaker: String, recordings: usize },
    /// The model's mean of its training recordings of `gender`.
    Gender { gender: Gender },
}

/// The model's gender references, as its card carries them (checked against the statistics width
/// by the contract).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GenderReferences(HashMap<Gender, Vec<f32>>);

impl GenderReferences {
    /// The references of the card's `gender_references`; genders the studio does not know are left
    /// out.
    #[must_use]
    pub fn from_card(references: &BTreeMap<String, Vec<f32>>) -> Self {
        Self(
            references
                .iter()
                .filter_map(|(name, values)| Some((Gender::parse(name)?, values.clone())))
                .collect(),
        )
    }

    /// The reference of a recording of `gender`, if the model has one.
    #[must_use]
    pub fn reference_for(&self, gender: Gender) -> Option<SpeakerReference> {
        Some(SpeakerReference {
            basis: ReferenceNote::Gender { gender },
            values: self.0.get(&gender)?.clone(),
        })
    }
}

impl SpeakerReference {
    #[must_use]
    pub fn note(&self) -> ReferenceNote {
        self.basis.clone()
    }

    /// A short key of the values, so that a cached analysis is reused only with the same reference.
    #[must_use]
    pub fn digest(&self) -> String {
        let mut hasher = blake3::Hasher::new();
        for value in &self.values {
            hasher.update(&value.to_le_bytes());
        }
        hasher.finalize().to_hex()[..12].to_owned()
    }
}

/// The per-recording statistics of a collection, by speaker, in the order they were added (so the
/// same collection always gives the same references, bit for bit).
#[derive(Debug, Clone, Default)]
pub struct SpeakerStatistics<K> {
    by_speaker: HashMap<String, Vec<(K, Vec<f32>)>>,
}

impl<K: PartialEq> SpeakerStatistics<K> {
    /// Notes recording `key`'s statistics under `speaker`.
    pub fn add(&mut self, key: K, speaker: &str, statistics: Vec<f32>) {
        self.by_speaker
            .entry(speaker.to_owned())
            .or_default()
            .push((key, statistics));
    }

    /// The reference of recording `key` of `speaker`: the mean statistics of the speaker's other
    /// recordings, if there are at least [`MIN_OTHER_RECORDINGS`] of one width.
    #[must_use]
    pub fn reference_for(&self, key: &K, speaker: &str) -> Option<SpeakerReference> {
        let others: Vec<&Vec<f32>> = self
            .by_speaker
            .get(speaker)?
            .iter()
            .filter(|(other, _)| other != key)
            .map(|(_, statistics)| statistics)
            .collect();
        let width = others.first()?.len();
        if others.len() < MIN_OTHER_RECORDINGS || others.iter().any(|s| s.len() != width) {
            return None;
        }
        let mut sums = vec![0.0_f64; width];
        for statistics in &others {
            for (sum, value) in sums.iter_mut().zip(statistics.iter()) {
                *sum += f64::from(*value);
            }
        }
        Some(SpeakerReference {
            basis: ReferenceNote::Speaker {
                speaker: speaker.to_owned(),
                recordings: others.len(),
            },
            values: sums
                .into_iter()
                .map(|sum| (sum / others.len() as f64) as f32)
                .collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reference_is_the_mean_of_the_speakers_other_recordings() {
        let mut statistics = SpeakerStatistics::default();
        statistics.add("a1", "ann", vec![1.0, 10.0]);
        statistics.add("a2", "ann", vec![3.0, 20.0]);
        statistics.add("a3", "ann", vec![5.0, 60.0]);
        statistics.add("b1", "bob", vec![7.0, 7.0]);
        statistics.add("b2", "bob", vec![9.0, 9.0]);
        let reference = statistics.reference_for(&"a1", "ann").unwrap();
        assert_eq!(reference.values, vec![4.0, 40.0]);
        let note = |recordings| ReferenceNote::Speaker {
            speaker: "ann".into(),
            recordings,
        };
        assert_eq!(reference.note(), note(2));
        // A recording not analysed yet gets the mean of all the speaker's recordings.
        let unseen = statistics.reference_for(&"a4", "ann").unwrap();
        assert_eq!((unseen.note(), unseen.values), (note(3), vec![3.0, 30.0]));
        // Bob has only one other recording: the model's population reference is used instead.
        assert!(statistics.reference_for(&"b1", "bob").is_none());
        assert!(statistics.reference_for(&"c1", "cy").is_none());
    }

    #[test]
    fn the_digest_follows_the_values() {
        let reference = |values: Vec<f32>| SpeakerReference {
            basis: ReferenceNote::Gender {
                gender: Gender::Male,
            },
            values,
        };
        let a = reference(vec![1.0, 2.0]);
        assert_eq!(a.digest(), reference(vec![1.0, 2.0]).digest());
        assert_ne!(a.digest(), reference(vec![1.0, 2.000_001]).digest());
        assert_eq!(a.digest().len(), 12);
    }

    #[test]
    fn manifest_spellings_name_a_gender_and_the_card_gives_its_reference() {
        for cell in ["female", "F", " Woman "] {
            assert_eq!(Gender::parse(cell), Some(Gender::Female));
        }
        for cell in ["male", "M", "MAN"] {
            assert_eq!(Gender::parse(cell), Some(Gender::Male));
        }
        for cell in ["", "x", "unknown", "nonbinary"] {
            assert_eq!(Gender::parse(cell), None);
        }
        let card = BTreeMap::from([
            ("female".to_owned(), vec![1.0, 2.0]),
            ("other".to_owned(), vec![9.0, 9.0]),
        ]);
        let references = GenderReferences::from_card(&card);
        let female = references.reference_for(Gender::Female).unwrap();
        assert_eq!(female.values, vec![1.0, 2.0]);
        assert_eq!(
            female.note(),
            ReferenceNote::Gender {
                gender: Gender::Female
            }
        );
        assert!(references.reference_for(Gender::Male).is_none());
    }

    #[test]
    fn notes_written_before_gender_references_still_read() {
        let old: ReferenceNote =
            serde_json::from_str(r#"{"speaker": "ann", "recordings": 3}"#).unwrap();
        assert_eq!(
            old,
            ReferenceNote::Speaker {
                speaker: "ann".into(),
                recordings: 3
            }
        );
        let gender = ReferenceNote::Gender {
            gender: Gender::Female,
        };
        let json = serde_json::to_string(&gender).unwrap();
        assert_eq!(json, r#"{"gender":"female"}"#);
        assert_eq!(
            serde_json::from_str::<ReferenceNote>(&json).unwrap(),
            gender
        );
    }

    #[test]
    fn statistics_of_another_width_make_no_reference() {
        let mut statistics = SpeakerStatistics::default();
        statistics.add(1, "s", vec![1.0, 2.0]);
        statistics.add(2, "s", vec![1.0]);
        statistics.add(3, "s", vec![1.0, 2.0]);
        assert!(statistics.reference_for(&3, "s").is_none());
    }
}
