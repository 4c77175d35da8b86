//! Imports into a named annotator's journal: MSP-Podcast CSV (consensus or detailed), our JSONL
//! manifest, Hugging Face AudioFolder metadata, Audacity label tracks, Praat TextGrids and ELAN
//! EAF files. Each malformed row is reported with file,
//! line and reason, and the rest is imported; only the named annotator's journal is written, so
//! nobody else's labels are ever overwritten.

mod labelstudio;
mod timed;
mod traces;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::annotation::request::check_op;
use crate::annotation::{AnnotationStore, ClassSource, Op};
use crate::fsio::read_text_capped;
use crate::project::LabelScheme;

pub use labelstudio::{Listed, labelstudio};
pub use timed::{audacity, eaf, textgrid};
pub use traces::{
    ImportedPass, ImportedTrace, NovaHeader, nova, nova_paths, read_nova_header, traces_csv,
};

/// A row that could not be imported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportProblem {
    pub path: PathBuf,
    pub line: u64,
    pub message: String,
}

impl ImportProblem {
    fn at(path: &Path, line: u64, message: impl Into<String>) -> Self {
        Self {
            path: path.to_path_buf(),
            line,
            message: message.into(),
        }
    }
}

/// The most a tier file (Audacity, TextGrid, EAF, a NOVA header) may hold. One describes one
/// recording: a segment a second for ten hours is about 5 MB of TextGrid.
const MAX_TIER_FILE_BYTES: u64 = 64 << 20;
/// The most a file describing a whole collection (JSONL, AudioFolder metadata, Label Studio, NOVA
/// data) may hold: a million rows of labels.
const MAX_COLLECTION_FILE_BYTES: u64 = 1 << 30;

/// The value of an XML element's attribute `name`, normalised (EAF and NOVA headers).
fn xml_attribute(element: &quick_xml::events::BytesStart<'_>, name: &[u8]) -> Option<String> {
    element
        .attributes()
        .flatten()
        .find(|a| a.key.as_ref() == name)
        .and_then(|a| a.normalized_value(quick_xml::XmlVersion::default()).ok())
        .map(std::borrow::Cow::into_owned)
}

impl std::fmt::Display for ImportProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.path.display(), self.line, self.message)
    }
}

/// The edits an import makes, per recording (as listed), in file order.
#[derive(Debug, Default)]
pub struct Imported {
    pub edits: Vec<(String, Op)>,
    pub problems: Vec<ImportProblem>,
}

impl Imported {
    fn problem(&mut self, path: &Path, line: u64, message: impl Into<String>) {
        self.problems.push(ImportProblem::at(path, line, message));
    }

    /// Checks every edit against the scheme and writes the good ones as `annotator`; returns how
    /// many were written.
    ///
    /// # Errors
    /// The annotator's journal cannot be taken or written.
    pub fn apply(
        mut self,
        store: &mut AnnotationStore,
        annotator: &str,
        scheme: &LabelScheme,
        source: &Path,
    ) -> Result<(usize, Vec<ImportProblem>), crate::annotation::AnnotationError> {
        store.set_annotator(annotator)?;
        let mut written = 0;
        for (file, op) in std::mem::take(&mut self.edits) {
            match check_op(op, scheme) {
                Ok(op) => {
                    store.edit(&file, op)?;
                    written += 1;
                }
                Err(message) => self.problem(source, 0, format!("{file}: {message}")),
            }
        }
        Ok((written, self.problems))
    }
}

fn class_from_msp(scheme: &LabelScheme, code: &str) -> Option<String> {
    scheme
        .resolve_class(crate::export::unsafe_cell(code))
        .map(|c| c.id.clone())
}

/// MSP-Podcast `labels_consensus.csv` or our `labels_detailed.csv` (an `Annotator` column, whose
/// rows for other annotators are skipped unless `only_annotator` is `None`).
///
/// # Errors
/// The file cannot be read at all.
pub fn msp_csv(
    path: &Path,
    scheme: &LabelScheme,
    only_annotator: Option<&str>,
) -> std::io::Result<Imported> {
    let mut imported = Imported::default();
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(path)
        .map_err(std::io::Error::other)?;
    let headers = reader.headers().map_err(std::io::Error::other)?.clone();
    let column = |name: &str| headers.iter().position(|h| h.trim() == name);
    let (Some(file_column), Some(class_column)) = (column("FileName"), column("EmoClass")) else {
        imported.problem(path, 1, "needs the columns FileName and EmoClass");
        return Ok(imported);
    };
    let annotator_column = column("Annotator");
    let attribute_columns = [
        ("arousal", column("EmoAct")),
        ("valence", column("EmoVal")),
        ("dominance", column("EmoDom")),
    ];
    for (index, record) in reader.records().enumerate() {
        let line = index as u64 + 2;
        let record = match record {
            Ok(record) => record,
            Err(error) => {
                imported.problem(path, line, error.to_string());
                continue;
            }
        };
        if let (Some(wanted), Some(column)) = (only_annotator, annotator_column)
            && record.get(column).map(crate::export::unsafe_cell) != Some(wanted)
        {
            continue;
        }
        let Some(file) = record
            .get(file_column)
            .map(crate::export::unsafe_cell)
            .filter(|f| !f.is_empty())
        else {
            imported.problem(path, line, "no FileName");
            continue;
        };
        let code = record.get(class_column).unwrap_or("").trim();
        if !code.is_empty() {
            match class_from_msp(scheme, code) {
                Some(class) => imported.edits.push((
                    file.to_owned(),
                    Op::SetClass {
                        class: Some(class),
                        source: ClassSource::Human,
                        model: None,
                    },
                )),
                None => imported.problem(path, line, format!("unknown class {code:?}")),
            }
        }
        let mut values = BTreeMap::new();
        for (name, column) in attribute_columns {
            let Some(text) = column
                .and_then(|c| record.get(c))
                .map(str::trim)
                .filter(|t| !t.is_empty())
            else {
                continue;
            };
            match text.parse::<f64>() {
                Ok(value) => {
                    values.insert(name.to_owned(), Some(value));
                }
                Err(_) => imported.problem(path, line, format!("{name} {text:?} is not a number")),
            }
        }
        if !values.is_empty() {
            imported
                .edits
                .push((file.to_owned(), Op::SetAttributes { values }));
        }
    }
    Ok(imported)
}

