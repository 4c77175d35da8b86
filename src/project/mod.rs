//! Projects: a folder with `project.json`, its recording collection and its label scheme.
//! Pure data and files; no UI, model or playback dependency.

mod collection;
mod file;
mod label_scheme;
pub mod manifest;
pub mod recent;
mod trace_scheme;

use std::path::{Path, PathBuf};

pub use collection::{Collection, CollectionIssue, Recording, ReferenceLabel};
pub use file::{PROJECT_FILE_NAME, ProjectFile, SCHEMA_VERSION, Source};
pub use label_scheme::{AttributeScale, EmotionClass, LabelScheme};
pub use trace_scheme::{DEFAULT_RATE_HZ, PassCombine, TraceMode, TraceScheme, TraceSettings};

use crate::fsio::write_atomically;

#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    #[error("{}: no such file or folder", path.display())]
    NotFound { path: PathBuf },
    #[error("{}: {error}", path.display())]
    Io {
        path: PathBuf,
        // The reason is part of the message, so it is not also a `source` (no doubled text).
        error: std::io::Error,
    },
    #[error("{}:{line}:{column}: malformed project file: {message}", path.display())]
    Json {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error(
        "{}: unsupported schema_version {} (this MERIT Studio reads version {SCHEMA_VERSION}; a newer version means the project was written by a newer studio)",
        path.display(),
        found.as_deref().unwrap_or("(missing)")
    )]
    SchemaVersion {
        path: PathBuf,
        found: Option<String>,
    },
    #[error("{}: invalid project: {problems}", path.display())]
    Invalid { path: PathBuf, problems: String },
    #[error(
        "{}: not a project, audio folder or manifest (expected a folder, project.json, .csv, .tsv or .jsonl)",
        path.display()
    )]
    NotAProject { path: PathBuf },
}

/// How a project came to be open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProjectOrigin {
    /// Read from a `project.json`.
    Saved,
    /// Made up on the spot for a plain folder or manifest; nothing is written until it is saved.
    AdHoc,
}

#[derive(Debug, Clone)]
pub struct Project {
    /// The project folder; relative paths in the project resolve against it.
    pub root: PathBuf,
    pub file: ProjectFile,
    pub origin: ProjectOrigin,
}

impl Project {
    /// A project in `root` described by `file` (not yet saved).
    #[must_use]
    pub fn from_file(root: PathBuf, file: ProjectFile) -> Self {
        Self {
            root,
            file,
            origin: ProjectOrigin::AdHoc,
        }
    }

    /// Opens what a user points at: a project folder or its `project.json`, a plain folder of
    /// audio, or a manifest (CSV/TSV/JSONL, MSP-Podcast labels included).
    ///
    /// # Errors
    /// [`ProjectError`] naming the path and the reason.
    pub fn open(path: &Path) -> Result<Self, ProjectError> {
        if !path.exists() {
            return Err(ProjectError::NotFound {
                path: path.to_path_buf(),
            });
        }
        let name_of = |p: &Path| {
            p.file_stem().or_else(|| p.file_name()).map_or_else(
                || "Untitled".to_owned(),
                |n| n.to_string_lossy().into_owned(),
            )
        };
        if path.is_dir() {
            let project_file = path.join(PROJECT_FILE_NAME);
            if project_file.is_file() {
                return Self::load(&project_file);
            }
            let absolute = absolute(path);
            return Ok(Self::from_file(
                absolute.clone(),
                ProjectFile::new(
                    name_of(&absolute),
                    vec![Source::Folder {
                        path: ".".into(),
                        recursive: true,
                    }],
                ),
            ));
        }
        if path.file_name().is_some_and(|n| n == PROJECT_FILE_NAME) {
            return Self::load(path);
        }
        if manifest::is_manifest_path(path) {
            let absolute = absolute(path);
            let root = absolute.parent().unwrap_or(Path::new("/")).to_path_buf();
            let file_name = absolute.file_name().map(PathBuf::from).unwrap_or_default();
            return Ok(Self::from_file(
                root,
                ProjectFile::new(
                    name_of(&absolute),
                    vec![Source::Manifest {
                        path: file_name,
                        audio_root: None,
                    }],
                ),
            ));
        }
        Err(ProjectError::NotAProject {
            path: path.to_path_buf(),
        })
    }

