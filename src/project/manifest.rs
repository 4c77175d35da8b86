//! Reading manifests: CSV/TSV or JSON Lines with a path column and optional metadata, including
//! MSP-Podcast's `labels_consensus.csv` (FileName, EmoClass, EmoAct, EmoVal, EmoDom, SpkrID, ...).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

/// One manifest row: the path as listed and every other column as text.
#[derive(Debug, Clone, PartialEq)]
pub struct ManifestRow {
    /// 1-based line in the manifest file (header = line 1 for CSV).
    pub line: u64,
    pub path: String,
    pub fields: BTreeMap<String, String>,
}

/// A row that could not be read; the rest of the manifest still loads.
#[derive(Debug, Clone, PartialEq)]
pub struct RowProblem {
    pub line: u64,
    pub reason: String,
}

#[derive(Debug, Default)]
pub struct Manifest {
    pub rows: Vec<ManifestRow>,
    pub problems: Vec<RowProblem>,
    /// The header looks like MSP-Podcast's (FileName + EmoClass).
    pub is_msp_podcast: bool,
}

/// The manifest as a whole cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("{}: cannot read the manifest: {error}", path.display())]
    Io {
        path: PathBuf,
        // The reason is part of the message, so it is not also a `source` (no doubled text).
        error: std::io::Error,
    },
    #[error("{}: the manifest is empty", path.display())]
    Empty { path: PathBuf },
    #[error(
        "{}: no path column (expected one of: path, file, file_name, filename, FileName, audio, audio_path, wav); columns are: {columns}",
        path.display()
    )]
    NoPathColumn { path: PathBuf, columns: String },
    #[error("{}: malformed header: {reason}", path.display())]
    MalformedHeader { path: PathBuf, reason: String },
    #[error("{}: unknown manifest type (use .csv, .tsv, .jsonl or .ndjson)", path.display())]
    UnknownFormat { path: PathBuf },
}

const PATH_COLUMNS: &[&str] = &[
    "path",
    "file",
    "file_name",
    "filename",
    "filepath",
    "file_path",
    "audio",
    "audio_path",
    "wav",
];

fn is_path_column(name: &str) -> bool {
    PATH_COLUMNS
        .iter()
        .any(|c| c.eq_ignore_ascii_case(name.trim()))
}

/// Whether a path names a manifest this module reads.
#[must_use]
pub fn is_manifest_path(path: &Path) -> bool {
    manifest_kind(path).is_some()
}

#[derive(Clone, Copy)]
enum ManifestKind {
    Delimited(u8),
    JsonLines,
}

fn manifest_kind(path: &Path) -> Option<ManifestKind> {
    let extension = path.extension()?.to_str()?.to_ascii_lowercase();
    match extension.as_str() {
        "csv" => Some(ManifestKind::Delimited(b',')),
        "tsv" => Some(ManifestKind::Delimited(b'\t')),
        "jsonl" | "ndjson" => Some(ManifestKind::JsonLines),
        _ => None,
    }
}

/// Reads a manifest; malformed rows are collected as problems, not fatal.
///
/// # Errors
/// [`ManifestError`] when the file cannot be read or has no usable header.
pub fn read_manifest(path: &Path) -> Result<Manifest, ManifestError> {
    let kind = manifest_kind(path).ok_or_else(|| ManifestError::UnknownFormat {
        path: path.to_path_buf(),
    })?;
    let file = File::open(path).map_err(|error| ManifestError::Io {
        path: path.to_path_buf(),
        error,
    })?;
    let manifest = match kind {
        ManifestKind::Delimited(delimiter) => read_delimited(path, file, delimiter)?,
        ManifestKind::JsonLines => read_json_lines(path, file)?,
    };
    if manifest.rows.is_empty() && manifest.problems.is_empty() {
        return Err(ManifestError::Empty {
            path: path.to_path_buf(),
        });
    }
    Ok(manifest)
}

