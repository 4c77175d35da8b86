//! Each annotator's journal: `annotations/<annotator>.jsonl` inside the project, one edit per line,
//! appended and fsynced before the edit counts as saved; a lock file so two studios never write
//! the same journal; and snapshots that compact a journal atomically.
//!
//! Reading is forgiving: a torn last line (the process was killed mid-write) is ignored with a
//! warning, a malformed line or an unknown schema version is reported with file and line, and
//! everything else loads.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::AnnotationError;
use super::annotator::normalise_annotator;
use super::label::{Label, Op};
use super::lock::JournalLock;
use crate::fsio::{refuse_link, sync_folder, write_atomically};

/// Version of the journal line and snapshot formats.
pub const SCHEMA_VERSION: u32 = 1;
/// Folder inside the project that holds the journals.
pub const FOLDER: &str = "annotations";

/// One line of a journal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub v: u32,
    /// Increases by one per edit within an annotator's journal.
    pub seq: u64,
    pub annotator: String,
    /// Milliseconds since the Unix epoch.
    pub time_ms: u64,
    /// The recording, as the project lists it.
    pub file: String,
    #[serde(flatten)]
    pub op: Op,
    /// Set when this edit undoes (or redoes) the edit with this sequence number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub undo_of: Option<u64>,
}

/// A journal compacted into labels: everything up to and including `through_seq`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    pub v: u32,
    pub annotator: String,
    pub through_seq: u64,
    pub labels: BTreeMap<String, Label>,
}

/// A problem found while reading, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalWarning {
    pub path: PathBuf,
    pub line: Option<u64>,
    pub message: String,
}

impl std::fmt::Display for JournalWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}: {}", self.path.display(), self.message),
            None => write!(f, "{}: {}", self.path.display(), self.message),
        }
    }
}

/// Whether `name` is an annotator name as stored: already normalised and following the rule of
/// [`super::annotator`].
///
/// # Errors
/// [`AnnotationError::BadAnnotator`] naming the problem.
pub fn check_annotator(name: &str) -> Result<(), AnnotationError> {
    match normalise_annotator(name) {
        Ok(normalised) if normalised == name => Ok(()),
        _ => Err(AnnotationError::BadAnnotator(name.to_owned())),
    }
}

#[must_use]
pub fn journal_path(folder: &Path, annotator: &str) -> PathBuf {
    folder.join(format!("{annotator}.jsonl"))
}

#[must_use]
pub fn snapshot_path(folder: &Path, annotator: &str) -> PathBuf {
    folder.join(format!("{annotator}.snapshot.json"))
}

fn lock_path(folder: &Path, annotator: &str) -> PathBuf {
    folder.join(format!("{annotator}.lock"))
}

/// What one annotator's files hold.
#[derive(Debug, Default)]
pub struct JournalContents {
    pub snapshot: Option<Snapshot>,
    /// Entries after the snapshot, in file order.
    pub entries: Vec<Entry>,
    pub warnings: Vec<JournalWarning>,
    /// Byte length of the journal up to its last complete line (a torn tail is cut off here
    /// before the next append).
    pub complete_len: u64,
}

/// Reads an annotator's snapshot (if any) and journal.
///
/// # Errors
/// The files exist but cannot be read at all (permissions, I/O); damaged content only warns.
pub fn read_journal(folder: &Path, annotator: &str) -> Result<JournalContents, AnnotationError> {
    let mut contents = JournalContents::default();
    let snapshot_file = snapshot_path(folder, annotator);
    match fs::read(&snapshot_file) {
        Ok(bytes) => match serde_json::from_slice::<Snapshot>(&bytes) {
            Ok(snapshot) if snapshot.v == SCHEMA_VERSION => contents.snapshot = Some(snapshot),
            Ok(snapshot) => contents.warnings.push(JournalWarning {
                path: snapshot_file,
                line: None,
                message: format!("unknown schema version {}; snapshot ignored", snapshot.v),
            }),
            Err(error) => contents.warnings.push(JournalWarning {
                path: snapshot_file,
                line: None,
                message: format!("not a valid snapshot ({error}); ignored"),
            }),
        },
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => {
            return Err(AnnotationError::Io {
                path: snapshot_file,
                error,
            });
        }
    }
    let through = contents.snapshot.as_ref().map_or(0, |s| s.through_seq);
    let path = journal_path(folder, annotator);
    let file = match File::open(&path) {
        Ok(file) => file,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(contents),
        Err(error) => return Err(AnnotationError::Io { path, error }),
    };
    let io = |error| AnnotationError::Io {
        path: path.clone(),
        error,
    };
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let mut line = Vec::new();
    let mut number = 0_u64;
    let mut offset = 0_u64;
    loop {
        line.clear();
        let read = reader.read_until(b'\n', &mut line).map_err(io)?;
        if read == 0 {
            break;
        }
        number += 1;
        let complete = line.last() == Some(&b'\n');
        if !complete {
            contents.warnings.push(JournalWarning {
                path: path.clone(),
                line: Some(number),
                message: "torn last line (the studio was stopped while writing it); ignored".into(),
            });
            break;
        }
        offset += read as u64;
        contents.complete_len = offset;
        let text = &line[..line.len() - 1];
        if text.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match serde_json::from_slice::<Entry>(text) {
            Ok(entry) if entry.v != SCHEMA_VERSION => contents.warnings.push(JournalWarning {
                path: path.clone(),
                line: Some(number),
                message: format!("unknown schema version {}; line ignored", entry.v),
            }),
            Ok(entry) if !entry.op.known_version() => contents.warnings.push(JournalWarning {
                path: path.clone(),
                line: Some(number),
                message: "a trace edit of a newer version; line ignored".into(),
            }),
            Ok(entry) if entry.seq <= through => {}
            Ok(entry) => contents.entries.push(entry),
            Err(error) => contents.warnings.push(JournalWarning {
                path: path.clone(),
                line: Some(number),
                message: format!("not a valid edit ({error}); line ignored"),
            }),
        }
    }
    Ok(contents)
}

