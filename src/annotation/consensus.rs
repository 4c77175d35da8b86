//! Consensus of several annotators for one recording: the plurality class (no agreement on a tie,
//! as MSP-Podcast marks it with X), mean attributes, and the vote distribution as a soft label.

use std::collections::BTreeMap;

use super::label::Label;

/// Class id MSP-Podcast uses (as letter X) when annotators tie.
pub const NO_AGREEMENT: &str = "no_agreement";

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Consensus {
    /// The plurality class; [`NO_AGREEMENT`] on a tie; `None` when nobody chose a class.
    pub class: Option<String>,
    /// Votes per class.
    pub votes: BTreeMap<String, usize>,
    /// Mean of each attribute over the annotators who rated it.
    pub attributes: BTreeMap<String, f64>,
    /// Annotators with any label for the recording.
    pub annotators: usize,
}

impl Consensus {
    /// Votes as fractions (the soft label).
    #[must_use]
    pub fn distribution(&self) -> BTreeMap<String, f64> {
        let total: usize = self.votes.values().sum();
        self.votes
            .iter()
            .map(|(class, &n)| (class.clone(), n as f64 / total.max(1) as f64))
            .collect()
    }
}

/// The consensus of `labels` (one per annotator).
#[must_use]
pub fn consensus<'a>(labels: impl IntoIterator<Item = &'a Label>) -> Consensus {
    let mut result = Consensus::default();
    let mut sums: BTreeMap<String, (f64, usize)> = BTreeMap::new();
    for label in labels {
        result.annotators += 1;
        if let Some(class) = &label.class {
            *result.votes.entry(class.clone()).or_default() += 1;
        }
        for (name, &value) in &label.attributes {
            let sum = sums.entry(name.clone()).or_default();
            sum.0 += value;
            sum.1 += 1;
        }
    }
    let most = result.votes.values().copied().max().unwrap_or(0);
    let leaders: Vec<&String> = result
        .votes
        .iter()
        .filter(|&(_, &n)| n == most)
        .map(|(class, _)| class)
        .collect();
    result.class = match leaders.as_slice() {
        [] => None,
        [one] => Some((*one).clone()),
        _ => Some(NO_AGREEMENT.to_owned()),
    };
    result.attributes = sums
        .into_iter()
        .map(|(name, (sum, n))| (name, sum / n as f64))
        .collect();
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn label(class: Option<&str>, arousal: Option<f64>) -> Label {
        Label {
            class: class.map(Into::into),
            attributes: arousal
                .map(|a| ("arousal".to_owned(), a))
                .into_iter()
                .collect(),
            ..Label::default()
        }
    }

    #[test]
    fn plurality_wins_and_ties_are_no_agreement() {
        let labels = [
            label(Some("angry"), Some(6.0)),
            label(Some("angry"), Some(5.0)),
            label(Some("sad"), None),
        ];
        let c = consensus(&labels);
        assert_eq!(c.class.as_deref(), Some("angry"));
        assert_eq!(c.attributes["arousal"], 5.5);
        assert_eq!(c.annotators, 3);
        let soft = c.distribution();
        assert!((soft["angry"] - 2.0 / 3.0).abs() < 1e-12);
        let tie = consensus(&[label(Some("angry"), None), label(Some("sad"), None)]);
        assert_eq!(tie.class.as_deref(), Some(NO_AGREEMENT));
        assert_eq!(consensus(&[label(None, Some(3.0))]).class, None);
    }
}
