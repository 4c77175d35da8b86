//! The review queue: which recording is most worth a human look next. Unreviewed recordings
//! first, then by how much there is to decide — model uncertainty, the model disagreeing with the
//! current label, annotators disagreeing with each other, flags.

/// What the queue knows about one recording.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct QueueItem {
    /// Collection index.
    pub index: usize,
    /// The model's class probabilities, if analysed.
    pub probs: Option<Vec<f32>>,
    /// Index of the current label's class among the model's classes, if any.
    pub label_class: Option<usize>,
    /// Fraction of annotators who chose the plurality class (1 when they all agree).
    pub item_agreement: Option<f64>,
    /// The current annotator has labelled it.
    pub reviewed: bool,
    pub flagged: bool,
}

/// Entropy of `probs` divided by its maximum (0 = certain, 1 = uniform).
#[must_use]
pub fn normalised_entropy(probs: &[f32]) -> f64 {
    if probs.len() < 2 {
        return 0.0;
    }
    let entropy: f64 = probs
        .iter()
        .map(|&p| f64::from(p))
        .filter(|&p| p > 0.0)
        .map(|p| -p * p.ln())
        .sum();
    entropy / (probs.len() as f64).ln()
}

/// Top probability minus the runner-up (small = the model hesitates between two classes).
#[must_use]
pub fn margin(probs: &[f32]) -> f64 {
    let mut sorted: Vec<f32> = probs.to_vec();
    sorted.sort_by(|a, b| b.total_cmp(a));
    f64::from(sorted.first().copied().unwrap_or(0.0) - sorted.get(1).copied().unwrap_or(0.0))
}

impl QueueItem {
    /// The model's top class, if analysed.
    #[must_use]
    pub fn predicted(&self) -> Option<usize> {
        self.probs.as_ref().and_then(|p| {
            p.iter()
                .enumerate()
                .max_by(|a, b| a.1.total_cmp(b.1))
                .map(|(i, _)| i)
        })
    }

    /// Higher = review sooner.
    #[must_use]
    pub fn priority(&self) -> f64 {
        let uncertainty = self.probs.as_deref().map_or(0.5, |p| {
            0.5 * normalised_entropy(p) + 0.5 * (1.0 - margin(p))
        });
        let model_disagrees = match (self.predicted(), self.label_class) {
            (Some(predicted), Some(label)) if predicted != label => 1.0,
            _ => 0.0,
        };
        let annotators_disagree = self.item_agreement.map_or(0.0, |a| 1.0 - a);
        f64::from(u8::from(!self.reviewed)) * 2.0
            + uncertainty
            + model_disagrees
            + annotators_disagree
            + f64::from(u8::from(self.flagged)) * 0.5
    }
}

/// Collection indices in review order (highest priority first; ties keep collection order).
#[must_use]
pub fn review_order(items: &[QueueItem]) -> Vec<usize> {
    let mut ranked: Vec<(f64, usize)> = items.iter().map(|i| (i.priority(), i.index)).collect();
    ranked.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    ranked.into_iter().map(|(_, index)| index).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uncertainty_measures() {
        assert!((normalised_entropy(&[0.25; 4]) - 1.0).abs() < 1e-6);
        assert!(normalised_entropy(&[1.0, 0.0, 0.0, 0.0]).abs() < 1e-12);
        assert!((margin(&[0.1, 0.5, 0.4]) - 0.1).abs() < 1e-6);
    }

    #[test]
    fn unreviewed_uncertain_and_disputed_recordings_come_first() {
        let confident = Some(vec![0.97, 0.01, 0.01, 0.01]);
        let items = vec![
            QueueItem {
                index: 0,
                probs: confident.clone(),
                label_class: Some(0),
                reviewed: true,
                item_agreement: Some(1.0),
                ..QueueItem::default()
            },
            QueueItem {
                index: 1,
                probs: confident.clone(),
                reviewed: false,
                ..QueueItem::default()
            },
            QueueItem {
                index: 2,
                probs: Some(vec![0.3, 0.3, 0.2, 0.2]),
                reviewed: false,
                ..QueueItem::default()
            },
            QueueItem {
                index: 3,
                probs: confident,
                label_class: Some(2),
                reviewed: true,
                item_agreement: Some(0.5),
                ..QueueItem::default()
            },
        ];
        assert_eq!(review_order(&items), vec![2, 1, 3, 0]);
    }
}
