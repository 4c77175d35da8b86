//! ELAN 3.0 files (`.eaf`, written with quick-xml): the tiers of `timed` (each annotator's class,
//! their segments, the consensus) with classes from a controlled vocabulary, and the comments.
//!
//! **Comments.** An EAF file has no element for remarks (ELAN keeps its own comments in a separate
//! file), so they go in free-text tiers of the linguistic type [`COMMENT_TYPE`]:
//! `comments (recording)`, one annotation over the whole recording, and `comments (NAME segments)`,
//! one annotation over each of NAME's segments that has comments. An annotation holds whole
//! threads, a comment a line, replies under the comment they answer:
//! `AUTHOR (2026-12-05T03:52:39Z, resolved): text`, `↳ ` before a reply. A thread goes where its
//! first comment points (a segment of that comment's author; a reply is about what it answers), or
//! on the recording, saying so, when that segment is not in the file. So no two annotations of a
//! tier overlap, as ELAN expects, and no comment tier's name is an annotator's tier (names have no
//! parentheses). The EAF importer refuses these tiers: a comment belongs to its author's journal.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesText, Event};

use super::super::ExportRow;
use super::timed::{intervals, tiers};
use crate::annotation::{Comment, Segment};
use crate::project::Project;

/// The linguistic type of the comment tiers; the importer knows them by it.
pub const COMMENT_TYPE: &str = "comment";
/// The linguistic type of the class and segment tiers (the emotion vocabulary).
const EMOTION_TYPE: &str = "emotion";

/// A tier as written: its id, linguistic type and annotations (start s, end s, text).
struct Tier {
    id: String,
    linguistic_type: &'static str,
    spans: Vec<(f64, f64, String)>,
}

/// ELAN 3.0: one tier per annotator, their segments and a consensus tier, classes from a controlled
/// vocabulary; the comment tiers after them.
pub(super) fn eaf(project: &Project, row: &ExportRow, duration: f64) -> String {
    let mut all: Vec<Tier> = tiers(row)
        .into_iter()
        .map(|(id, label)| Tier {
            id,
            linguistic_type: EMOTION_TYPE,
            spans: intervals(&label, duration)
                .into_iter()
                .filter(|(_, _, text)| !text.is_empty())
                .collect(),
        })
        .collect();
    all.extend(comment_tiers(row, duration));
    // Time slots come before the tiers in the file but are numbered while walking the tiers.
    let mut slots_ms = Vec::new();
    let tiers: Vec<(&Tier, Vec<(usize, &str)>)> = all
        .iter()
        .map(|tier| {
            let annotations = tier
                .spans
                .iter()
                .map(|(start, end, text)| {
                    slots_ms.extend([start, end].map(|t| (t * 1000.0).round() as u64));
                    (slots_ms.len() - 1, text.as_str())
                })
                .collect();
            (tier, annotations)
        })
        .collect();
    let mut writer = Writer::new_with_indent(Vec::new(), b' ', 4);
    let written = write_eaf(&mut writer, project, row, &slots_ms, &tiers);
    let mut text = String::from_utf8(writer.into_inner()).unwrap_or_default();
    if let Err(error) = written {
        // Writing into memory does not fail; keep the reason should it ever.
        tracing::warn!("{}: EAF not complete: {error}", row.file);
    }
    text.push('\n');
    text
}

/// What a thread is about: an annotator's segment (their name, its id), or (`None`) the recording.
type Place<'a> = Option<(&'a str, u64)>;

/// One comment as a line of its thread: author, time (UTC), whether resolved, text.
fn comment_line(author: &str, comment: &Comment, depth: usize) -> String {
    format!(
        "{}{author} ({}{}): {}",
        "↳ ".repeat(depth),
        super::super::provenance::iso8601_from_ms(comment.time_ms),
        if comment.resolved { ", resolved" } else { "" },
        comment.text
    )
}

