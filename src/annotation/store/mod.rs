//! The project's annotations: the replay of every annotator's snapshot and journal, one writer
//! (the current annotator), and undo/redo as edits in that writer's journal.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use super::AnnotationError;
use super::annotator::{normalise_annotator, same_but_for_case};
use super::journal::{self, Entry, JournalContents, JournalWarning, JournalWriter, read_journal};
use super::label::{Label, Op};

/// An edit that is on disk (fsynced) and applied.
#[derive(Debug, Clone, PartialEq)]
pub struct Applied {
    pub entry: Entry,
}

/// An edit to replay for undo or redo: apply `op` to `file`'s label; it reverts edit `seq`.
#[derive(Debug, Clone)]
struct Step {
    file: String,
    op: Op,
    seq: u64,
}

#[derive(Debug, Default)]
pub struct AnnotationStore {
    folder: PathBuf,
    /// Recording (as listed) → annotator → label.
    labels: HashMap<String, BTreeMap<String, Label>>,
    warnings: Vec<JournalWarning>,
    writer: Option<JournalWriter>,
    undo: Vec<Step>,
    redo: Vec<Step>,
    lines: usize,
}

impl AnnotationStore {
    /// Loads every annotator's journal under `project_root/annotations` (a missing folder is an
    /// empty store).
    ///
    /// # Errors
    /// A journal exists but cannot be read at all; damaged lines only add warnings.
    pub fn load(project_root: &Path) -> Result<Self, AnnotationError> {
        let folder = project_root.join(journal::FOLDER);
        let mut store = Self {
            folder: folder.clone(),
            ..Self::default()
        };
        for annotator in journal::annotators_in(&folder) {
            let contents = read_journal(&folder, &annotator)?;
            store.absorb(&annotator, contents);
        }
        Ok(store)
    }

    fn absorb(&mut self, annotator: &str, contents: JournalContents) {
        if let Some(snapshot) = contents.snapshot {
            for (file, label) in snapshot.labels {
                self.labels
                    .entry(file)
                    .or_default()
                    .insert(annotator.to_owned(), label);
            }
        }
        self.lines += contents.entries.len();
        for entry in contents.entries {
            if entry.annotator == annotator {
                self.apply(&entry);
            } else {
                self.warnings.push(JournalWarning {
                    path: journal::journal_path(&self.folder, annotator),
                    line: None,
                    message: format!(
                        "edit {} names annotator {:?}; ignored",
                        entry.seq, entry.annotator
                    ),
                });
            }
        }
        self.warnings.extend(contents.warnings);
    }

    fn apply(&mut self, entry: &Entry) -> Op {
        let label = self
            .labels
            .entry(entry.file.clone())
            .or_default()
            .entry(entry.annotator.clone())
            .or_default();
        label.updated_ms = entry.time_ms;
        label.apply(&entry.op)
    }

    /// Makes `annotator` the one whose edits are written (taking their journal's lock).
    ///
    /// # Errors
    /// A bad name, the journal locked by another studio, or a folder that cannot be written.
    pub fn set_annotator(&mut self, annotator: &str) -> Result<(), AnnotationError> {
        let annotator = &normalise_annotator(annotator)?;
        if let Some(existing) = journal::annotators_in(&self.folder)
            .into_iter()
            .find(|existing| same_but_for_case(annotator, existing))
        {
            return Err(AnnotationError::CaseTwin {
                name: annotator.clone(),
                existing,
            });
        }
        self.writer = None;
        self.undo.clear();
        self.redo.clear();
        let contents = read_journal(&self.folder, annotator)?;
        self.writer = Some(JournalWriter::open(&self.folder, annotator, &contents)?);
        Ok(())
    }

    /// Sequence number of the current annotator's next edit.
    #[must_use]
    pub fn next_seq(&self) -> Option<u64> {
        self.writer.as_ref().map(JournalWriter::next_seq)
    }

    /// The annotator whose edits are written, if any.
    #[must_use]
    pub fn annotator(&self) -> Option<&str> {
        self.writer.as_ref().map(JournalWriter::annotator)
    }