/// The annotators who have journals or snapshots in `folder`.
#[must_use]
pub fn annotators_in(folder: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(folder)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            name.strip_suffix(".snapshot.json")
                .or_else(|| name.strip_suffix(".jsonl"))
                .map(str::to_owned)
        })
        .filter(|name| check_annotator(name).is_ok())
        .collect();
    names.sort();
    names.dedup();
    names
}

/// The only writer of one annotator's journal while it lives (it holds the journal's lock).
#[derive(Debug)]
pub struct JournalWriter {
    annotator: String,
    folder: PathBuf,
    path: PathBuf,
    /// Held for the writer's life; dropping it removes the lock file.
    _lock: JournalLock,
    file: File,
    len: u64,
    next_seq: u64,
}

impl JournalWriter {
    /// Takes the annotator's lock and opens the journal for appending after the last complete
    /// line (`contents` as [`read_journal`] returned it).
    ///
    /// # Errors
    /// [`AnnotationError::Locked`] when another live process writes this journal; I/O errors
    /// (a read-only project, say) naming the file.
    pub fn open(
        folder: &Path,
        annotator: &str,
        contents: &JournalContents,
    ) -> Result<Self, AnnotationError> {
        check_annotator(annotator)?;
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |error| AnnotationError::Io { path, error }
        };
        refuse_link(folder).map_err(io(folder))?;
        fs::create_dir_all(folder).map_err(io(folder))?;
        let lock = JournalLock::take(&lock_path(folder, annotator), annotator)?;
        let path = journal_path(folder, annotator);
        refuse_link(&path).map_err(io(&path))?;
        let mut file = OpenOptions::new()
            .create(true)
            .read(true)
            .write(true)
            .truncate(false)
            .open(&path)
            .map_err(io(&path))?;
        let on_disk = file.metadata().map_err(io(&path))?.len();
        let len = contents.complete_len;
        if on_disk > len {
            // Cut a torn last line off, so the next edit starts on a line of its own.
            file.set_len(len)
                .and_then(|()| file.sync_all())
                .map_err(io(&path))?;
        }
        file.seek(SeekFrom::Start(len)).map_err(io(&path))?;
        sync_folder(folder).map_err(io(folder))?;
        let last_seq = contents
            .entries
            .iter()
            .map(|e| e.seq)
            .chain(contents.snapshot.iter().map(|s| s.through_seq))
            .max()
            .unwrap_or(0);
        Ok(Self {
            annotator: annotator.to_owned(),
            folder: folder.to_path_buf(),
            path,
            _lock: lock,
            file,
            len,
            next_seq: last_seq + 1,
        })
    }

    #[must_use]
    pub fn annotator(&self) -> &str {
        &self.annotator
    }

    /// Sequence number the next edit gets.
    #[must_use]
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Appends one edit and makes it durable (fsync) before returning it. On failure nothing of
    /// the line stays in the file.
    ///
    /// # Errors
    /// I/O errors (disk full, read-only) naming the journal.
    pub fn append(
        &mut self,
        file: &str,
        op: Op,
        undo_of: Option<u64>,
    ) -> Result<Entry, AnnotationError> {
        let entry = Entry {
            v: SCHEMA_VERSION,
            seq: self.next_seq,
            annotator: self.annotator.clone(),
            time_ms: now_ms(),
            file: file.to_owned(),
            op,
            undo_of,
        };
        let mut line = serde_json::to_vec(&entry).map_err(|e| AnnotationError::Io {
            path: self.path.clone(),
            error: std::io::Error::other(e),
        })?;
        line.push(b'\n');
        let written = self
            .file
            .write_all(&line)
            .and_then(|()| self.file.sync_data());
        if let Err(error) = written {
            // Leave no partial line behind; if even that fails, the reader drops the torn tail.
            let _ = self.file.set_len(self.len);
            let _ = self.file.seek(SeekFrom::Start(self.len));
            return Err(AnnotationError::Io {
                path: self.path.clone(),
                error,
            });
        }
        self.len += line.len() as u64;
        self.next_seq += 1;
        Ok(entry)
    }

    /// Writes `labels` (this annotator's state after every edit so far) as a snapshot, atomically,
    /// then empties the journal. A crash in between is harmless: the loader skips journal lines
    /// the snapshot already holds.
    ///
    /// # Errors
    /// I/O errors naming the file.
    pub fn compact(&mut self, labels: BTreeMap<String, Label>) -> Result<(), AnnotationError> {
        let snapshot = Snapshot {
            v: SCHEMA_VERSION,
            annotator: self.annotator.clone(),
            through_seq: self.next_seq - 1,
            labels,
        };
        let path = snapshot_path(&self.folder, &self.annotator);
        let bytes = serde_json::to_vec(&snapshot).map_err(|e| AnnotationError::Io {
            path: path.clone(),
            error: std::io::Error::other(e),
        })?;
        write_atomically(&path, &bytes).map_err(|error| AnnotationError::Io { path, error })?;
        self.file
            .set_len(0)
            .and_then(|()| self.file.seek(SeekFrom::Start(0)).map(|_| ()))
            .and_then(|()| self.file.sync_all())
            .map_err(|error| AnnotationError::Io {
                path: self.path.clone(),
                error,
            })?;
        self.len = 0;
        Ok(())
    }
}

#[must_use]
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
