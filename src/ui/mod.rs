//! The studio window: the only module that uses egui/eframe.

mod agreement;
mod agreement_handling;
mod app;
mod collection;
mod command_handling;
mod commands;
mod engine;
mod engine_state;
mod exporting;
mod gamepad;
mod labelling;
mod lane_layout;
mod panels;
mod player;
mod prediction;
mod problems;
mod recording;
mod retrain_handling;
mod retraining;
mod rows;
mod screenshot;
mod segment_handling;
mod segments;
mod theme;
mod timeline;
mod trace_handling;
mod trace_mode;
mod view;

use std::path::{Path, PathBuf};

pub use app::StudioApp;
pub use player::Playback;
pub use screenshot::ScreenshotError;
pub use trace_mode::StickInput;

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

/// How the window is started from the command line.
#[derive(Debug, Default, Clone)]
pub struct WindowOptions {
    /// Project, folder or manifest (default: the demo project).
    pub path: Option<PathBuf>,
    /// Another model than the project's or the shipped one.
    pub model: Option<PathBuf>,
    /// Whose journal labels go to (default: the `USER` environment variable).
    pub annotator: Option<String>,
    /// Open this recording (its listed path or file name) at start.
    pub select: Option<String>,
    /// Render the window once everything has loaded, write this PNG and quit.
    pub screenshot: Option<PathBuf>,
}

/// Why the window could not run to the end.
#[derive(Debug, thiserror::Error)]
pub enum WindowError {
    #[error(
        "cannot open the studio window: {0}\n(no display? the headless commands `merit-studio info` and `merit-studio scan` work without one)"
    )]
    Open(#[from] eframe::Error),
    #[error(transparent)]
    Screenshot(#[from] ScreenshotError),
}

/// Opens the studio window and runs until it is closed.
///
/// # Errors
/// The window could not open (no display), or `--screenshot` could not write its image.
pub fn run(options: WindowOptions) -> Result<(), WindowError> {
    let recent =
        crate::project::recent::RecentProjects::load(crate::project::recent::default_file());
    let path = options
        .path
        .clone()
        .or_else(|| recent.last_existing().map(Path::to_path_buf))
        .unwrap_or_else(demo_project_path);
    let native = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("MERIT Studio")
            .with_inner_size([1280.0, 800.0])
            .with_min_inner_size([900.0, 560.0]),
        ..Default::default()
    };
    let outcome = std::sync::Arc::new(std::sync::Mutex::new(Ok(())));
    let screenshot_outcome = outcome.clone();
    let result = eframe::run_native(
        "MERIT Studio",
        native,
        Box::new(move |creation| {
            let playback = if options.screenshot.is_some() {
                Playback::Unavailable("screenshot mode".into())
            } else {
                match crate::playback::AudioOutput::open() {
                    Ok(output) => Playback::Sink(Box::new(output)),
                    Err(error) => {
                        tracing::warn!("{error}");
                        Playback::Unavailable(error.to_string())
                    }
                }
            };
            let mut app = StudioApp::open(&path, Some(creation.egui_ctx.clone()), playback)
                .with_recent(recent);
            if let Some(model) = &options.model {
                app = app.with_model(model.clone());
            }
            // Screenshots take no journal lock unless an annotator is named.
            let default_user = options
                .screenshot
                .is_none()
                .then(|| std::env::var("USER").ok())
                .flatten();
            let annotator = options
                .annotator
                .clone()
                .or(default_user)
                .and_then(|name| crate::annotation::annotator::normalise_annotator(&name).ok());
            if let Some(annotator) = annotator {
                app = app.with_annotator(&annotator);
            }
            if options.screenshot.is_none()
                && let Some(stick) = gamepad::GilrsStick::open()
            {
                app = app.with_stick(Box::new(stick));
            }
            if let Some(listed) = &options.select {
                app.select_when_listed(listed);
            }
            Ok(match options.screenshot {
                Some(out) => Box::new(screenshot::ScreenshotApp::new(app, out, screenshot_outcome))
                    as Box<dyn eframe::App>,
                None => Box::new(app),
            })
        }),
    );
    result?;
    std::mem::replace(
        &mut *outcome
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner),
        Ok(()),
    )?;
    Ok(())
}