    /// Writes `op` on `file` to the current annotator's journal (durably), then applies it.
    ///
    /// # Errors
    /// No annotator chosen, or the journal cannot be written (nothing changes then).
    pub fn edit(&mut self, file: &str, op: Op) -> Result<Applied, AnnotationError> {
        let writer = self.writer.as_mut().ok_or(AnnotationError::NoAnnotator)?;
        let entry = writer.append(file, op, None)?;
        let inverse = self.apply(&entry);
        self.undo.push(Step {
            file: entry.file.clone(),
            op: inverse,
            seq: entry.seq,
        });
        self.redo.clear();
        Ok(Applied { entry })
    }

    fn replay(&mut self, redo: bool) -> Result<Option<Applied>, AnnotationError> {
        let stack = if redo { &mut self.redo } else { &mut self.undo };
        let Some(step) = stack.pop() else {
            return Ok(None);
        };
        let Some(writer) = self.writer.as_mut() else {
            stack.push(step);
            return Err(AnnotationError::NoAnnotator);
        };
        let entry = match writer.append(&step.file, step.op.clone(), Some(step.seq)) {
            Ok(entry) => entry,
            Err(error) => {
                stack.push(step);
                return Err(error);
            }
        };
        let inverse = self.apply(&entry);
        let back = Step {
            file: entry.file.clone(),
            op: inverse,
            seq: entry.seq,
        };
        if redo {
            self.undo.push(back);
        } else {
            self.redo.push(back);
        }
        Ok(Some(Applied { entry }))
    }

    /// Reverts the current annotator's last edit (in any recording), as a new journal edit.
    ///
    /// # Errors
    /// As [`AnnotationStore::edit`].
    pub fn undo(&mut self) -> Result<Option<Applied>, AnnotationError> {
        self.replay(false)
    }

    /// Re-applies the last undone edit.
    ///
    /// # Errors
    /// As [`AnnotationStore::edit`].
    pub fn redo(&mut self) -> Result<Option<Applied>, AnnotationError> {
        self.replay(true)
    }

    #[must_use]
    pub fn can_undo(&self) -> bool {
        !self.undo.is_empty()
    }

    #[must_use]
    pub fn can_redo(&self) -> bool {
        !self.redo.is_empty()
    }

    /// Writes the current annotator's labels as a snapshot and empties their journal.
    ///
    /// # Errors
    /// No annotator chosen, or the files cannot be written.
    pub fn compact(&mut self) -> Result<(), AnnotationError> {
        let annotator = self
            .annotator()
            .ok_or(AnnotationError::NoAnnotator)?
            .to_owned();
        let labels: BTreeMap<String, Label> = self
            .labels
            .iter()
            .filter_map(|(file, by)| Some((file.clone(), by.get(&annotator)?.clone())))
            .collect();
        if let Some(writer) = self.writer.as_mut() {
            writer.compact(labels)?;
        }
        Ok(())
    }

    /// Every annotator's label for `file`.
    #[must_use]
    pub fn labels_of(&self, file: &str) -> Option<&BTreeMap<String, Label>> {
        self.labels.get(file)
    }

    #[must_use]
    pub fn label(&self, file: &str, annotator: &str) -> Option<&Label> {
        self.labels.get(file)?.get(annotator)
    }

    /// Everyone who has labelled something, and the current annotator.
    #[must_use]
    pub fn annotators(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .labels
            .values()
            .flat_map(|by| by.keys().cloned())
            .chain(self.annotator().map(str::to_owned))
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        names.sort();
        names
    }

    /// Recordings with labels that the collection no longer lists: kept, never dropped.
    #[must_use]
    pub fn orphans<'a>(&self, listed: impl IntoIterator<Item = &'a str>) -> Vec<String> {
        let listed: HashSet<&str> = listed.into_iter().collect();
        let mut orphans: Vec<String> = self
            .labels
            .keys()
            .filter(|file| !listed.contains(file.as_str()))
            .cloned()
            .collect();
        orphans.sort();
        orphans
    }

    /// Problems found while loading (with file and line).
    #[must_use]
    pub fn warnings(&self) -> &[JournalWarning] {
        &self.warnings
    }

    /// Journal lines replayed at load.
    #[must_use]
    pub fn lines_loaded(&self) -> usize {
        self.lines
    }

    /// The folder the journals live in.
    #[must_use]
    pub fn folder(&self) -> &Path {
        &self.folder
    }

    /// Every recording with labels, and its labels by annotator.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &BTreeMap<String, Label>)> {
        self.labels.iter()
    }
}

#[cfg(test)]
mod tests;
mod trace;
