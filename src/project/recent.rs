//! The list of recently opened projects, newest first, kept in the user's config folder
//! (on Linux `$XDG_CONFIG_HOME/merit-studio/recent.json`, else `~/.config/...`). A missing or damaged file
//! is an empty list: it is a convenience, never a reason to fail.

use std::path::{Path, PathBuf};

use crate::fsio::write_atomically;

/// How many projects the list keeps.
const KEEP: usize = 10;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecentProjects {
    file: Option<PathBuf>,
    pub paths: Vec<PathBuf>,
}

/// The default location of the list.
#[must_use]
pub fn default_file() -> Option<PathBuf> {
    crate::fsio::user_folders().map(|folders| folders.config_dir().join("recent.json"))
}

impl RecentProjects {
    /// Reads the list from `file` (`None`: a list that is never saved).
    #[must_use]
    pub fn load(file: Option<PathBuf>) -> Self {
        let paths = file
            .as_deref()
            .and_then(|f| std::fs::read(f).ok())
            .and_then(|bytes| serde_json::from_slice::<Vec<PathBuf>>(&bytes).ok())
            .unwrap_or_default();
        Self { file, paths }
    }

    /// The most recent project that still exists.
    #[must_use]
    pub fn last_existing(&self) -> Option<&Path> {
        self.paths.iter().map(PathBuf::as_path).find(|p| p.exists())
    }

    /// Puts `path` first and saves the list.
    ///
    /// # Errors
    /// The list cannot be written (the in-memory list is updated anyway).
    pub fn add(&mut self, path: &Path) -> std::io::Result<()> {
        let path = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        self.paths.retain(|p| *p != path);
        self.paths.insert(0, path);
        self.paths.truncate(KEEP);
        let Some(file) = &self.file else {
            return Ok(());
        };
        if let Some(folder) = file.parent() {
            std::fs::create_dir_all(folder)?;
        }
        let json = serde_json::to_vec_pretty(&self.paths).map_err(std::io::Error::other)?;
        write_atomically(file, &json)
    }
}

/// Whether files can be created in `folder` (tries, then removes, a probe file).
#[must_use]
pub fn folder_is_writable(folder: &Path) -> bool {
    let probe = folder.join(format!(".merit-studio-write-check-{}", std::process::id()));
    let writable = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
        .is_ok();
    if writable {
        let _ = std::fs::remove_file(&probe);
    }
    writable
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newest_first_without_duplicates_and_saved() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("config/recent.json");
        let mut recent = RecentProjects::load(Some(file.clone()));
        assert!(recent.paths.is_empty());
        recent.add(dir.path()).unwrap();
        recent.add(Path::new("/nowhere/else")).unwrap();
        recent.add(dir.path()).unwrap();
        let reloaded = RecentProjects::load(Some(file));
        assert_eq!(reloaded.paths.len(), 2);
        assert_eq!(reloaded.paths[0], dir.path());
        assert_eq!(reloaded.last_existing(), Some(dir.path()));
    }

    #[test]
    fn a_damaged_list_reads_as_empty() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("recent.json");
        std::fs::write(&file, b"{not json").unwrap();
        assert!(RecentProjects::load(Some(file)).paths.is_empty());
    }

    #[test]
    fn writability_is_probed() {
        let dir = tempfile::tempdir().unwrap();
        assert!(folder_is_writable(dir.path()));
        assert!(!folder_is_writable(&dir.path().join("missing")));
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
