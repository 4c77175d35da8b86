use super::*;

fn segment(id: u64, start_s: f64, end_s: f64, class: &str) -> Segment {
    Segment {
        id,
        start_s,
        end_s,
        class: class.into(),
        attributes: BTreeMap::new(),
    }
}

fn ops() -> Vec<Op> {
    vec![
        Op::SetClass {
            class: Some("angry".into()),
            source: ClassSource::Human,
            model: None,
        },
        Op::SetAttributes {
            values: [
                ("arousal".to_owned(), Some(6.0)),
                ("valence".to_owned(), Some(2.0)),
            ]
            .into(),
        },
        Op::PutSegment {
            segment: Segment {
                attributes: [("arousal".to_owned(), 5.0)].into(),
                ..segment(7, 1.0, 2.5, "sad")
            },
        },
        // A rating changed on segment 7: a put of the same id.
        Op::PutSegment {
            segment: segment(7, 1.0, 2.5, "sad"),
        },
        Op::SetNote {
            note: "laughs at the end".into(),
        },
        Op::SetFlag {
            flag: Flag::BadAudio,
            on: true,
        },
        Op::SetConfidence {
            confidence: Some(0.8),
        },
        Op::SetClass {
            class: Some("sad".into()),
            source: ClassSource::AcceptedModel,
            model: None,
        },
        Op::SetAttributes {
            values: [("arousal".to_owned(), None)].into(),
        },
        Op::PutSegment {
            segment: segment(8, 3.0, 4.0, "happy"),
        },
        // A split: 8 shortened, 9 added, in one edit.
        Op::EditSegments {
            remove: Vec::new(),
            put: vec![segment(8, 3.0, 3.5, "happy"), segment(9, 3.5, 4.0, "happy")],
        },
        // A merge: 8 extended, 9 removed.
        Op::EditSegments {
            remove: vec![9],
            put: vec![segment(8, 3.0, 4.0, "sad")],
        },
        Op::RemoveSegment { id: 7 },
        Op::EditSegments {
            remove: vec![8],
            put: Vec::new(),
        },
        Op::PutComment {
            comment: Comment {
                id: 20,
                segment: None,
                reply_to: None,
                time_ms: 1,
                text: "is this laughter?".into(),
                resolved: false,
            },
        },
        Op::PutComment {
            comment: Comment {
                id: 20,
                segment: None,
                reply_to: None,
                time_ms: 1,
                text: "is this laughter?".into(),
                resolved: true,
            },
        },
        Op::RemoveComment { id: 20 },
    ]
}

#[test]
fn every_edit_is_undone_by_its_inverse() {
    let mut label = Label::default();
    let mut states = vec![label.clone()];
    let mut inverses = Vec::new();
    for op in ops() {
        inverses.push(label.apply(&op));
        states.push(label.clone());
    }
    assert_eq!(label.class.as_deref(), Some("sad"));
    assert_eq!(label.source, ClassSource::AcceptedModel);
    assert_eq!(label.attributes, [("valence".to_owned(), 2.0)].into());
    assert!(label.segments.is_empty());
    states.pop();
    while let Some(inverse) = inverses.pop() {
        label.apply(&inverse);
        assert_eq!(Some(&label), states.last());
        states.pop();
    }
    assert!(label.is_empty());
}

#[test]
fn edits_read_as_the_journal_writes_them() {
    let json = serde_json::to_string(&ops()[0]).unwrap();
    assert_eq!(
        json,
        r#"{"op":"set_class","class":"angry","source":"human"}"#
    );
    let back: Op =
        serde_json::from_str(r#"{"op":"set_flag","flag":"not_speech","on":true}"#).unwrap();
    assert_eq!(
        back,
        Op::SetFlag {
            flag: Flag::NotSpeech,
            on: true
        }
    );
}
