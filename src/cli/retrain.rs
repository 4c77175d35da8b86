//! `retrain`: fine-tune the project's model on its human labels (the window's Retrain, headless),
//! and `models`: list the project's models and switch between them.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::annotation::annotator::normalise_annotator;
use crate::export::Selection;
use crate::jobs::JobContext;
use crate::jobs::model_choice::choose_model;
use crate::learning::{
    FineTuneCard, RetrainRequest, TrainingEnvironment, list_models, retrain_project, use_model,
};
use crate::project::Project;

#[derive(Debug, clap::Args)]
pub struct RetrainArgs {
    /// Project folder or project.json.
    project: PathBuf,
    /// Learn from one annotator's labels (default: the consensus of all).
    #[arg(long)]
    annotator: Option<String>,
    /// Also learn from model predictions that annotators accepted.
    #[arg(long)]
    include_accepted: bool,
    /// Learn by this many gradient steps on the SER head and routers instead of refitting the
    /// head's output layer in closed form (the default).
    #[arg(long)]
    steps: Option<u32>,
    /// Seeds the held-out part and the fine-tuning.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// The parent model (default: the project's, else the shipped one).
    #[arg(long)]
    model: Option<PathBuf>,
    /// Make the new model the project's model afterwards.
    #[arg(long = "use")]
    use_it: bool,
}

#[derive(Debug, clap::Args)]
pub struct ModelsArgs {
    /// Project folder or project.json.
    project: PathBuf,
    /// Make this model the project's model: a file, a name from the list, or "shipped".
    #[arg(long = "use", value_name = "MODEL")]
    use_model: Option<String>,
}

pub fn run_retrain(args: &RetrainArgs) -> anyhow::Result<ExitCode> {
    let mut project = Project::open(&args.project)?;
    let parent = choose_model(args.model.as_deref(), Some(&project))?;
    let environment = TrainingEnvironment::locate()?;
    let request = RetrainRequest {
        selection: match args.annotator.as_deref() {
            Some(name) => Selection::Annotator(normalise_annotator(name)?),
            None => Selection::Consensus,
        },
        include_accepted: args.include_accepted,
        steps: args.steps,
        seed: args.seed,
        ..RetrainRequest::default()
    };
    let tuned = retrain_project(
        &project,
        &parent,
        &request,
        &environment,
        &JobContext::detached(),
    )?;
    print_card(&tuned.card);
    println!("model: {}", tuned.model.display());
    if tuned.card.is_worse() {
        println!("the new model scores below its parent on the held-out labels");
    }
    if args.use_it {
        use_model(&mut project, Some(&tuned.model))?;
        println!("the project now analyses with {}", tuned.model.display());
    }
    Ok(ExitCode::SUCCESS)
}

fn print_card(card: &FineTuneCard) {
    let labels = &card.labels;
    println!(
        "labels: {} trained, {} held out ({}{}); skipped: {} missing audio, {} other class, {} undecodable",
        labels.train,
        labels.held_out,
        labels.selection,
        if labels.include_accepted {
            ", with accepted predictions"
        } else {
            ", human only"
        },
        labels.skipped_missing,
        labels.skipped_other_class,
        labels.skipped_undecodable
    );
    if let Some(spread) = labels.speaker_spread() {
        println!("speakers: labels {spread}");
    }
    println!(
        "held-out macro-F1: {:.3} (parent {:.3})",
        card.after.macro_f1, card.before.macro_f1
    );
    for (index, class) in card.classes.iter().enumerate() {
        let f1 = |figures: &crate::learning::Figures| figures.f1.get(index).copied();
        println!(
            "  {class:<12} F1 {:.3} (parent {:.3})",
            f1(&card.after).unwrap_or(f64::NAN),
            f1(&card.before).unwrap_or(f64::NAN)
        );
    }
}

pub fn run_models(args: &ModelsArgs) -> anyhow::Result<ExitCode> {
    let mut project = Project::open(&args.project)?;
    let models = list_models(&project);
    if let Some(wanted) = args.use_model.as_deref() {
        let chosen = if wanted == "shipped" {
            None
        } else {
            Some(
                models
                    .iter()
                    .find(|m| m.name() == wanted)
                    .map_or_else(|| PathBuf::from(wanted), |m| m.path.clone()),
            )
        };
        use_model(&mut project, chosen.as_deref())?;
    }
    let current = project.model_path();
    let marker = |active: bool| if active { "*" } else { " " };
    println!(
        "{} shipped ({})",
        marker(current.is_none()),
        crate::model::shipped_model_path().display()
    );
    for model in &models {
        let figures = model.card.as_ref().map_or_else(
            || "no card".to_owned(),
            |card| {
                format!(
                    "held-out macro-F1 {:.3} (parent {:.3}), {} labels",
                    card.after.macro_f1, card.before.macro_f1, card.labels.train
                )
            },
        );
        println!(
            "{} {}: {figures}",
            marker(current.as_ref() == Some(&model.path)),
            model.name()
        );
    }
    Ok(ExitCode::SUCCESS)
}
