//! Speaker references for a speaker-relative model. Its emotion head classifies a recording's pooled
//! statistics against the speaker's own voice: the mean statistics of the same speaker's other
//! recordings (leave one out, as in training), or the population's stored in the model when the
//! speaker is unknown or has too few other recordings. Pure: the statistics come from analyses.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

/// Fewest other recordings of a speaker that make a reference. Training formed each reference from
/// the speaker's 3 other clips in a batch; one other recording is too noisy to stand for a voice.
pub const MIN_OTHER_RECORDINGS: usize = 2;

/// The reference one recording is classified against.
#[derive(Debug, Clone, PartialEq)]
pub struct SpeakerReference {
    pub speaker: String,
    /// How many of the speaker's other recordings `values` is the mean of.
    pub recordings: usize,
    pub values: Vec<f32>,
}

/// What an analysis records of the reference its labels used (none: the population's).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReferenceNote {
    pub speaker: String,
    pub recordings: usize,
}

impl SpeakerReference {
    #[must_use]
    pub fn note(&self) -> ReferenceNote {
        ReferenceNote {
            speaker: self.speaker.clone(),
            recordings: self.recordings,
        }
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
            speaker: speaker.to_owned(),
            recordings: others.len(),
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
        assert_eq!(reference.recordings, 2);
        // A recording not analysed yet gets the mean of all the speaker's recordings.
        let unseen = statistics.reference_for(&"a4", "ann").unwrap();
        assert_eq!((unseen.values, unseen.recordings), (vec![3.0, 30.0], 3));
        // Bob has only one other recording: the model's population reference is used instead.
        assert!(statistics.reference_for(&"b1", "bob").is_none());
        assert!(statistics.reference_for(&"c1", "cy").is_none());
    }

    #[test]
    fn the_digest_follows_the_values() {
        let reference = |values: Vec<f32>| SpeakerReference {
            speaker: "s".into(),
            recordings: 2,
            values,
        };
        let a = reference(vec![1.0, 2.0]);
        assert_eq!(a.digest(), reference(vec![1.0, 2.0]).digest());
        assert_ne!(a.digest(), reference(vec![1.0, 2.000_001]).digest());
        assert_eq!(a.digest().len(), 12);
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
