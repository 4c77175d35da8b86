//! The lock that makes one studio the only writer of an annotator's journal: an OS advisory lock
//! (`flock` on Unix, `LockFileEx` on Windows) on `annotations/<annotator>.lock`, held for as long
//! as the writer lives, and a record in the file of who holds it (process id and host name).
//!
//! The OS says whether a holder on this machine still runs: its lock goes when its process does,
//! even on a kill. A record from another host is never taken over: on a network file system that
//! does not pass locks between machines (some SMB and sshfs set-ups), getting the OS lock does not
//! prove that studio is gone, so the user is told to close it there or remove the lock file.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::AnnotationError;

/// Who holds (or last held) a lock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    pub pid: u32,
    pub host: String,
}

impl Holder {
    fn this_process() -> Self {
        Self {
            pid: std::process::id(),
            host: gethostname::gethostname().to_string_lossy().into_owned(),
        }
    }

    /// The record in a lock file; a bare process id (the format before host names) is taken as
    /// this host's.
    fn read(file: &mut File) -> Option<Self> {
        let mut text = String::new();
        file.seek(SeekFrom::Start(0)).ok()?;
        file.read_to_string(&mut text).ok()?;
        serde_json::from_str(&text).ok().or_else(|| {
            let pid = text.trim().parse().ok()?;
            Some(Self {
                pid,
                ..Self::this_process()
            })
        })
    }
}

/// An annotator's journal lock, held until it is dropped (which removes the lock file).
#[derive(Debug)]
pub struct JournalLock {
    path: PathBuf,
    file: File,
}

impl JournalLock {
    /// Takes the lock at `path` for `annotator`.
    ///
    /// # Errors
    /// [`AnnotationError::Locked`] while another studio holds it (or its record names another
    /// host); I/O errors naming the file.
    pub fn take(path: &Path, annotator: &str) -> Result<Self, AnnotationError> {
        let io = |error| AnnotationError::Io {
            path: path.to_path_buf(),
            error,
        };
        let me = Holder::this_process();
        crate::fsio::refuse_link(path).map_err(io)?;
        loop {
            let mut file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(path)
                .map_err(io)?;
            let locked = |holder: Option<Holder>| AnnotationError::Locked {
                annotator: annotator.to_owned(),
                lock: path.to_path_buf(),
                holder: holder.map_or_else(|| "another studio".into(), |h| h.to_string()),
            };
            match file.try_lock() {
                Ok(()) => {}
                Err(TryLockError::WouldBlock) => return Err(locked(Holder::read(&mut file))),
                Err(TryLockError::Error(error)) => return Err(io(error)),
            }
            // The last holder may have removed the file between our open and our lock: then
            // the path names a new file (or none), and that is the one to lock.
            if !names_this_file(path, &file) {
                continue;
            }
            match Holder::read(&mut file) {
                Some(holder) if holder.host != me.host => return Err(locked(Some(holder))),
                Some(holder) if holder != me => {
                    tracing::warn!(
                        "taking over the lock {} left by {holder} (that process no longer runs)",
                        path.display()
                    );
                }
                _ => {}
            }
            let record = serde_json::to_vec(&me).map_err(|e| io(e.into()))?;
            file.set_len(0)
                .and_then(|()| file.seek(SeekFrom::Start(0)))
                .and_then(|_| file.write_all(&record))
                .and_then(|()| file.sync_all())
                .map_err(io)?;
            return Ok(Self {
                path: path.to_path_buf(),
                file,
            });
        }
    }
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "process {} on {}", self.pid, self.host)
    }
}

impl Drop for JournalLock {
    fn drop(&mut self) {
        // Removed while still locked, so nobody can take the old file after we let go of it.
        let _ = std::fs::remove_file(&self.path);
        let _ = self.file.unlock();
    }
}

/// Whether `path` still names the open `file`.
#[cfg(unix)]
fn names_this_file(path: &Path, file: &File) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(path), file.metadata()) {
        (Ok(named), Ok(open)) => named.dev() == open.dev() && named.ino() == open.ino(),
        _ => false,
    }
}

/// Whether `path` still names the open `file` (Windows does not remove an open file).
#[cfg(not(unix))]
fn names_this_file(_path: &Path, _file: &File) -> bool {
    true
}
