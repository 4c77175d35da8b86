//! `merit-studio`: parse the command line, set up logging, run the studio or a headless command.

use std::process::ExitCode;

use clap::Parser;
use merit_studio::cli::{self, Cli};

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "warn,symphonia=error,merit_studio=info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Cli::parse();
    match args.command {
        Some(command) => cli::run(command),
        None => {
            let window = merit_studio::ui::run(merit_studio::ui::WindowOptions {
                path: args.path,
                model: args.model,
                select: args.select,
                annotator: args.annotator,
                screenshot: args.screenshot,
            });
            match window {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => {
                    eprintln!("error: {error:#}");
                    ExitCode::from(cli::EXIT_FAILED)
                }
            }
        }
    }
}
