//! The trace formats: `traces-csv` (one CSV per recording × dimension, `time_s` and a column per
//! annotator, as CARMA/DARMA write them), `nova` (NOVA's continuous annotations: an `.annotation`
//! XML header and an `.annotation~` data file of `score;confidence` per frame, per recording ×
//! annotator × dimension) and `traces-jsonl` (one object per recording for training: rate, each
//! annotator's values and their mean, per dimension).
//!
//! Every trace is on its dimension's grid (`k / rate_hz` seconds); frames an annotator did not
//! trace are empty cells (CSV), `null` (JSON) or `NaN;0` (NOVA).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, Event};

use super::{ExportError, ExportRow, csv_bytes, output_path, safe_cell, write_file};
use crate::annotation::trace::{TraceSeries, human_mean, recording_series};
use crate::fsio::safe_relative;
use crate::project::{Project, TraceScheme};

/// One recording's traces of one dimension, on one grid from `first` (frame index) on.
struct Grid {
    first: i64,
    len: usize,
    by_annotator: BTreeMap<String, TraceSeries>,
}

impl Grid {
    fn of(project: &Project, row: &ExportRow, scheme: &TraceScheme) -> Option<Self> {
        let by_annotator = recording_series(
            &row.by_annotator,
            &scheme.dimension,
            project.file.traces.combine,
            scheme.rate_hz,
        );
        let start = |s: &TraceSeries| (s.start_s * s.rate_hz).round() as i64;
        let first = by_annotator.values().map(start).min()?;
        let end = by_annotator
            .values()
            .map(|s| start(s) + s.values.len() as i64)
            .max()?;
        Some(Self {
            first,
            len: usize::try_from(end - first).ok()?,
            by_annotator,
        })
    }

    /// The annotator's value at frame `first + i`, if they traced it.
    fn value(series: &TraceSeries, frame: i64) -> Option<f64> {
        let start = (series.start_s * series.rate_hz).round() as i64;
        usize::try_from(frame - start)
            .ok()
            .and_then(|i| series.values.get(i))
            .copied()
            .filter(|v| v.is_finite())
    }

    /// Each annotator's values over the whole grid (`None` where untraced).
    fn columns(&self) -> BTreeMap<&str, Vec<Option<f64>>> {
        self.by_annotator
            .iter()
            .map(|(name, s)| {
                let values = (0..self.len as i64)
                    .map(|i| Self::value(s, self.first + i))
                    .collect();
                (name.as_str(), values)
            })
            .collect()
    }
}

fn schemes(project: &Project) -> Vec<TraceScheme> {
    project.file.traces.schemes(&project.file.label_scheme)
}

/// `traces-csv`: `<recording>.<dimension>.csv` with `time_s,<annotator>,…`.
pub(super) fn traces_csv(
    project: &Project,
    rows: &[ExportRow],
    out: &Path,
) -> Result<Vec<PathBuf>, ExportError> {
    let mut written = Vec::new();
    let schemes = schemes(project);
    for row in rows {
        for scheme in &schemes {
            let Some(grid) = Grid::of(project, row, scheme) else {
                continue;
            };
            let columns = grid.columns();
            let mut table = vec![
                std::iter::once("time_s".to_owned())
                    .chain(columns.keys().map(|n| safe_cell(n)))
                    .collect::<Vec<_>>(),
            ];
            for i in 0..grid.len {
                let time_s = (grid.first + i as i64) as f64 / scheme.rate_hz;
                let mut line = vec![format!("{time_s:.6}")];
                line.extend(
                    columns
                        .values()
                        .map(|c| c[i].map_or_else(String::new, |v| v.to_string())),
                );
                table.push(line);
            }
            let path = output_path(out, &row.file, &format!("{}.csv", scheme.dimension));
            write_file(&path, &csv_bytes(table)?)?;
            written.push(path);
        }
    }
    Ok(written)
}

