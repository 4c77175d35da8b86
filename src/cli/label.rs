//! `merit-studio label PROJECT --annotator NAME`: edits as JSON Lines on standard input, one
//! acknowledgement per edit on standard output, printed only once the edit is on disk (fsynced).

use std::io::{BufRead, Write};
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;

use crate::annotation::request::{Request, parse_request, resolve_segment_edit};
use crate::annotation::segments::check_fits;
use crate::annotation::{AnnotationStore, ClassSource, Op};
use crate::audio::probe;
use crate::jobs::batch::analyze_path;
use crate::jobs::cache::{AnalysisCache, default_folder};
use crate::jobs::model_choice::choose_model;
use crate::jobs::references::{CollectionReferences, collection_references};
use crate::model::analysis::AnalysisParams;
use crate::model::{MeritSession, SessionOptions};
use crate::project::{Collection, Project};

/// One acknowledgement line: `{"ok": true, "seq": N, "file": ...}` or `{"ok": false, "error": ...}`.
#[derive(serde::Serialize)]
struct Ack {
    ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    seq: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// The model's top class for `file` and the model's blake3 hash, loading the model (and a
/// speaker-relative model's speaker references) on first use; the cache makes repeats instant.
fn model_class(
    session: &mut Option<(MeritSession, CollectionReferences)>,
    (project, collection): (&Project, &Collection),
    path: &Path,
    cache: &AnalysisCache,
) -> anyhow::Result<(String, String)> {
    let params = AnalysisParams::default();
    let (session, references) = match session {
        Some(loaded) => loaded,
        None => {
            let model = choose_model(None, Some(project))?;
            let mut loaded = MeritSession::load(&model, SessionOptions::default())?;
            let references = collection_references(&mut loaded, collection, &params, Some(cache));
            session.insert((loaded, references))
        }
    };
    let reference = references.for_path(path);
    let (analysis, _) = analyze_path(
        session,
        path,
        reference.as_ref(),
        &params,
        Some(cache),
        None,
    )?;
    Ok((
        analysis.top_class().to_owned(),
        session.model_hash().to_owned(),
    ))
}

#[derive(Debug, clap::Args)]
pub struct LabelArgs {
    project: std::path::PathBuf,
    /// Whose journal the edits go to.
    #[arg(long)]
    annotator: String,
}

pub fn run(args: &LabelArgs) -> anyhow::Result<ExitCode> {
    let LabelArgs {
        project: project_path,
        annotator,
    } = args;
    let project = Project::open(project_path)?;
    let collection = Collection::load(&project);
    let mut store = AnnotationStore::load(&project.root)?;
    for warning in store.warnings() {
        eprintln!("warning: {warning}");
    }
    store
        .set_annotator(annotator)
        .with_context(|| format!("cannot write as {annotator}"))?;
    let scheme = &project.file.label_scheme;
    let cache = AnalysisCache::new(default_folder());
    let mut session = None;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut failed = 0_usize;
    for line in std::io::stdin().lock().lines() {
        let line = line.context("cannot read standard input")?;
        if line.trim().is_empty() {
            continue;
        }
        let next_id = store.next_seq().unwrap_or(1);
        let outcome = (|| -> anyhow::Result<_> {
            let request = parse_request(&line, scheme, next_id)?;
            let recording = |file: &str| {
                collection
                    .recordings
                    .iter()
                    .find(|r| r.listed_path == file)
                    .ok_or_else(|| anyhow::anyhow!("{file:?} is not a recording of this project"))
            };
            let mine = |store: &AnnotationStore, file: &str| {
                store.label(file, store.annotator()?).cloned()
            };
            let applied = match request {
                Request::Edit { file, op } => {
                    recording(&file)?;
                    let label = mine(&store, &file);
                    check_fits(label.as_ref().map_or(&[], |l| &l.segments), &op)?;
                    store.edit(&file, op)
                }
                Request::Segment { file, edit } => {
                    // The end of the recording bounds a moved boundary (unbounded when the
                    // header cannot say).
                    let duration_s = probe(&recording(&file)?.path)
                        .ok()
                        .and_then(|info| info.duration_secs())
                        .unwrap_or(f64::INFINITY);
                    let label = mine(&store, &file);
                    let op =
                        resolve_segment_edit(&edit, scheme, label.as_ref(), duration_s, next_id)?;
                    match op {
                        Some(op) => store.edit(&file, op),
                        None => return Ok(None),
                    }
                }
                Request::AcceptModel { file } => {
                    let path = &recording(&file)?.path;
                    let (class, model) =
                        model_class(&mut session, (&project, &collection), path, &cache)?;
                    store.edit(
                        &file,
                        Op::SetClass {
                            class: Some(class),
                            source: ClassSource::AcceptedModel,
                            model: Some(model),
                        },
                    )
                }
                Request::Undo => store.undo().and_then(|a| {
                    a.ok_or(crate::annotation::AnnotationError::Invalid(
                        "nothing to undo".into(),
                    ))
                }),
                Request::Redo => store.redo().and_then(|a| {
                    a.ok_or(crate::annotation::AnnotationError::Invalid(
                        "nothing to redo".into(),
                    ))
                }),
            };
            Ok(Some(applied?))
        })();
        let ack = match outcome {
            Ok(Some(applied)) => Ack {
                ok: true,
                seq: Some(applied.entry.seq),
                file: Some(applied.entry.file),
                error: None,
            },
            // A segment edit that changes nothing (a boundary already at its limit).
            Ok(None) => Ack {
                ok: true,
                seq: None,
                file: None,
                error: None,
            },
            Err(error) => {
                failed += 1;
                Ack {
                    ok: false,
                    seq: None,
                    file: None,
                    error: Some(format!("{error:#}")),
                }
            }
        };
        writeln!(out, "{}", serde_json::to_string(&ack)?).and_then(|()| out.flush())?;
    }
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(super::EXIT_FOUND_PROBLEMS)
    })
}
