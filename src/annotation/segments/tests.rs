use std::collections::BTreeMap;

use super::*;
use crate::annotation::Label;

fn seg(id: u64, start_s: f64, end_s: f64) -> Segment {
    Segment {
        id,
        start_s,
        end_s,
        class: "sad".into(),
        attributes: BTreeMap::new(),
    }
}

/// Two segments with a gap: 1.0–2.0 (id 1) and 3.0–4.0 (id 2), in a 5 s recording.
fn two() -> Label {
    Label {
        segments: vec![seg(1, 1.0, 2.0), seg(2, 3.0, 4.0)],
        ..Label::default()
    }
}

fn apply(label: &mut Label, edit: &SegmentEdit) -> Result<Option<Op>, SegmentError> {
    let op = edit.resolve(&label.segments, 5.0, 9)?;
    if let Some(op) = &op {
        check_fits(&label.segments, op)?;
        label.apply(op);
    }
    Ok(op)
}

fn bounds(label: &Label) -> Vec<(u64, f64, f64)> {
    label
        .segments
        .iter()
        .map(|s| {
            (
                s.id,
                (s.start_s * 1e6).round() / 1e6,
                (s.end_s * 1e6).round() / 1e6,
            )
        })
        .collect()
}

#[test]
fn a_new_segment_stops_at_its_neighbours_and_the_ends() {
    let mut label = two();
    let create = |anchor_s: f64, to_s: f64| SegmentEdit::Create {
        anchor_s,
        to_s,
        class: "happy".into(),
    };
    // Anchored in the gap, dragged across segment 2: stops at its start.
    apply(&mut label, &create(2.5, 4.5)).unwrap();
    assert_eq!(bounds(&label)[1], (9, 2.5, 3.0));
    // Backwards from the end of the recording past segment 2: stops at its end.
    let mut label = two();
    apply(&mut label, &create(6.0, 3.5)).unwrap();
    assert_eq!(bounds(&label)[2], (9, 4.0, 5.0));
    // An anchor inside a segment is refused; so is nothing left after stopping.
    let mut label = two();
    assert!(matches!(
        apply(&mut label, &create(1.5, 2.5)),
        Err(SegmentError::Inside { id: 1, .. })
    ));
    assert!(matches!(
        apply(&mut label, &create(2.0, 1.5)),
        Err(SegmentError::TooShort { .. })
    ));
    assert_eq!(label, two());
}

#[test]
fn nudging_stops_at_the_neighbour_the_ends_and_the_minimum_length() {
    let mut label = two();
    let nudge = |id, boundary, by_s| SegmentEdit::Nudge { id, boundary, by_s };
    apply(&mut label, &nudge(1, Boundary::End, 0.01)).unwrap();
    assert_eq!(bounds(&label)[0], (1, 1.0, 2.01));
    // 100 ms steps towards segment 2 stop at its start, then change nothing.
    for _ in 0..20 {
        apply(&mut label, &nudge(1, Boundary::End, 0.1)).unwrap();
    }
    assert_eq!(bounds(&label)[0], (1, 1.0, 3.0));
    assert_eq!(apply(&mut label, &nudge(1, Boundary::End, 0.1)), Ok(None));
    // The start cannot pass 0, nor come within 10 ms of the end.
    apply(&mut label, &nudge(1, Boundary::Start, -5.0)).unwrap();
    assert_eq!(bounds(&label)[0], (1, 0.0, 3.0));
    apply(&mut label, &nudge(1, Boundary::Start, 9.0)).unwrap();
    assert_eq!(bounds(&label)[0], (1, 2.99, 3.0));
    // The last segment's end stops at the recording's end.
    apply(&mut label, &nudge(2, Boundary::End, 9.0)).unwrap();
    assert_eq!(bounds(&label)[1], (2, 3.0, 5.0));
    let moved = SegmentEdit::Move {
        id: 2,
        boundary: Boundary::Start,
        to_s: 1.0,
    };
    apply(&mut label, &moved).unwrap();
    assert_eq!(bounds(&label)[1], (2, 3.0, 5.0), "stops at segment 1's end");
}

