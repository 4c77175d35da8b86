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
    /// Nobody has given it a class yet.
    pub unlabelled: bool,
    pub flagged: bool,
    /// The lowest CCC between two annotators' traces of any dimension (when two traced it).
    pub trace_ccc: Option<f64>,
    /// How far the model's proxy lies from the human mean trace, as a fraction of the scale
    /// (the largest over the traced dimensions).
    pub proxy_gap: Option<f64>,
}

/// The orders the review queue can take, by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum QueueOrder {
    /// Unreviewed first, then model uncertainty, model vs label, annotators' disagreement, flags.
    #[default]
    Combined,
    /// The model's least certain predictions first.
    ModelUncertainty,
    /// Recordings whose annotators disagree most (class votes) first.
    AnnotatorDisagreement,
    /// Recordings whose traces agree least (lowest pairwise CCC) first.
    LowTraceAgreement,
    /// Recordings where the model's proxy trace lies farthest from the human mean first.
    ProxyDisagrees,
    /// Recordings nobody labelled, the model's most confident predictions first (accept with Y,
    /// correct the rest): pre-labelling with the current model.
    PreLabelled,
}

impl QueueOrder {
    pub const ALL: [Self; 6] = [
        Self::Combined,
        Self::ModelUncertainty,
        Self::AnnotatorDisagreement,
        Self::LowTraceAgreement,
        Self::ProxyDisagrees,
        Self::PreLabelled,
    ];

    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Combined => "combined",
            Self::ModelUncertainty => "model uncertainty",
            Self::AnnotatorDisagreement => "annotators disagree",
            Self::LowTraceAgreement => "low trace agreement",
            Self::ProxyDisagrees => "model proxy disagrees with the human mean",
            Self::PreLabelled => "unlabelled, model most confident first",
        }
    }

    /// The order called `name` (as [`QueueOrder::name`] writes it, any case).
    #[must_use]
    pub fn by_name(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|o| o.name().eq_ignore_ascii_case(name.trim()))
    }

    /// Higher = sooner; `None`: the order says nothing about the item (it goes last).
    fn score(self, item: &QueueItem) -> Option<f64> {
        match self {
            Self::Combined => Some(item.priority()),
            Self::ModelUncertainty => item
                .probs
                .as_deref()
                .map(|p| 0.5 * normalised_entropy(p) + 0.5 * (1.0 - margin(p))),
            Self::AnnotatorDisagreement => item.item_agreement.map(|a| 1.0 - a),
            Self::LowTraceAgreement => item.trace_ccc.map(|c| -c),
            Self::ProxyDisagrees => item.proxy_gap,
            Self::PreLabelled => item
                .probs
                .as_deref()
                .filter(|_| item.unlabelled)
                .map(|p| p.iter().copied().fold(0.0, f32::max).into()),
        }
    }
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
    review_order_by(items, QueueOrder::Combined)
}

/// Collection indices in `order` (items it says nothing about last; ties keep collection order).
#[must_use]
pub fn review_order_by(items: &[QueueItem], order: QueueOrder) -> Vec<usize> {
    let mut ranked: Vec<(f64, usize)> = items
        .iter()
        .map(|i| (order.score(i).unwrap_or(f64::NEG_INFINITY), i.index))
        .collect();
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

    #[test]
    fn orders_are_chosen_by_name_and_trace_orders_rank_by_traces() {
        let item = |index, trace_ccc, proxy_gap| QueueItem {
            index,
            trace_ccc,
            proxy_gap,
            ..QueueItem::default()
        };
        let items = vec![
            item(0, Some(0.9), Some(0.1)),
            item(1, None, None),
            item(2, Some(0.2), Some(0.05)),
            item(3, Some(0.6), Some(0.4)),
        ];
        let low = QueueOrder::by_name("Low trace agreement").unwrap();
        assert_eq!(review_order_by(&items, low), vec![2, 3, 0, 1]);
        let proxy = QueueOrder::by_name("model proxy disagrees with the human mean").unwrap();
        assert_eq!(review_order_by(&items, proxy), vec![3, 0, 2, 1]);
        assert!(QueueOrder::by_name("alphabetical").is_none());
        for order in QueueOrder::ALL {
            assert_eq!(QueueOrder::by_name(order.name()), Some(order));
        }
    }

    #[test]
    fn pre_labelled_puts_unlabelled_recordings_first_most_confident_first() {
        let item = |index, top: f32, unlabelled| QueueItem {
            index,
            probs: Some(vec![top, 1.0 - top]),
            unlabelled,
            ..QueueItem::default()
        };
        let items = vec![
            item(0, 0.6, true),
            item(1, 0.99, false),
            item(2, 0.9, true),
            QueueItem {
                index: 3,
                unlabelled: true,
                ..QueueItem::default()
            },
        ];
        let order = QueueOrder::by_name("unlabelled, model most confident first").unwrap();
        // Labelled and unanalysed recordings say nothing to this order: last, in collection order.
        assert_eq!(review_order_by(&items, order), vec![2, 0, 1, 3]);
    }
}
