//! Trace imports: a `traces-csv` file (`time_s` and one column per annotator; `--from-annotator`
//! picks the column) or a NOVA continuous annotation (`.annotation` header + `.annotation~`
//! data). Rows are checked against the dimension's scheme — times must rise, lie on the
//! scheme's grid (a rate mismatch shows as times off the grid) and values must be numbers within
//! the scale — and each bad row is reported with file and line while the rest is imported; a
//! frame left out is filled in linearly from its neighbours, so the pass stays one sweep.

use std::path::{Path, PathBuf};

use quick_xml::events::Event;

use super::{ImportProblem, xml_attribute};
use crate::annotation::trace::{PassState, TraceInput, TraceSeries};
use crate::annotation::{AnnotationError, AnnotationStore};
use crate::project::{TraceMode, TraceScheme};

/// Times beyond this are refused (no recording is that long; it guards the fill-in).
const MAX_TIME_S: f64 = 24.0 * 3600.0;
/// A longer stretch without rows is not one pass: the rows after it are refused.
const MAX_GAP_S: f64 = 10.0;

/// One imported pass on the scheme's grid.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportedPass {
    pub start_index: u64,
    pub values: Vec<f64>,
}

/// What a trace file holds for one recording and dimension.
#[derive(Debug, Default)]
pub struct ImportedTrace {
    pub pass: Option<ImportedPass>,
    pub problems: Vec<ImportProblem>,
}

impl ImportedTrace {
    fn problem(&mut self, path: &Path, line: u64, message: impl Into<String>) {
        self.problems.push(ImportProblem::at(path, line, message));
    }

    /// Writes the pass into `annotator`'s journal (only theirs) as a finished pass over `file`.
    ///
    /// # Errors
    /// The annotator's journal cannot be taken or written.
    pub fn apply(
        &self,
        store: &mut AnnotationStore,
        annotator: &str,
        file: &str,
        scheme: &TraceScheme,
    ) -> Result<usize, AnnotationError> {
        let Some(pass) = &self.pass else {
            return Ok(0);
        };
        store.set_annotator(annotator)?;
        let id = store.begin_pass(file, scheme, TraceInput::Imported, pass.start_index)?;
        store.append_trace(file, id, scheme.rate_hz, &pass.values)?;
        store.end_pass(file, id, PassState::Complete)?;
        Ok(pass.values.len())
    }
}

/// Checks one sample; `Some(frame, value)` when it is good, a problem otherwise.
struct Checker<'a> {
    path: &'a Path,
    scheme: &'a TraceScheme,
    /// The grid the file is on (the scheme's, or a NOVA file's own rate).
    rate_hz: f64,
    last_time: Option<f64>,
    points: Vec<(i64, f64)>,
}

impl<'a> Checker<'a> {
    fn new(path: &'a Path, scheme: &'a TraceScheme, rate_hz: f64) -> Self {
        Self {
            path,
            scheme,
            rate_hz,
            last_time: None,
            points: Vec::new(),
        }
    }

    fn take(&mut self, out: &mut ImportedTrace, line: u64, time_s: f64, value: &str) {
        let mut bad = |message: String| out.problem(self.path, line, message);
        let Ok(value) = value.trim().parse::<f64>() else {
            return bad(format!("{:?} is not a number", value.trim()));
        };
        if !value.is_finite() || !time_s.is_finite() {
            return bad("not a number (NaN or infinite)".to_owned());
        }
        if self.last_time.is_some_and(|last| time_s <= last) {
            return bad(format!(
                "time {time_s} s does not come after the previous row's (times must rise)"
            ));
        }
        if !(0.0..=MAX_TIME_S).contains(&time_s) {
            return bad(format!("time {time_s} s is outside 0–24 h"));
        }
        if self.last_time.is_some_and(|last| time_s - last > MAX_GAP_S) {
            return bad(format!(
                "{:.1} s after the previous row (more than {MAX_GAP_S} s untraced: not one pass)",
                time_s - self.last_time.unwrap_or(0.0)
            ));
        }
        let position = time_s * self.rate_hz;
        if (position - position.round()).abs() > 0.01 {
            return bad(format!(
                "time {time_s} s is not on the {} Hz grid (a rate that does not match the scheme's)",
                self.rate_hz
            ));
        }
        if let TraceMode::Bounded { min, max } = self.scheme.mode
            && !(min..=max).contains(&value)
        {
            return bad(format!("{value} is outside the scale {min}–{max}"));
        }
        self.last_time = Some(time_s);
        self.points.push((position.round() as i64, value));
    }