/// Our JSONL manifest (`file`, `label`, `attributes`).
///
/// # Errors
/// The file cannot be read.
pub fn jsonl(path: &Path) -> std::io::Result<Imported> {
    let mut imported = Imported::default();
    for (index, line) in read_text_capped(path, MAX_COLLECTION_FILE_BYTES)?
        .lines()
        .enumerate()
    {
        let number = index as u64 + 1;
        if line.trim().is_empty() {
            continue;
        }
        let value: serde_json::Value = match serde_json::from_str(line) {
            Ok(value) => value,
            Err(error) => {
                imported.problem(path, number, format!("not JSON: {error}"));
                continue;
            }
        };
        let Some(file) = value["file"].as_str() else {
            imported.problem(path, number, "no \"file\"");
            continue;
        };
        if let Some(class) = value["label"].as_str() {
            imported.edits.push((
                file.to_owned(),
                Op::SetClass {
                    class: Some(class.to_owned()),
                    source: ClassSource::Human,
                    model: None,
                },
            ));
        }
        if let Some(attributes) = value["attributes"].as_object()
            && !attributes.is_empty()
        {
            let values = attributes
                .iter()
                .map(|(k, v)| (k.clone(), v.as_f64()))
                .collect();
            imported
                .edits
                .push((file.to_owned(), Op::SetAttributes { values }));
        }
    }
    Ok(imported)
}

/// Hugging Face AudioFolder metadata (`metadata.jsonl`, else `metadata.csv`, in `folder` or given
/// directly): `file_name` (the recording as listed), `label`, `arousal`, `valence`, `dominance`.
///
/// # Errors
/// The file cannot be read.
pub fn audiofolder(path: &Path) -> std::io::Result<Imported> {
    let path = if path.is_dir() {
        let jsonl = path.join("metadata.jsonl");
        if jsonl.exists() {
            jsonl
        } else {
            path.join("metadata.csv")
        }
    } else {
        path.to_path_buf()
    };
    let mut imported = Imported::default();
    let mut rows: Vec<(u64, BTreeMap<String, String>)> = Vec::new();
    if path.extension().is_some_and(|e| e == "csv") {
        let mut reader = csv::Reader::from_path(&path).map_err(std::io::Error::other)?;
        let headers = reader.headers().map_err(std::io::Error::other)?.clone();
        for (index, record) in reader.records().enumerate() {
            match record {
                Ok(record) => rows.push((
                    index as u64 + 2,
                    headers
                        .iter()
                        .zip(record.iter())
                        .map(|(h, v)| (h.to_owned(), crate::export::unsafe_cell(v).to_owned()))
                        .collect(),
                )),
                Err(error) => imported.problem(&path, index as u64 + 2, error.to_string()),
            }
        }
    } else {
        for (index, line) in read_text_capped(&path, MAX_COLLECTION_FILE_BYTES)?
            .lines()
            .enumerate()
        {
            if line.trim().is_empty() {
                continue;
            }
            match serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(line) {
                Ok(object) => rows.push((
                    index as u64 + 1,
                    object
                        .into_iter()
                        .filter_map(|(k, v)| match v {
                            serde_json::Value::String(s) => Some((k, s)),
                            serde_json::Value::Number(n) => Some((k, n.to_string())),
                            _ => None,
                        })
                        .collect(),
                )),
                Err(error) => {
                    imported.problem(&path, index as u64 + 1, format!("not JSON: {error}"));
                }
            }
        }
    }
    for (line, row) in rows {
        let Some(file) = row.get("file_name").filter(|f| !f.is_empty()) else {
            imported.problem(&path, line, "no file_name");
            continue;
        };
        if let Some(label) = row.get("label").filter(|l| !l.is_empty()) {
            imported.edits.push((
                file.clone(),
                Op::SetClass {
                    class: Some(label.clone()),
                    source: ClassSource::Human,
                    model: None,
                },
            ));
        }
        let mut values = BTreeMap::new();
        for name in ["arousal", "valence", "dominance"] {
            let Some(text) = row.get(name).filter(|t| !t.is_empty()) else {
                continue;
            };
            match text.parse::<f64>() {
                Ok(value) => {
                    values.insert(name.to_owned(), Some(value));
                }
                Err(_) => imported.problem(&path, line, format!("{name} {text:?} is not a number")),
            }
        }
        if !values.is_empty() {
            imported
                .edits
                .push((file.clone(), Op::SetAttributes { values }));
        }
    }
    Ok(imported)
}
