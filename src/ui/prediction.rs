//! The model's verdict on one recording as the browser shows it: from a finished analysis, or
//! from the analysis cache's summary of one (a reopened project).

use crate::jobs::batch::AnalyzeError;
use crate::jobs::cache::Summary;
use crate::model::analysis::SignalAnalysis;
use crate::model::reference::ReferenceNote;

/// The model's verdict on one recording, as the browser shows it.
#[derive(Debug, Clone, PartialEq)]
pub enum Prediction {
    Analysed {
        class: String,
        confidence: f32,
        /// Class probabilities in the model's class order.
        probs: Vec<f32>,
        classes: Vec<String>,
    },
    Failed(String),
}

impl From<Summary> for Prediction {
    fn from(summary: Summary) -> Self {
        Self::Analysed {
            class: summary.class,
            confidence: summary.probs.iter().copied().fold(0.0, f32::max),
            probs: summary.probs,
            classes: summary.classes,
        }
    }
}

/// What a speaker-relative model's analysis was classified against, as one short line (none for
/// other models), and why.
#[must_use]
pub fn speaker_reference_line(analysis: &SignalAnalysis) -> Option<(String, &'static str)> {
    const WHY: &str = "This model classifies a recording against its speaker's own voice: the mean \
        of the speaker's other analysed recordings (the manifest's speaker column, at least 2). \
        Without them it compares with the voices of the speaker's gender it was trained on (the \
        manifest's gender column), else with all of them, which is less reliable for a voice it \
        has never heard. Analyse all to give every speaker a reference.";
    let line = match (&analysis.reference, &analysis.statistics) {
        (
            Some(ReferenceNote::Speaker {
                speaker,
                recordings,
            }),
            _,
        ) => format!("against {speaker}'s voice ({recordings} other recordings)"),
        (Some(ReferenceNote::Gender { gender }), _) => {
            format!("against {} voices (no speaker reference)", gender.as_str())
        }
        (None, Some(_)) => "against all voices (no speaker reference)".into(),
        (None, None) => return None,
    };
    Some((line, WHY))
}

impl Prediction {
    /// The prediction a finished analysis gives; `None` for a cancelled one (nothing was learnt).
    pub(super) fn of(result: &Result<SignalAnalysis, AnalyzeError>) -> Option<Self> {
        match result {
            Ok(analysis) => Some(Summary::of(analysis).into()),
            Err(error) if error.is_cancelled() => None,
            Err(error) => Some(Self::Failed(error.to_string())),
        }
    }
}
