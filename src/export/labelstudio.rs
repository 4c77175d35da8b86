//! Label Studio's JSON task format (`tasks.json`, importable into Label Studio) and the matching
//! labeling config (`labeling-config.xml`). A task per recording: `data.audio` and `data.file` are
//! the recording as the project lists it; `annotations` holds one annotation per annotator whose
//! `result` has the class (`choices` of the control `emotion`), each segment (`labels` of the
//! control `segment`, `start`/`end` in seconds), each attribute (`number` controls named after
//! the scheme's attributes) and each segment's attributes (`perRegion` `number` controls named
//! `segment_` and the attribute, whose results carry the id and times of the region they rate, as
//! Label Studio links them); `predictions` holds the model's utterance class with its `score` and
//! the trajectory's stretches of one top class as `labels` regions, under `model_version` = the
//! model's blake3 hash. Every region has an id unique in the file.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::rows::ExportRow;
use crate::project::LabelScheme;

/// The names of the controls and of the audio object in the config.
pub const CLASS_CONTROL: &str = "emotion";
pub const SEGMENT_CONTROL: &str = "segment";
pub const AUDIO_OBJECT: &str = "audio";
/// Per-region controls are named this and the attribute's id (a control name is unique in a
/// config, and the recording's own control has the attribute's plain name).
pub const REGION_CONTROL_PREFIX: &str = "segment_";

/// What the model said about one recording, for the `predictions` of its task.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelPrediction {
    /// The model's blake3 hash, as the studio shows it.
    pub model_version: String,
    pub class: String,
    pub score: f64,
    /// Stretches of the trajectory with one top class: (start s, end s, class, mean probability).
    pub regions: Vec<(f64, f64, String, f64)>,
}

/// The stretches of a trajectory (window centres `times_s`, class probabilities per window) where
/// one class is on top; each window reaches halfway to its neighbours (0 and `duration_s` at the
/// ends).
#[must_use]
pub fn trajectory_regions(
    times_s: &[f64],
    probs: &[Vec<f32>],
    classes: &[String],
    duration_s: f64,
) -> Vec<(f64, f64, String, f64)> {
    let mut regions: Vec<(f64, f64, String, f64, usize)> = Vec::new();
    for (index, (&t, row)) in times_s.iter().zip(probs).enumerate() {
        let Some((top, p)) = row
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map(|(i, p)| (i, f64::from(*p)))
        else {
            continue;
        };
        let Some(class) = classes.get(top) else {
            continue;
        };
        let start = if index == 0 {
            0.0
        } else {
            (times_s[index - 1] + t) / 2.0
        };
        let end = times_s
            .get(index + 1)
            .map_or(duration_s, |next| (t + next) / 2.0);
        match regions.last_mut() {
            Some(last) if last.2 == *class => {
                last.1 = end;
                last.3 += p;
                last.4 += 1;
            }
            _ => regions.push((start, end, class.clone(), p, 1)),
        }
    }
    regions
        .into_iter()
        .map(|(start, end, class, sum, n)| (start, end, class, sum / n as f64))
        .collect()
}

/// Escapes text for an XML attribute value.
fn attribute(text: &str) -> String {
    quick_xml::escape::escape(text).into_owned()
}

/// The labeling config matching the tasks: the audio, the class as single choice, segments as
/// labels, and two number controls per attribute of the scheme: the recording's, and a
/// `perRegion` one shown for the selected segment.
#[must_use]
pub fn labeling_config(scheme: &LabelScheme) -> String {
    let mut xml = String::from("<View>\n  <Header value=\"$file\"/>\n");
    xml += &format!("  <Audio name=\"{AUDIO_OBJECT}\" value=\"$audio\"/>\n");
    xml += &format!(
        "  <Choices name=\"{CLASS_CONTROL}\" toName=\"{AUDIO_OBJECT}\" choice=\"single\" showInline=\"true\">\n"
    );
    for class in &scheme.classes {
        xml += &format!("    <Choice value=\"{}\"/>\n", attribute(&class.id));
    }
    xml += "  </Choices>\n";
    xml += &format!("  <Labels name=\"{SEGMENT_CONTROL}\" toName=\"{AUDIO_OBJECT}\">\n");
    for class in &scheme.classes {
        xml += &format!("    <Label value=\"{}\"/>\n", attribute(&class.id));
    }
    xml += "  </Labels>\n";
    for (prefix, per_region) in [("", ""), (REGION_CONTROL_PREFIX, " perRegion=\"true\"")] {
        for scale in &scheme.attributes {
            xml += &format!(
                "  <Number name=\"{prefix}{}\" toName=\"{AUDIO_OBJECT}\" min=\"{}\" max=\"{}\" step=\"{}\"{per_region}/>\n",
                attribute(&scale.id),
                scale.min,
                scale.max,
                scale.step
            );
        }
    }
    xml + "</View>\n"
}

