//! The studio window: the only module that uses egui/eframe.

mod app;
mod panels;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

pub use app::StudioApp;

/// The bundled demo project, opened when nothing else is named.
#[must_use]
pub fn demo_project_path() -> PathBuf {
    let beside_sources = Path::new(env!("CARGO_MANIFEST_DIR")).join("projects/demo");
    if beside_sources.is_dir() {
        beside_sources
    } else {
        PathBuf::from("projects/demo")
    }
}

/// Opens the studio window on `path` (or the demo project) and runs until it is closed.
#[must_use]
pub fn run(path: Option<PathBuf>) -> ExitCode {
    let path = path.unwrap_or_else(demo_project_path);
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("MERIT Studio")
            .with_inner_size([1280.0, 800.0])
            .with_min_inner_size([900.0, 560.0]),
        ..Default::default()
    };
    let result = eframe::run_native(
        "MERIT Studio",
        options,
        Box::new(move |creation| {
            Ok(Box::new(StudioApp::open(
                &path,
                Some(creation.egui_ctx.clone()),
            )))
        }),
    );
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!(
                "error: cannot open the studio window: {error}\n(no display? the headless commands `merit-studio info` and `merit-studio scan` work without one)"
            );
            ExitCode::from(crate::cli::EXIT_FAILED)
        }
    }
}