#[test]
fn split_and_merge_are_one_edit_each_and_undo_exactly() {
    let mut label = two();
    label.segments[0].attributes = [("arousal".to_owned(), 6.0)].into();
    let before = label.clone();
    let op = apply(&mut label, &SegmentEdit::Split { id: 1, at_s: 1.25 })
        .unwrap()
        .unwrap();
    assert_eq!(
        bounds(&label),
        vec![(1, 1.0, 1.25), (9, 1.25, 2.0), (2, 3.0, 4.0)]
    );
    assert!(label.segments.iter().all(|s| s.class == "sad"));
    assert_eq!(label.segments[0].attributes, label.segments[1].attributes);
    let mut check = before.clone();
    let inverse = check.apply(&op);
    check.apply(&inverse);
    assert_eq!(check, before);
    // Merging 9 with the next (2) covers the gap and keeps 9's class, id and ratings.
    apply(&mut label, &SegmentEdit::MergeWithNext { id: 9 }).unwrap();
    assert_eq!(bounds(&label), vec![(1, 1.0, 1.25), (9, 1.25, 4.0)]);
    assert_eq!(label.segments[1].attributes.get("arousal"), Some(&6.0));
    assert_eq!(
        apply(&mut label, &SegmentEdit::MergeWithNext { id: 9 }),
        Err(SegmentError::NoNext(9))
    );
    assert!(matches!(
        apply(&mut label, &SegmentEdit::Split { id: 1, at_s: 1.245 }),
        Err(SegmentError::SplitOutside { .. })
    ));
}

#[test]
fn class_and_removal_name_their_segment() {
    let mut label = two();
    let set = SegmentEdit::SetClass {
        id: 2,
        class: "angry".into(),
    };
    apply(&mut label, &set).unwrap();
    assert_eq!(label.segments[1].class, "angry");
    assert_eq!(apply(&mut label, &set), Ok(None), "already that class");
    apply(&mut label, &SegmentEdit::Remove { id: 1 }).unwrap();
    assert_eq!(bounds(&label), vec![(2, 3.0, 4.0)]);
    assert_eq!(
        apply(&mut label, &SegmentEdit::Remove { id: 1 }),
        Err(SegmentError::Missing(1))
    );
}

#[test]
fn overlapping_puts_are_refused_touching_ones_are_not() {
    let label = two();
    let put = |segment| Op::PutSegment { segment };
    assert!(matches!(
        check_fits(&label.segments, &put(seg(5, 1.5, 2.5))),
        Err(SegmentError::Overlap { id: 1, .. })
    ));
    assert!(matches!(
        check_fits(&label.segments, &put(seg(5, 0.0, 4.5))),
        Err(SegmentError::Overlap { .. })
    ));
    assert_eq!(check_fits(&label.segments, &put(seg(5, 2.0, 3.0))), Ok(()));
    // Replacing a segment by id does not overlap with itself.
    assert_eq!(check_fits(&label.segments, &put(seg(1, 0.5, 2.5))), Ok(()));
    let error = check_fits(&label.segments, &put(seg(1, 0.5, 3.5))).unwrap_err();
    assert!(error.to_string().contains("overlaps segment 2"), "{error}");
}

#[test]
fn neighbours_follow_time_order() {
    let label = two();
    let s = &label.segments;
    assert_eq!(neighbour(s, None, 0.0, true), Some(1));
    assert_eq!(neighbour(s, None, 2.5, true), Some(2));
    assert_eq!(neighbour(s, None, 2.5, false), Some(1));
    assert_eq!(neighbour(s, Some(1), 0.0, true), Some(2));
    assert_eq!(neighbour(s, Some(2), 0.0, true), None);
    assert_eq!(neighbour(s, Some(2), 0.0, false), Some(1));
    assert_eq!(segment_at(s, 3.5).map(|s| s.id), Some(2));
    assert_eq!(segment_at(s, 2.5), None);
}

#[test]
fn edits_read_from_label_lines() {
    let edit: SegmentEdit =
        serde_json::from_str(r#"{"nudge": {"id": 3, "boundary": "end", "by_s": -0.01}}"#).unwrap();
    assert_eq!(
        edit,
        SegmentEdit::Nudge {
            id: 3,
            boundary: Boundary::End,
            by_s: -0.01
        }
    );
    assert!(serde_json::from_str::<SegmentEdit>(r#"{"split": {"id": 3}}"#).is_err());
}