    /// One contiguous pass at the scheme's rate (left-out frames filled in linearly).
    fn finish(self, out: &mut ImportedTrace) {
        let (Some(&(first, _)), Some(&(last, _))) = (self.points.first(), self.points.last())
        else {
            return;
        };
        let mut values = Vec::with_capacity(usize::try_from(last - first + 1).unwrap_or(0));
        for pair in self.points.windows(2) {
            let ((f0, v0), (f1, v1)) = (pair[0], pair[1]);
            for k in f0..f1 {
                values.push(v0 + (v1 - v0) * (k - f0) as f64 / (f1 - f0) as f64);
            }
        }
        values.push(self.points[self.points.len() - 1].1);
        let series = TraceSeries {
            rate_hz: self.rate_hz,
            start_s: first as f64 / self.rate_hz,
            values,
        }
        .resampled(self.scheme.rate_hz);
        out.pass = Some(ImportedPass {
            start_index: (series.start_s * series.rate_hz).round().max(0.0) as u64,
            values: series.values,
        });
    }
}

/// A `traces-csv` file: the column `from_annotator`, else the only one besides `time_s`.
///
/// # Errors
/// The file cannot be read at all.
pub fn traces_csv(
    path: &Path,
    scheme: &TraceScheme,
    from_annotator: Option<&str>,
) -> std::io::Result<ImportedTrace> {
    let mut out = ImportedTrace::default();
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(path)
        .map_err(std::io::Error::other)?;
    let headers = reader.headers().map_err(std::io::Error::other)?.clone();
    let names: Vec<&str> = headers.iter().map(str::trim).collect();
    if names.first() != Some(&"time_s") {
        out.problem(path, 1, "the first column must be time_s");
        return Ok(out);
    }
    let column = match from_annotator {
        Some(name) => names.iter().position(|n| *n == name),
        None if names.len() == 2 => Some(1),
        None => {
            out.problem(
                path,
                1,
                format!(
                    "several annotators ({}): choose one with --from-annotator",
                    names[1..].join(", ")
                ),
            );
            return Ok(out);
        }
    };
    let Some(column) = column else {
        out.problem(
            path,
            1,
            format!("no column {:?}", from_annotator.unwrap_or_default()),
        );
        return Ok(out);
    };
    let mut checker = Checker::new(path, scheme, scheme.rate_hz);
    for (index, record) in reader.records().enumerate() {
        let line = index as u64 + 2;
        let record = match record {
            Ok(record) => record,
            Err(error) => {
                out.problem(path, line, error.to_string());
                continue;
            }
        };
        let cell = record.get(column).unwrap_or("").trim();
        if cell.is_empty() {
            continue;
        }
        match record.get(0).map(|t| t.trim().parse::<f64>()) {
            Some(Ok(time_s)) => checker.take(&mut out, line, time_s, cell),
            _ => out.problem(path, line, "time_s is not a number"),
        }
    }
    checker.finish(&mut out);
    Ok(out)
}

/// The header of a NOVA continuous annotation: rate, frame count and scheme name.
#[derive(Debug, Clone, PartialEq)]
pub struct NovaHeader {
    pub rate_hz: f64,
    pub size: Option<usize>,
    pub scheme: String,
    pub annotator: Option<String>,
}

