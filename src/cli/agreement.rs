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
        ToString::to_string,
    )
}

#[derive(Debug, clap::Args)]
pub struct AgreementArgs {
    project: PathBuf,
    #[arg(long)]
    json: bool,
    /// Traces: also the CCC at each pair's best lag within this many seconds (e.g. 2).
    #[arg(long, value_name = "SECONDS")]
    lag: Option<f64>,
    /// Traces: score the model's proxy trace (circumplex positions of its classes) against the
    /// human mean (runs the model, or reads its cache).
    #[arg(long)]
    proxy: bool,
}

pub fn run(args: &AgreementArgs) -> anyhow::Result<ExitCode> {
    let &AgreementArgs {
        project: ref project_path,
        json,
        lag,
        proxy,
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
    let attributes = project.file.label_scheme.attribute_ids();
    let result = report(store.iter().map(|(_, by)| by), &attributes);
    let traces = super::traces::trace_reports(&project, &collection, &store, lag, proxy)?;
    if json {
        let mut value = serde_json::to_value(&result)?;
        value["traces"] = serde_json::to_value(&traces)?;
        println!("{}", serde_json::to_string_pretty(&value)?);
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
    for (dimension, report) in &traces {
        let a = &report.agreement;
        let figure = |value: Option<f64>, interval: Option<[f64; 2]>| match (value, interval) {
            (Some(v), Some([low, high])) => format!("{v:.3} [{low:.3}, {high:.3}]"),
            _ => "not defined".to_owned(),
        };
        println!(
            "trace {dimension:<6} mean pairwise CCC {} · Krippendorff's alpha (interval, frames) {} · Cronbach's alpha {} over {} recordings",
            figure(a.ccc, a.ccc_interval),
            figure(a.krippendorff_alpha, a.krippendorff_alpha_interval),
            figure(a.cronbach_alpha, a.cronbach_alpha_interval),
            a.recordings
        );
        for (x, y, value) in &a.pairs {
            println!(
                "             {x} / {y}: CCC {}",
                value.map_or("not defined".into(), |v| format!("{v:.3}"))
            );
        }
        if let Some(lagged) = a.lagged {
            println!(
                "             best lag: CCC {:.3} at {:+.2} s on average",
                lagged.ccc, lagged.lag_s
            );
        }
        if let Some(proxy) = report.model_proxy_ccc {
            println!("             model proxy (circumplex) vs human mean: CCC {proxy:.3}");
        }
    }
    println!("(95% intervals: 1000 bootstrap resamples of recordings, seed 1)");
    Ok(ExitCode::SUCCESS)
}
