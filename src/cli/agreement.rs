//! `merit-studio agreement PROJECT`: how well the project's annotators agree (Krippendorff's
//! alpha with bootstrap intervals, Fleiss' kappa where it is defined, each pair of annotators).

use std::path::PathBuf;
use std::process::ExitCode;

use crate::annotation::AnnotationStore;
use crate::annotation::agreement::{Estimate, report};
use crate::project::{Collection, Project};

fn describe(estimate: Option<&Estimate>) -> String {
    estimate.map_or_else(
        || "not defined (fewer than two ratings of anything, or no variation)".to_owned(),
        |e| {
            format!(
                "{:.3} [{:.3}, {:.3}] over {} recordings",
                e.alpha, e.low, e.high, e.units
            )
        },
    )
}

#[derive(Debug, clap::Args)]
pub struct AgreementArgs {
    project: PathBuf,
    #[arg(long)]
    json: bool,
}

pub fn run(args: &AgreementArgs) -> anyhow::Result<ExitCode> {
    let &AgreementArgs {
        project: ref project_path,
        json,
    } = args;
    let project = Project::open(project_path)?;
    let collection = Collection::load(&project);
    let store = AnnotationStore::load(&project.root)?;
    for warning in store.warnings() {
        eprintln!("warning: {warning}");
    }
    let listed: Vec<&str> = collection
        .recordings
        .iter()
        .map(|r| r.listed_path.as_str())
        .collect();
    let orphans = store.orphans(listed.iter().copied());
    if !orphans.is_empty() {
        eprintln!(
            "note: {} labelled recordings are no longer in the collection; they count too",
            orphans.len()
        );
    }
    let attributes: Vec<String> = project
        .file
        .label_scheme
        .attributes
        .iter()
        .map(|a| a.id.clone())
        .collect();
    let result = report(store.iter().map(|(_, by)| by), &attributes);
    if json {
        println!("{}", serde_json::to_string_pretty(&result)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "annotators   {} ({})",
        result.annotators.len(),
        result.annotators.join(", ")
    );
    println!("recordings   {} with labels", result.recordings);
    println!(
        "class        Krippendorff's alpha (nominal) {}",
        describe(result.classes.as_ref())
    );
    println!(
        "             Fleiss' kappa {}",
        result.fleiss_kappa.map_or_else(
            || "not defined: recordings have different numbers of raters".to_owned(),
            |k| format!("{k:.3}")
        )
    );
    for (name, estimate) in &result.attributes {
        println!(
            "{name:<12} Krippendorff's alpha (interval) {}",
            describe(estimate.as_ref())
        );
    }
    for (a, b, estimate) in &result.pairs {
        println!("pair         {a} / {b}: {}", describe(estimate.as_ref()));
    }
    println!("(95% intervals: 1000 bootstrap resamples of recordings, seed 1)");
    Ok(ExitCode::SUCCESS)
}