/// NOVA's `.annotation` header of a continuous scheme.
fn nova_header(
    scheme: &TraceScheme,
    annotator: &str,
    frames: usize,
) -> Result<Vec<u8>, ExportError> {
    let xml = |e: std::io::Error| ExportError::Invalid(e.to_string());
    let mut writer = Writer::new_with_indent(Vec::new(), b' ', 4);
    writer
        .write_event(Event::Decl(BytesDecl::new("1.0", None, None)))
        .map_err(xml)?;
    let mut root = BytesStart::new("annotation");
    root.push_attribute(("ssi-v", "3"));
    writer.write_event(Event::Start(root)).map_err(xml)?;
    let mut info = BytesStart::new("info");
    info.push_attribute(("ftype", "ASCII"));
    info.push_attribute(("size", frames.to_string().as_str()));
    writer.write_event(Event::Empty(info)).map_err(xml)?;
    let mut meta = BytesStart::new("meta");
    meta.push_attribute(("annotator", annotator));
    writer.write_event(Event::Empty(meta)).map_err(xml)?;
    let (min, max) = scheme.range();
    let mut element = BytesStart::new("scheme");
    element.push_attribute(("name", scheme.dimension.as_str()));
    element.push_attribute(("type", "CONTINUOUS"));
    element.push_attribute(("sr", scheme.rate_hz.to_string().as_str()));
    element.push_attribute(("min", min.to_string().as_str()));
    element.push_attribute(("max", max.to_string().as_str()));
    writer.write_event(Event::Empty(element)).map_err(xml)?;
    writer
        .write_event(Event::End(BytesEnd::new("annotation")))
        .map_err(xml)?;
    let mut bytes = writer.into_inner();
    bytes.push(b'\n');
    Ok(bytes)
}

/// `nova`: `<recording>.<annotator>.<dimension>.annotation` and `….annotation~`; frames from 0 s
/// (NOVA's frame index is the time × rate), untraced frames `NaN;0`.
pub(super) fn nova(
    project: &Project,
    rows: &[ExportRow],
    out: &Path,
) -> Result<Vec<PathBuf>, ExportError> {
    let mut written = Vec::new();
    let schemes = schemes(project);
    for row in rows {
        for scheme in &schemes {
            let Some(grid) = Grid::of(project, row, scheme) else {
                continue;
            };
            let frames = usize::try_from(grid.first.max(0)).unwrap_or(0) + grid.len;
            for (annotator, series) in &grid.by_annotator {
                let mut data = String::new();
                for frame in 0..frames as i64 {
                    let _ = match Grid::value(series, frame) {
                        Some(v) => writeln!(data, "{v};1"),
                        None => writeln!(data, "NaN;0"),
                    };
                }
                let stem = format!(
                    "{}.{}.annotation",
                    safe_relative(annotator).display(),
                    scheme.dimension
                );
                let header = output_path(out, &row.file, &stem);
                write_file(&header, &nova_header(scheme, annotator, frames)?)?;
                let data_path = output_path(out, &row.file, &format!("{stem}~"));
                write_file(&data_path, data.as_bytes())?;
                written.extend([header, data_path]);
            }
        }
    }
    Ok(written)
}

/// `traces-jsonl`: `{"file", "traces": {dimension: {"rate_hz", "start_s", "annotators":
/// {name: [values]}, "mean": [values]}}}` per recording, one line each.
pub(super) fn traces_jsonl(
    project: &Project,
    rows: &[ExportRow],
    out: &Path,
) -> Result<Vec<PathBuf>, ExportError> {
    let mut text = String::new();
    let schemes = schemes(project);
    for row in rows {
        let mut dimensions = serde_json::Map::new();
        for scheme in &schemes {
            let Some(grid) = Grid::of(project, row, scheme) else {
                continue;
            };
            let mean = human_mean(&grid.by_annotator, scheme.rate_hz);
            let mean: Vec<Option<f64>> = (0..grid.len as i64)
                .map(|i| mean.as_ref().and_then(|m| Grid::value(m, grid.first + i)))
                .collect();
            dimensions.insert(
                scheme.dimension.clone(),
                serde_json::json!({
                    "rate_hz": scheme.rate_hz,
                    "start_s": grid.first as f64 / scheme.rate_hz,
                    "annotators": grid.columns(),
                    "mean": mean,
                }),
            );
        }
        if dimensions.is_empty() {
            continue;
        }
        let line = serde_json::json!({ "file": row.file, "traces": dimensions });
        let _ = writeln!(text, "{line}");
    }
    write_file(out, text.as_bytes())?;
    Ok(vec![out.to_path_buf()])
}

/// The time average of the annotators' mean trace of `dimension` (the MSP export's `*_trace`
/// columns), if anyone traced it.
pub(super) fn trace_mean(project: &Project, row: &ExportRow, dimension: &str) -> Option<f64> {
    let scheme = project
        .file
        .traces
        .scheme(&project.file.label_scheme, dimension)?;
    let grid = Grid::of(project, row, &scheme)?;
    crate::annotation::trace::time_mean(&human_mean(&grid.by_annotator, scheme.rate_hz)?)
}