fn read_delimited(path: &Path, file: File, delimiter: u8) -> Result<Manifest, ManifestError> {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(false)
        .trim(csv::Trim::Headers)
        .from_reader(BufReader::new(file));
    let headers = reader
        .headers()
        .map_err(|e| ManifestError::MalformedHeader {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?
        .clone();
    if headers.is_empty() || headers.iter().all(str::is_empty) {
        return Err(ManifestError::Empty {
            path: path.to_path_buf(),
        });
    }
    let path_index =
        headers
            .iter()
            .position(is_path_column)
            .ok_or_else(|| ManifestError::NoPathColumn {
                path: path.to_path_buf(),
                columns: headers.iter().collect::<Vec<_>>().join(", "),
            })?;
    let has = |name: &str| headers.iter().any(|h| h.eq_ignore_ascii_case(name));
    let mut manifest = Manifest {
        is_msp_podcast: has("FileName") && has("EmoClass"),
        ..Manifest::default()
    };
    for record in reader.records() {
        match record {
            Ok(record) => {
                let line = record.position().map_or(0, csv::Position::line);
                let listed = record.get(path_index).unwrap_or_default().trim();
                if listed.is_empty() {
                    manifest.problems.push(RowProblem {
                        line,
                        reason: format!("empty `{}` value", &headers[path_index]),
                    });
                    continue;
                }
                let fields = headers
                    .iter()
                    .zip(record.iter())
                    .enumerate()
                    .filter(|(i, _)| *i != path_index)
                    .map(|(_, (name, value))| (name.to_owned(), value.trim().to_owned()))
                    .collect();
                manifest.rows.push(ManifestRow {
                    line,
                    path: listed.to_owned(),
                    fields,
                });
            }
            Err(error) => {
                let line = error.position().map_or(0, csv::Position::line);
                let reason = match error.kind() {
                    csv::ErrorKind::UnequalLengths {
                        expected_len, len, ..
                    } => format!("{len} fields where the header has {expected_len}"),
                    csv::ErrorKind::Utf8 { .. } => "not valid UTF-8".to_owned(),
                    csv::ErrorKind::Io(io) => {
                        return Err(ManifestError::Io {
                            path: path.to_path_buf(),
                            error: std::io::Error::new(io.kind(), io.to_string()),
                        });
                    }
                    _ => error.to_string(),
                };
                manifest.problems.push(RowProblem { line, reason });
            }
        }
    }
    Ok(manifest)
}

fn json_scalar_to_string(value: &serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::Bool(b) => Some(b.to_string()),
        serde_json::Value::Null => None,
        other => Some(other.to_string()),
    }
}

fn read_json_lines(path: &Path, file: File) -> Result<Manifest, ManifestError> {
    let mut manifest = Manifest::default();
    for (index, line) in BufReader::new(file).lines().enumerate() {
        let line_number = index as u64 + 1;
        let text = match line {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::InvalidData => {
                manifest.problems.push(RowProblem {
                    line: line_number,
                    reason: "not valid UTF-8".into(),
                });
                continue;
            }
            Err(error) => {
                return Err(ManifestError::Io {
                    path: path.to_path_buf(),
                    error,
                });
            }
        };
        if text.trim().is_empty() {
            continue;
        }
        let object = match serde_json::from_str::<serde_json::Value>(&text) {
            Ok(serde_json::Value::Object(object)) => object,
            Ok(_) => {
                manifest.problems.push(RowProblem {
                    line: line_number,
                    reason: "not a JSON object".into(),
                });
                continue;
            }
            Err(error) => {
                manifest.problems.push(RowProblem {
                    line: line_number,
                    reason: format!("invalid JSON: {error}"),
                });
                continue;
            }
        };
        let Some((path_key, listed)) = object
            .iter()
            .find(|(key, _)| is_path_column(key))
            .and_then(|(key, value)| Some((key.clone(), value.as_str()?.trim().to_owned())))
            .filter(|(_, listed)| !listed.is_empty())
        else {
            manifest.problems.push(RowProblem {
                line: line_number,
                reason: "no path (expected a string field such as \"path\" or \"file\")".into(),
            });
            continue;
        };
        let fields = object
            .iter()
            .filter(|(key, _)| **key != path_key)
            .filter_map(|(key, value)| Some((key.clone(), json_scalar_to_string(value)?)))
            .collect();
        manifest.rows.push(ManifestRow {
            line: line_number,
            path: listed,
            fields,
        });
    }
    Ok(manifest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn reads_msp_podcast_consensus_labels() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            dir.path(),
            "labels_consensus.csv",
            "FileName,EmoClass,EmoAct,EmoVal,EmoDom,SpkrID,Gender,Split_Set\n\
             MSP-PODCAST_0001_0008.wav,N,2.2,4.0,2.6,30,Male,Test1\n\
             MSP-PODCAST_0001_0011.wav,A,5.0,2.0,5.4,30,Male,Train\n",
        );
        let manifest = read_manifest(&path).unwrap();
        assert!(manifest.is_msp_podcast);
        assert_eq!(manifest.rows.len(), 2);
        assert_eq!(manifest.rows[0].path, "MSP-PODCAST_0001_0008.wav");
        assert_eq!(manifest.rows[0].fields["EmoClass"], "N");
        assert_eq!(manifest.rows[1].fields["Split_Set"], "Train");
        assert_eq!(manifest.rows[1].line, 3);
    }

    #[test]
    fn malformed_rows_are_reported_and_the_rest_loads() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            dir.path(),
            "m.csv",
            "path,speaker\na.wav,s1\nb.wav,s2,extra\n,s3\n\"c, d.wav\",s4\n",
        );
        let manifest = read_manifest(&path).unwrap();
        let paths: Vec<_> = manifest.rows.iter().map(|r| r.path.as_str()).collect();
        assert_eq!(paths, ["a.wav", "c, d.wav"]);
        assert_eq!(manifest.problems.len(), 2);
        assert_eq!(manifest.problems[0].line, 3);
        assert!(manifest.problems[0].reason.contains("3 fields"));
        assert_eq!(manifest.problems[1].line, 4);
    }

    #[test]
    fn json_lines_rows_and_bad_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            dir.path(),
            "m.jsonl",
            "{\"path\": \"a.wav\", \"speaker\": \"s1\", \"arousal\": 4.5}\n\
             not json\n\n[1,2]\n{\"speaker\": \"s9\"}\n{\"file\": \"b.flac\"}\n",
        );
        let manifest = read_manifest(&path).unwrap();
        assert_eq!(manifest.rows.len(), 2);
        assert_eq!(manifest.rows[0].fields["arousal"], "4.5");
        assert_eq!(manifest.rows[1].path, "b.flac");
        let lines: Vec<_> = manifest.problems.iter().map(|p| p.line).collect();
        assert_eq!(lines, [2, 4, 5]);
    }

    #[test]
    fn unusable_manifests_are_errors_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let no_path = write(dir.path(), "a.csv", "speaker,label\ns1,angry\n");
        let error = read_manifest(&no_path).unwrap_err();
        assert!(matches!(error, ManifestError::NoPathColumn { .. }));
        assert!(error.to_string().contains("a.csv") && error.to_string().contains("speaker"));
        let empty = write(dir.path(), "b.csv", "");
        assert!(matches!(
            read_manifest(&empty),
            Err(ManifestError::Empty { .. })
        ));
        let missing = dir.path().join("nowhere.csv");
        assert!(matches!(
            read_manifest(&missing),
            Err(ManifestError::Io { .. })
        ));
        let odd = write(dir.path(), "c.xlsx", "x");
        assert!(matches!(
            read_manifest(&odd),
            Err(ManifestError::UnknownFormat { .. })
        ));
    }
}
