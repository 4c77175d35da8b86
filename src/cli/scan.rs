//! `merit-studio scan PATH`

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;

use crate::jobs::JobContext;
use crate::jobs::scan::{CheckDepth, check_files};
use crate::project::{Collection, Project};

use super::EXIT_FOUND_PROBLEMS;
use crate::audio::format_duration;

#[derive(Debug, clap::Args)]
pub struct ScanArgs {
    path: PathBuf,
    /// Read headers only (fast) instead of decoding every file.
    #[arg(long)]
    headers_only: bool,
    /// Files checked in parallel (default: the number of cores).
    #[arg(long)]
    jobs: Option<usize>,
    /// Print a JSON report instead of text.
    #[arg(long)]
    json: bool,
}

pub fn run(args: &ScanArgs) -> anyhow::Result<ExitCode> {
    let &ScanArgs {
        ref path,
        headers_only,
        jobs,
        json,
    } = args;
    let project = Project::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let collection = Collection::load(&project);
    let depth = if headers_only {
        CheckDepth::Headers
    } else {
        CheckDepth::FullDecode
    };
    let present: Vec<_> = collection
        .recordings
        .iter()
        .filter(|r| !r.missing)
        .map(|r| r.path.clone())
        .collect();
    let results = check_files(
        &present,
        depth,
        jobs.unwrap_or_else(crate::jobs::available_cores),
        &JobContext::detached(),
    );

    let mut total_secs = 0.0;
    let (mut formats, mut rates, mut channels) =
        (BTreeMap::new(), BTreeMap::new(), BTreeMap::new());
    let mut broken = Vec::new();
    let mut files_json = Vec::new();
    for (path, result) in present.iter().zip(results.iter().flatten()) {
        match result {
            Ok(check) => {
                total_secs += check.duration_secs().unwrap_or(0.0);
                *formats
                    .entry(format!("{}/{}", check.info.container, check.info.codec))
                    .or_insert(0) += 1;
                *rates.entry(check.info.sample_rate_hz).or_insert(0) += 1;
                *channels.entry(check.info.channels).or_insert(0) += 1;
                files_json.push(serde_json::json!({"file": path, "ok": true, "check": check}));
            }
            Err(error) => {
                broken.push(error);
                files_json.push(serde_json::json!({
                    "file": path, "ok": false, "error_kind": error.kind(), "error": error.to_string()
                }));
            }
        }
    }
    let missing: Vec<_> = collection.missing().collect();
    let unreadable_sources = collection
        .issues
        .iter()
        .filter(|i| i.fatal_for_source)
        .count();

    if json {
        let report = serde_json::json!({
            "project": project.file.name,
            "root": project.root,
            "recordings": collection.recordings.len(),
            "checked": present.len(),
            "broken": broken.len(),
            "missing": missing.iter().map(|r| &r.path).collect::<Vec<_>>(),
            "total_duration_s": total_secs,
            "issues": collection.issues.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "files": files_json,
        });
        println!("{report:#}");
    } else {
        print_summary(
            &project,
            &collection,
            present.len(),
            broken.len(),
            total_secs,
        );
        print_counts("formats", formats.iter().map(|(k, v)| (k.clone(), *v)));
        print_counts(
            "sample rates",
            rates.iter().map(|(k, v)| (format!("{k} Hz"), *v)),
        );
        print_counts(
            "channels",
            channels.iter().map(|(k, v)| (k.to_string(), *v)),
        );
        for error in &broken {
            println!("BROKEN [{}] {error}", error.kind());
        }
        for recording in &missing {
            println!(
                "MISSING {}: file not found (listed as {})",
                recording.path.display(),
                recording.listed_path
            );
        }
        for issue in &collection.issues {
            println!("PROBLEM {issue}");
        }
    }
    Ok(
        if unreadable_sources == project.file.sources.len() && unreadable_sources > 0 {
            ExitCode::from(super::EXIT_FAILED)
        } else if broken.is_empty() && missing.is_empty() && collection.issues.is_empty() {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(EXIT_FOUND_PROBLEMS)
        },
    )
}

fn print_summary(
    project: &Project,
    collection: &Collection,
    checked: usize,
    broken: usize,
    total_secs: f64,
) {
    println!("{} ({})", project.file.name, project.root.display());
    println!(
        "  {} recordings: {} ok, {broken} broken, {} missing; {} of audio",
        collection.recordings.len(),
        checked - broken,
        collection.missing().count(),
        format_duration(total_secs)
    );
}

fn print_counts(title: &str, counts: impl Iterator<Item = (String, usize)>) {
    let parts: Vec<_> = counts
        .map(|(key, count)| format!("{key} x{count}"))
        .collect();
    if !parts.is_empty() {
        println!("  {title}: {}", parts.join(", "));
    }
}
