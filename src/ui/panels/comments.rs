//! The comments side panel (N): every annotator's comments on the open recording, as threads
//! (replies under the comment they answer), with who wrote them, when, and on which segment; a
//! field to add one (on the selected segment, else on the recording) or to reply; your own
//! comments can be resolved and reopened. Each is a journal edit of the writer's label.

use crate::annotation::{Comment, CommentRef, Op};
use crate::ui::commands::{Action, CommandSender};
use crate::ui::view::StudioView;

/// The text being typed and the comment it answers (egui memory of the panel).
#[derive(Debug, Clone, Default)]
struct Draft {
    text: String,
    reply_to: Option<CommentRef>,
}

/// A comment with its author, for threading.
struct Entry<'a> {
    author: &'a str,
    comment: &'a Comment,
}

fn when(time_ms: u64) -> String {
    jiff::Timestamp::from_millisecond(i64::try_from(time_ms).unwrap_or(0)).map_or_else(
        |_| String::new(),
        |t| t.strftime("%Y-%m-%d %H:%M").to_string(),
    )
}

/// Draws `entry` and, indented, the replies to it.
fn thread_ui(
    ui: &mut egui::Ui,
    entries: &[Entry<'_>],
    entry: &Entry<'_>,
    me: Option<&str>,
    draft: &mut Draft,
    commands: &CommandSender,
    depth: usize,
) {
    let comment = entry.comment;
    ui.horizontal_wrapped(|ui| {
        ui.add_space(12.0 * depth as f32);
        let on = comment
            .segment
            .map_or_else(|| "recording".to_owned(), |id| format!("segment {id}"));
        ui.weak(format!(
            "{} · {} · {on}",
            entry.author,
            when(comment.time_ms)
        ));
        if comment.resolved {
            ui.weak("· resolved");
        }
    });
    ui.horizontal_wrapped(|ui| {
        ui.add_space(12.0 * depth as f32);
        ui.label(&comment.text);
    });
    ui.horizontal(|ui| {
        ui.add_space(12.0 * depth as f32);
        if ui.small_button("Reply").clicked() {
            draft.reply_to = Some(CommentRef {
                author: entry.author.to_owned(),
                id: comment.id,
            });
        }
        if me == Some(entry.author) {
            let text = if comment.resolved {
                "Reopen"
            } else {
                "Resolve"
            };
            if ui.small_button(text).clicked() {
                commands.send(Action::EditLabel(Op::PutComment {
                    comment: Comment {
                        resolved: !comment.resolved,
                        ..comment.clone()
                    },
                }));
            }
        }
    });
    for reply in entries.iter().filter(|e| {
        e.comment
            .reply_to
            .as_ref()
            .is_some_and(|r| r.author == entry.author && r.id == comment.id)
    }) {
        thread_ui(ui, entries, reply, me, draft, commands, depth + 1);
    }
}

pub fn comments_ui(ui: &mut egui::Ui, view: &StudioView<'_>, commands: &CommandSender) {
    let Some(file) = view.current_file() else {
        ui.weak("Open a recording to see its comments.");
        return;
    };
    ui.strong("Comments");
    let mut entries: Vec<Entry<'_>> = view
        .labelling
        .annotations
        .labels_of(file)
        .into_iter()
        .flat_map(|by| by.iter())
        .flat_map(|(author, label)| {
            label.comments.iter().map(move |comment| Entry {
                author: author.as_str(),
                comment,
            })
        })
        .collect();
    entries.sort_by_key(|e| e.comment.time_ms);
    let me = view.labelling.annotations.annotator();
    let id = ui.make_persistent_id(("comment draft", file));
    let mut draft: Draft = ui.data(|d| d.get_temp(id)).unwrap_or_default();
    egui::ScrollArea::vertical()
        .max_height(ui.available_height() - 90.0)
        .show(ui, |ui| {
            // Top-level comments, and replies whose comment is gone (a removed one) at the top too.
            let is_root = |e: &&Entry<'_>| {
                e.comment.reply_to.as_ref().is_none_or(|r| {
                    !entries
                        .iter()
                        .any(|other| other.author == r.author && other.comment.id == r.id)
                })
            };
            for entry in entries.iter().filter(is_root) {
                thread_ui(ui, &entries, entry, me, &mut draft, commands, 0);
                ui.separator();
            }
            if entries.is_empty() {
                ui.weak("No comments yet.");
            }
        });
    let segment = view.segments.selected;
    let target = match (&draft.reply_to, segment) {
        (Some(r), _) => format!("Reply to {}'s comment {}", r.author, r.id),
        (None, Some(id)) => format!("On segment {id}"),
        (None, None) => "On the recording".to_owned(),
    };
    ui.horizontal(|ui| {
        ui.weak(target);
        if draft.reply_to.is_some() && ui.small_button("×").on_hover_text("not a reply").clicked()
        {
            draft.reply_to = None;
        }
    });
    let field = ui.add(
        egui::TextEdit::multiline(&mut draft.text)
            .hint_text("a comment")
            .desired_rows(2)
            .desired_width(f32::INFINITY),
    );
    let add = ui
        .add_enabled(
            me.is_some() && !draft.text.trim().is_empty(),
            egui::Button::new("Add comment"),
        )
        .on_hover_text(if me.is_some() {
            "written to your journal (Ctrl+Enter in the field)"
        } else {
            "choose an annotator first"
        });
    let submit =
        field.has_focus() && ui.input(|i| i.modifiers.command && i.key_pressed(egui::Key::Enter));
    if add.clicked() || (submit && me.is_some() && !draft.text.trim().is_empty()) {
        let reply_to = draft.reply_to.take();
        // A reply is about what its comment is about.
        let segment = match &reply_to {
            Some(r) => entries
                .iter()
                .find(|e| e.author == r.author && e.comment.id == r.id)
                .and_then(|e| e.comment.segment),
            None => segment,
        };
        commands.send(Action::AddComment {
            text: std::mem::take(&mut draft.text).trim().to_owned(),
            segment,
            reply_to,
        });
    }
    ui.data_mut(|d| d.insert_temp(id, draft));
}