    /// Reads a `project.json`.
    ///
    /// # Errors
    /// [`ProjectError`] for unreadable, malformed or future-version files.
    pub fn load(project_file: &Path) -> Result<Self, ProjectError> {
        let text = std::fs::read_to_string(project_file).map_err(|error| ProjectError::Io {
            path: project_file.to_path_buf(),
            error,
        })?;
        let file = ProjectFile::parse(&text, project_file)?;
        let root = absolute(project_file)
            .parent()
            .unwrap_or(Path::new("/"))
            .to_path_buf();
        Ok(Self {
            root,
            file,
            origin: ProjectOrigin::Saved,
        })
    }

    /// Writes `project.json` atomically.
    ///
    /// # Errors
    /// The folder is not writable.
    pub fn save(&mut self) -> Result<(), ProjectError> {
        let path = self.root.join(PROJECT_FILE_NAME);
        self.file
            .to_pretty_json()
            .and_then(|text| write_atomically(&path, text.as_bytes()))
            .map_err(|error| ProjectError::Io { path, error })?;
        self.origin = ProjectOrigin::Saved;
        Ok(())
    }

    /// A project path made absolute against the project folder.
    #[must_use]
    pub fn resolve(&self, path: &Path) -> PathBuf {
        if path.is_absolute() {
            path.to_path_buf()
        } else {
            normalize(&self.root.join(path))
        }
    }

    /// The model file the project names, resolved.
    #[must_use]
    pub fn model_path(&self) -> Option<PathBuf> {
        self.file.model.as_deref().map(|m| self.resolve(m))
    }
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).map_or_else(|_| path.to_path_buf(), |p| normalize(&p))
}

/// Removes `.` and folds `..` lexically, so listed paths read cleanly in reports.
fn normalize(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_folders_manifests_and_project_files() {
        let dir = tempfile::tempdir().unwrap();
        let plain = Project::open(dir.path()).unwrap();
        assert_eq!(plain.origin, ProjectOrigin::AdHoc);
        assert!(matches!(&plain.file.sources[0], Source::Folder { .. }));

        let manifest = dir.path().join("list.csv");
        std::fs::write(&manifest, "path\na.wav\n").unwrap();
        let from_manifest = Project::open(&manifest).unwrap();
        assert_eq!(from_manifest.file.name, "list");
        assert_eq!(from_manifest.root, absolute(dir.path()));

        let mut saved = Project::from_file(dir.path().to_path_buf(), ProjectFile::new("S", vec![]));
        saved.file.model = Some("../models/m.onnx".into());
        saved.save().unwrap();
        let reopened = Project::open(dir.path()).unwrap();
        assert_eq!(reopened.origin, ProjectOrigin::Saved);
        assert_eq!(reopened.file, saved.file);
        assert_eq!(
            reopened.model_path().unwrap(),
            absolute(dir.path()).parent().unwrap().join("models/m.onnx")
        );
    }

    #[test]
    fn bad_paths_are_typed_errors() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            Project::open(&dir.path().join("nope")),
            Err(ProjectError::NotFound { .. })
        ));
        let odd = dir.path().join("notes.txt");
        std::fs::write(&odd, "hi").unwrap();
        assert!(matches!(
            Project::open(&odd),
            Err(ProjectError::NotAProject { .. })
        ));
        std::fs::write(
            dir.path().join(PROJECT_FILE_NAME),
            r#"{"schema_version": 7, "name": "future", "sources": []}"#,
        )
        .unwrap();
        let error = Project::open(dir.path()).unwrap_err();
        assert!(error.to_string().contains("schema_version 7"), "{error}");
    }
}