/// The comment tiers of `row`: threads on the whole recording, then on each annotator's segments.
fn comment_tiers(row: &ExportRow, duration: f64) -> Vec<Tier> {
    let mut comments: Vec<(&str, &Comment)> = row
        .comments
        .iter()
        .flat_map(|(author, comments)| comments.iter().map(move |c| (author.as_str(), c)))
        .collect();
    comments.sort_by_key(|(author, c)| (c.time_ms, *author, c.id));
    let index: HashMap<(&str, u64), usize> = comments
        .iter()
        .enumerate()
        .map(|(i, (author, c))| ((*author, c.id), i))
        .collect();
    let parent = |i: usize| {
        let reply_to = comments[i].1.reply_to.as_ref()?;
        index
            .get(&(reply_to.author.as_str(), reply_to.id))
            .copied()
            .filter(|&p| p != i)
    };
    let mut replies: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for i in 0..comments.len() {
        if let Some(p) = parent(i) {
            replies.entry(p).or_default().push(i);
        }
    }
    // Threads start at comments that answer none here; a cycle of replies (a hand-edited journal)
    // starts at its oldest comment, so every comment is written once.
    let starts = (0..comments.len())
        .filter(|&i| parent(i).is_none())
        .chain(0..comments.len());
    let mut written = vec![false; comments.len()];
    let mut threads: BTreeMap<Place<'_>, (f64, f64, Vec<String>)> = BTreeMap::new();
    for start in starts {
        if written[start] {
            continue;
        }
        let (author, first) = comments[start];
        // The segment is its writer's, or, for a reply whose comment is not here, that comment's
        // writer's.
        let owner = first
            .reply_to
            .as_ref()
            .map_or(author, |r| r.author.as_str());
        let segment = first
            .segment
            .map(|id| (id, segment_of(row, owner, id, duration)));
        let (key, span_start, span_end, mut lines) = match segment {
            Some((id, Some((start_s, end_s)))) => (Some((owner, id)), start_s, end_s, Vec::new()),
            Some((id, None)) => (
                None,
                0.0,
                duration,
                vec![format!(
                    "(on {owner}'s segment {id}, which is not in this file)"
                )],
            ),
            None => (None, 0.0, duration, Vec::new()),
        };
        let mut stack = vec![(start, 0)];
        while let Some((i, depth)) = stack.pop() {
            if std::mem::replace(&mut written[i], true) {
                continue;
            }
            lines.push(comment_line(comments[i].0, comments[i].1, depth));
            for &reply in replies.get(&i).into_iter().flatten().rev() {
                stack.push((reply, depth + 1));
            }
        }
        threads
            .entry(key)
            .or_insert_with(|| (span_start, span_end, Vec::new()))
            .2
            .extend(lines);
    }
    // The recording's threads sort first, then each annotator's segments together.
    let mut tiers: Vec<Tier> = Vec::new();
    for (key, (start_s, end_s, lines)) in threads {
        let id = key.map_or_else(
            || "comments (recording)".to_owned(),
            |(owner, _)| format!("comments ({owner} segments)"),
        );
        if tiers.last().is_none_or(|tier| tier.id != id) {
            tiers.push(Tier {
                id,
                linguistic_type: COMMENT_TYPE,
                spans: Vec::new(),
            });
        }
        if let Some(tier) = tiers.last_mut() {
            tier.spans.push((start_s, end_s, lines.join("\n")));
        }
    }
    for tier in &mut tiers {
        tier.spans.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    tiers
}

/// Where segment `id` of `author`'s label lies within the recording, if it still does.
fn segment_of(row: &ExportRow, author: &str, id: u64, duration: f64) -> Option<(f64, f64)> {
    let segment: &Segment = row
        .by_annotator
        .get(author)?
        .segments
        .iter()
        .find(|s| s.id == id)?;
    let start = segment.start_s.clamp(0.0, duration);
    let end = segment.end_s.clamp(start, duration);
    (end > start).then_some((start, end))
}

fn write_eaf(
    writer: &mut Writer<Vec<u8>>,
    project: &Project,
    row: &ExportRow,
    slots_ms: &[u64],
    tiers: &[(&Tier, Vec<(usize, &str)>)],
) -> std::io::Result<()> {
    writer.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    let date = super::super::provenance::now_iso8601();
    let media_url = file_url(&row.path);
    writer
        .create_element("ANNOTATION_DOCUMENT")
        .with_attributes([
            ("AUTHOR", "MERIT Studio"),
            ("DATE", date.as_str()),
            ("FORMAT", "3.0"),
            ("VERSION", "3.0"),
            ("xmlns:xsi", "http://www.w3.org/2001/XMLSchema-instance"),
            (
                "xsi:noNamespaceSchemaLocation",
                "http://www.mpi.nl/tools/elan/EAFv3.0.xsd",
            ),
        ])
        .write_inner_content(|w| {
            w.create_element("HEADER")
                .with_attributes([("MEDIA_FILE", ""), ("TIME_UNITS", "milliseconds")])
                .write_inner_content(|w| {
                    w.create_element("MEDIA_DESCRIPTOR")
                        .with_attributes([
                            ("MEDIA_URL", media_url.as_str()),
                            ("RELATIVE_MEDIA_URL", row.file.as_str()),
                        ])
                        .write_empty()?;
                    for (name, value) in [
                        ("merit:project", &project.file.name),
                        ("merit:file", &row.file),
                    ] {
                        w.create_element("PROPERTY")
                            .with_attribute(("NAME", name))
                            .write_text_content(BytesText::new(value))?;
                    }
                    Ok(())
                })?;
            w.create_element("TIME_ORDER").write_inner_content(|w| {
                for (index, ms) in slots_ms.iter().enumerate() {
                    w.create_element("TIME_SLOT")
                        .with_attributes([
                            ("TIME_SLOT_ID", format!("ts{}", index + 1).as_str()),
                            ("TIME_VALUE", ms.to_string().as_str()),
                        ])
                        .write_empty()?;
                }
                Ok(())
            })?;
            let mut annotation = 0;
            for (tier, annotations) in tiers {
                w.create_element("TIER")
                    .with_attributes([
                        ("LINGUISTIC_TYPE_REF", tier.linguistic_type),
                        ("TIER_ID", tier.id.as_str()),
                    ])
                    .write_inner_content(|w| {
                        for (end_slot, text) in annotations {
                            annotation += 1;
                            w.create_element("ANNOTATION").write_inner_content(|w| {
                                w.create_element("ALIGNABLE_ANNOTATION")
                                    .with_attributes([
                                        ("ANNOTATION_ID", format!("a{annotation}").as_str()),
                                        ("TIME_SLOT_REF1", format!("ts{end_slot}").as_str()),
                                        ("TIME_SLOT_REF2", format!("ts{}", end_slot + 1).as_str()),
                                    ])
                                    .write_inner_content(|w| {
                                        w.create_element("ANNOTATION_VALUE")
                                            .write_text_content(BytesText::new(text))?;
                                        Ok(())
                                    })?;
                                Ok(())
                            })?;
                        }
                        Ok(())
                    })?;
            }
            w.create_element("LINGUISTIC_TYPE")
                .with_attributes([
                    ("CONTROLLED_VOCABULARY_REF", "emotions"),
                    ("GRAPHIC_REFERENCES", "false"),
                    ("LINGUISTIC_TYPE_ID", EMOTION_TYPE),
                    ("TIME_ALIGNABLE", "true"),
                ])
                .write_empty()?;
            if tiers.iter().any(|(t, _)| t.linguistic_type == COMMENT_TYPE) {
                w.create_element("LINGUISTIC_TYPE")
                    .with_attributes([
                        ("GRAPHIC_REFERENCES", "false"),
                        ("LINGUISTIC_TYPE_ID", COMMENT_TYPE),
                        ("TIME_ALIGNABLE", "true"),
                    ])
                    .write_empty()?;
            }
            w.create_element("LANGUAGE")
                .with_attributes([("LANG_ID", "eng"), ("LANG_LABEL", "English (eng)")])
                .write_empty()?;
            w.create_element("CONTROLLED_VOCABULARY")
                .with_attribute(("CV_ID", "emotions"))
                .write_inner_content(|w| {
                    w.create_element("DESCRIPTION")
                        .with_attribute(("LANG_REF", "eng"))
                        .write_text_content(BytesText::new(
                            "Emotion classes of the project's label scheme",
                        ))?;
                    for class in &project.file.label_scheme.classes {
                        w.create_element("CV_ENTRY_ML")
                            .with_attribute(("CVE_ID", class.id.as_str()))
                            .write_inner_content(|w| {
                                w.create_element("CVE_VALUE")
                                    .with_attribute(("LANG_REF", "eng"))
                                    .write_text_content(BytesText::new(&class.id))?;
                                Ok(())
                            })?;
                    }
                    Ok(())
                })?;
            Ok(())
        })?;
    Ok(())
}

/// A `file://` URL of `path` made absolute, percent-encoded as URLs need (spaces, `#`, non-ASCII).
fn file_url(path: &Path) -> String {
    std::path::absolute(path)
        .ok()
        .and_then(|absolute| url::Url::from_file_path(absolute).ok())
        .map_or_else(|| path.to_string_lossy().into_owned(), String::from)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::annotation::{CommentRef, Label};

    fn comment(id: u64, segment: Option<u64>, reply_to: Option<(&str, u64)>) -> Comment {
        Comment {
            id,
            segment,
            reply_to: reply_to.map(|(author, id)| CommentRef {
                author: author.into(),
                id,
            }),
            time_ms: id,
            text: format!("c{id}"),
            resolved: false,
        }
    }

    #[test]
    fn orphaned_replies_and_reply_cycles_are_each_written_once_where_they_belong() {
        let alice = Label {
            segments: vec![Segment {
                id: 3,
                start_s: 1.0,
                end_s: 2.0,
                class: "sad".into(),
                attributes: BTreeMap::new(),
            }],
            ..Label::default()
        };
        let row = ExportRow {
            file: "a.wav".into(),
            path: "a.wav".into(),
            speaker: None,
            gender: None,
            split: None,
            label: None,
            soft_label: BTreeMap::new(),
            attributes: BTreeMap::new(),
            source: "none",
            annotators: vec!["alice".into()],
            by_annotator: [("alice".to_owned(), alice)].into(),
            comments: [
                // A reply about alice's segment 3 to a comment of hers this file does not hold,
                // and two comments answering each other.
                (
                    "bob".to_owned(),
                    vec![
                        comment(1, Some(3), Some(("alice", 77))),
                        comment(2, None, Some(("alice", 4))),
                    ],
                ),
                ("alice".to_owned(), vec![comment(4, None, Some(("bob", 2)))]),
            ]
            .into(),
        };
        let tiers = comment_tiers(&row, 5.0);
        let ids: Vec<&str> = tiers.iter().map(|t| t.id.as_str()).collect();
        assert_eq!(ids, ["comments (recording)", "comments (alice segments)"]);
        assert_eq!(
            tiers[0].spans,
            [(
                0.0,
                5.0,
                "bob (1970-01-01T00:00:00Z): c2\n↳ alice (1970-01-01T00:00:00Z): c4".to_owned()
            )]
        );
        assert_eq!(
            tiers[1].spans,
            [(1.0, 2.0, "bob (1970-01-01T00:00:00Z): c1".to_owned())]
        );
    }
}
