//! `project.json`: the human-readable description of a project, with a schema version.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{LabelScheme, ProjectError, TraceSettings};

pub const PROJECT_FILE_NAME: &str = "project.json";
/// The newest `project.json` schema this build reads and writes.
pub const SCHEMA_VERSION: u64 = 1;

/// Where a project's recordings come from. Relative paths resolve against the project folder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Source {
    /// Every audio file under a folder (recursively unless `recursive` is false).
    Folder {
        path: PathBuf,
        #[serde(default = "yes")]
        recursive: bool,
    },
    /// A CSV/TSV or JSON Lines manifest with a path column and optional metadata, including
    /// MSP-Podcast's `labels_consensus.csv`. Its paths resolve against `audio_root`, else the
    /// manifest's folder (for MSP-Podcast, the `Audios` folder beside `Labels` when there is one).
    Manifest {
        path: PathBuf,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        audio_root: Option<PathBuf>,
    },
}

fn yes() -> bool {
    true
}

impl Source {
    #[must_use]
    pub fn path(&self) -> &Path {
        match self {
            Self::Folder { path, .. } | Self::Manifest { path, .. } => path,
        }
    }
}

/// The contents of `project.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProjectFile {
    pub schema_version: u64,
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    pub sources: Vec<Source>,
    #[serde(default = "LabelScheme::sparse_merit")]
    pub label_scheme: LabelScheme,
    /// The ONNX model to analyse with, relative to the project folder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<PathBuf>,
    #[serde(default)]
    pub annotators: Vec<String>,
    /// Time-continuous traces (absent in older files: the attributes at 25 Hz, final pass).
    #[serde(default, skip_serializing_if = "TraceSettings::is_default")]
    pub traces: TraceSettings,
}

impl ProjectFile {
    /// A project over the given sources with the default (Sparse MERIT) label scheme.
    #[must_use]
    pub fn new(name: impl Into<String>, sources: Vec<Source>) -> Self {
        Self {
            schema_version: SCHEMA_VERSION,
            name: name.into(),
            description: String::new(),
            sources,
            label_scheme: LabelScheme::sparse_merit(),
            model: None,
            annotators: Vec::new(),
            traces: TraceSettings::default(),
        }
    }

    /// Parses `project.json` text, checking the schema version before anything else so a file
    /// from a newer studio is refused with that reason rather than a confusing field error.
    ///
    /// # Errors
    /// [`ProjectError::Json`], [`ProjectError::SchemaVersion`] or [`ProjectError::Invalid`].
    pub fn parse(text: &str, path: &Path) -> Result<Self, ProjectError> {
        let json_error = |error: &serde_json::Error| ProjectError::Json {
            path: path.to_path_buf(),
            line: error.line(),
            column: error.column(),
            message: error.to_string(),
        };
        let value: serde_json::Value = serde_json::from_str(text).map_err(|e| json_error(&e))?;
        let version = value
            .get("schema_version")
            .and_then(serde_json::Value::as_u64);
        if version.is_none_or(|v| v == 0 || v > SCHEMA_VERSION) {
            return Err(ProjectError::SchemaVersion {
                path: path.to_path_buf(),
                found: value.get("schema_version").map(ToString::to_string),
            });
        }
        let file: Self = serde_json::from_value(value).map_err(|e| json_error(&e))?;
        let mut problems = file.label_scheme.problems();
        problems.extend(file.traces.problems());
        if !problems.is_empty() {
            return Err(ProjectError::Invalid {
                path: path.to_path_buf(),
                problems: problems.join("; "),
            });
        }
        Ok(file)
    }

    /// Pretty JSON with a trailing newline, as people edit and diff it.
    ///
    /// # Errors
    /// The settings do not serialise (never written as an empty file instead).
    pub fn to_pretty_json(&self) -> std::io::Result<String> {
        let mut text = serde_json::to_string_pretty(self)?;
        text.push('\n');
        Ok(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<ProjectFile, ProjectError> {
        ProjectFile::parse(text, Path::new("/p/project.json"))
    }

    #[test]
    fn round_trips_through_json() {
        let mut file = ProjectFile::new(
            "Demo",
            vec![
                Source::Folder {
                    path: "audio".into(),
                    recursive: true,
                },
                Source::Manifest {
                    path: "Labels/labels_consensus.csv".into(),
                    audio_root: Some("Audios".into()),
                },
            ],
        );
        file.model = Some("../../models/sparse-merit-compact.onnx".into());
        file.annotators = vec!["alice".into()];
        assert_eq!(parse(&file.to_pretty_json().unwrap()).unwrap(), file);
    }

    #[test]
    fn minimal_file_gets_defaults() {
        let file = parse(r#"{"schema_version": 1, "name": "x", "sources": []}"#).unwrap();
        assert_eq!(file.label_scheme, LabelScheme::sparse_merit());
        assert!(file.annotators.is_empty());
    }

    #[test]
    fn unknown_or_missing_schema_version_is_refused() {
        for text in [
            r#"{"schema_version": 99, "name": "x", "sources": []}"#,
            r#"{"schema_version": 0, "name": "x", "sources": []}"#,
            r#"{"name": "x", "sources": []}"#,
            r#"{"schema_version": "one", "name": "x", "sources": []}"#,
        ] {
            let error = parse(text).unwrap_err();
            assert!(
                matches!(error, ProjectError::SchemaVersion { .. }),
                "{error}"
            );
            assert!(error.to_string().contains("/p/project.json"));
        }
    }

    #[test]
    fn malformed_json_names_line_and_column() {
        let error = parse("{\n  \"schema_version\": 1,\n  \"name\": \n}").unwrap_err();
        let ProjectError::Json { line, .. } = &error else {
            panic!("{error}")
        };
        assert_eq!(*line, 4);
        let error = parse(r#"{"schema_version": 1, "name": "x", "sources": [{"kind": "tape"}]}"#)
            .unwrap_err();
        assert!(error.to_string().contains("tape"), "{error}");
    }
}