fn nova_header(path: &Path) -> Result<NovaHeader, String> {
    let text = crate::fsio::read_text_capped(path, super::MAX_TIER_FILE_BYTES)
        .map_err(|e| e.to_string())?;
    let mut reader = quick_xml::Reader::from_str(&text);
    let mut header = NovaHeader {
        rate_hz: 0.0,
        size: None,
        scheme: String::new(),
        annotator: None,
    };
    loop {
        let event = reader
            .read_event()
            .map_err(|e| format!("not valid XML: {e}"))?;
        match event {
            Event::Eof => break,
            Event::Start(e) | Event::Empty(e) => match e.name().as_ref() {
                b"info" => header.size = xml_attribute(&e, b"size").and_then(|s| s.parse().ok()),
                b"meta" => header.annotator = xml_attribute(&e, b"annotator"),
                b"scheme" => {
                    if !xml_attribute(&e, b"type")
                        .is_some_and(|t| t.eq_ignore_ascii_case("continuous"))
                    {
                        return Err("not a continuous scheme".into());
                    }
                    header.scheme = xml_attribute(&e, b"name").unwrap_or_default();
                    header.rate_hz = xml_attribute(&e, b"sr")
                        .and_then(|s| s.parse().ok())
                        .filter(|r: &f64| (1.0..=1000.0).contains(r))
                        .ok_or("the scheme has no sample rate (sr) between 1 and 1000 Hz")?;
                }
                _ => {}
            },
            _ => {}
        }
    }
    if header.rate_hz > 0.0 {
        Ok(header)
    } else {
        Err("no continuous <scheme> element".into())
    }
}

/// The `.annotation` header and `.annotation~` data of a NOVA annotation given either path.
#[must_use]
pub fn nova_paths(path: &Path) -> (PathBuf, PathBuf) {
    let text = path.to_string_lossy();
    let header = text
        .strip_suffix('~')
        .map_or_else(|| path.to_path_buf(), PathBuf::from);
    let data = PathBuf::from(format!("{}~", header.display()));
    (header, data)
}

/// Reads the header of a NOVA annotation (for the dimension when `--dimension` is not given).
///
/// # Errors
/// The header cannot be read or is not a continuous annotation.
pub fn read_nova_header(path: &Path) -> std::io::Result<NovaHeader> {
    nova_header(&nova_paths(path).0).map_err(std::io::Error::other)
}

/// A NOVA continuous annotation (either file of the pair). `NaN` scores and frames of confidence
/// 0 are untraced; a data file with more or fewer frames than the header's `size` is reported.
///
/// # Errors
/// The files cannot be read at all, or the header is not a continuous annotation.
pub fn nova(path: &Path, scheme: &TraceScheme) -> std::io::Result<ImportedTrace> {
    let (header_path, data_path) = nova_paths(path);
    let mut out = ImportedTrace::default();
    let header = nova_header(&header_path)
        .map_err(|e| std::io::Error::other(format!("{}: {e}", header_path.display())))?;
    let text = crate::fsio::read_text_capped(&data_path, super::MAX_COLLECTION_FILE_BYTES)?;
    let mut checker = Checker::new(&data_path, scheme, header.rate_hz);
    let mut frames = 0;
    for (index, line) in text.lines().enumerate() {
        let number = index as u64 + 1;
        if line.trim().is_empty() {
            continue;
        }
        frames += 1;
        let mut parts = line.split(';');
        let (score, confidence) = (parts.next().unwrap_or(""), parts.next());
        let untraced = score.trim().eq_ignore_ascii_case("nan")
            || confidence.is_some_and(|c| c.trim().parse::<f64>().is_ok_and(|c| c == 0.0));
        if !untraced {
            checker.take(&mut out, number, index as f64 / header.rate_hz, score);
        }
    }
    if let Some(size) = header.size
        && size != frames
    {
        out.problem(
            &header_path,
            0,
            format!("the header says {size} frames, the data file has {frames}"),
        );
    }
    checker.finish(&mut out);
    Ok(out)
}