/// One result of a control on the audio.
fn result(id: &str, from_name: &str, kind: &str, value: &Value) -> Value {
    json!({
        "id": id,
        "from_name": from_name,
        "to_name": AUDIO_OBJECT,
        "type": kind,
        "value": value,
    })
}

/// The tasks of `rows`, with each row's model prediction (if any) as `predictions`.
#[must_use]
pub fn tasks(rows: &[ExportRow], predictions: &BTreeMap<String, ModelPrediction>) -> Value {
    let tasks: Vec<Value> = rows
        .iter()
        .enumerate()
        .map(|(index, row)| {
            let task_id = index + 1;
            let annotations: Vec<Value> = row
                .by_annotator
                .iter()
                .enumerate()
                .map(|(number, (annotator, label))| {
                    let prefix = format!("t{task_id}a{}", number + 1);
                    let mut results = Vec::new();
                    if let Some(class) = &label.class {
                        results.push(result(
                            &format!("{prefix}-class"),
                            CLASS_CONTROL,
                            "choices",
                            &json!({ "choices": [class] }),
                        ));
                    }
                    for segment in &label.segments {
                        let region = format!("{prefix}-s{}", segment.id);
                        let span = json!({
                            "start": segment.start_s,
                            "end": segment.end_s,
                            "channel": 0,
                        });
                        let with = |key: &str, value: Value| {
                            let mut value_of = span.clone();
                            value_of[key] = value;
                            value_of
                        };
                        results.push(result(
                            &region,
                            SEGMENT_CONTROL,
                            "labels",
                            &with("labels", json!([segment.class])),
                        ));
                        for (name, value) in &segment.attributes {
                            results.push(result(
                                &region,
                                &format!("{REGION_CONTROL_PREFIX}{name}"),
                                "number",
                                &with("number", json!(value)),
                            ));
                        }
                    }
                    for (name, value) in &label.attributes {
                        results.push(result(
                            &format!("{prefix}-{name}"),
                            name,
                            "number",
                            &json!({ "number": value }),
                        ));
                    }
                    json!({
                        "id": task_id * 1000 + number + 1,
                        "merit_annotator": annotator,
                        "result": results,
                    })
                })
                .collect();
            let predictions: Vec<Value> = predictions
                .get(&row.file)
                .map(|p| {
                    let mut results = vec![json!({
                        "id": format!("t{task_id}p-class"),
                        "from_name": CLASS_CONTROL,
                        "to_name": AUDIO_OBJECT,
                        "type": "choices",
                        "value": { "choices": [&p.class] },
                        "score": p.score,
                    })];
                    for (region, (start, end, class, score)) in p.regions.iter().enumerate() {
                        results.push(json!({
                            "id": format!("t{task_id}p-r{}", region + 1),
                            "from_name": SEGMENT_CONTROL,
                            "to_name": AUDIO_OBJECT,
                            "type": "labels",
                            "value": { "start": start, "end": end, "channel": 0, "labels": [class] },
                            "score": score,
                        }));
                    }
                    json!({ "model_version": p.model_version, "score": p.score, "result": results })
                })
                .into_iter()
                .collect();
            json!({
                "id": task_id,
                "data": { "audio": row.file, "file": row.file },
                "annotations": annotations,
                "predictions": predictions,
            })
        })
        .collect();
    Value::Array(tasks)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trajectory_stretches_merge_and_meet_halfway() {
        let classes = vec!["angry".to_owned(), "sad".to_owned()];
        let times = [0.5, 1.5, 2.5, 3.5];
        let probs = vec![
            vec![0.9, 0.1],
            vec![0.7, 0.3],
            vec![0.2, 0.8],
            vec![0.4, 0.6],
        ];
        let regions = trajectory_regions(&times, &probs, &classes, 4.2);
        assert_eq!(regions.len(), 2);
        assert_eq!(
            (regions[0].0, regions[0].1, regions[0].2.as_str()),
            (0.0, 2.0, "angry")
        );
        assert!((regions[0].3 - 0.8).abs() < 1e-6);
        assert_eq!(
            (regions[1].0, regions[1].1, regions[1].2.as_str()),
            (2.0, 4.2, "sad")
        );
    }

    #[test]
    fn the_config_escapes_names_and_lists_every_control() {
        let mut scheme = LabelScheme::sparse_merit();
        scheme.classes[0].id = "a\"<b>&c".into();
        let xml = labeling_config(&scheme);
        assert!(
            xml.contains("<Choice value=\"a&quot;&lt;b&gt;&amp;c\"/>"),
            "{xml}"
        );
        assert!(xml.contains("<Number name=\"arousal\""), "{xml}");
        assert!(
            xml.contains("<Number name=\"segment_arousal\" toName=\"audio\" min=\"1\" max=\"7\" step=\"1\" perRegion=\"true\"/>"),
            "{xml}"
        );
        assert!(
            xml.contains("<Labels name=\"segment\" toName=\"audio\">"),
            "{xml}"
        );
    }
}
