//! `merit-studio --screenshot OUT.png`: runs the window until all background work (header reading,
//! decoding, analysis, spectrograms) is done, captures it, writes a PNG and quits.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use super::StudioApp;

/// Why the screenshot was not written.
#[derive(Debug, thiserror::Error)]
pub enum ScreenshotError {
    #[error("{}: {error}", path.display())]
    Create {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{}: {error}", path.display())]
    Encode {
        path: PathBuf,
        error: png::EncodingError,
    },
}

/// Frames to wait after the last background job, so layout and textures settle.
const SETTLE_FRAMES: u32 = 10;

pub struct ScreenshotApp {
    app: StudioApp,
    out: PathBuf,
    idle_frames: u32,
    requested: bool,
    captured: Arc<Mutex<Option<Arc<egui::ColorImage>>>>,
    outcome: Arc<Mutex<Result<(), ScreenshotError>>>,
}

impl ScreenshotApp {
    pub fn new(
        app: StudioApp,
        out: PathBuf,
        outcome: Arc<Mutex<Result<(), ScreenshotError>>>,
    ) -> Self {
        Self {
            app,
            out,
            idle_frames: 0,
            requested: false,
            captured: Arc::default(),
            outcome,
        }
    }

    fn write_png(&self, image: &egui::ColorImage) -> Result<(), ScreenshotError> {
        let file = std::fs::File::create(&self.out).map_err(|error| ScreenshotError::Create {
            path: self.out.clone(),
            error,
        })?;
        let [width, height] = image.size;
        let mut encoder = png::Encoder::new(
            std::io::BufWriter::new(file),
            u32::try_from(width).unwrap_or(0),
            u32::try_from(height).unwrap_or(0),
        );
        encoder.set_color(png::ColorType::Rgba);
        encoder.set_depth(png::BitDepth::Eight);
        let bytes: Vec<u8> = image
            .pixels
            .iter()
            .flat_map(egui::Color32::to_array)
            .collect();
        encoder
            .write_header()
            .and_then(|mut writer| writer.write_image_data(&bytes))
            .map_err(|error| ScreenshotError::Encode {
                path: self.out.clone(),
                error,
            })
    }
}

impl eframe::App for ScreenshotApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.app.studio_ui(ui);
        let ctx = ui.ctx().clone();
        let image = self
            .captured
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(image) = image {
            let result = self.write_png(&image);
            if result.is_ok() {
                tracing::info!("wrote {}", self.out.display());
            }
            *self.outcome.lock().unwrap_or_else(PoisonError::into_inner) = result;
            ctx.send_viewport_cmd(egui::ViewportCommand::Close);
            return;
        }
        if self.app.is_busy() {
            self.idle_frames = 0;
        } else {
            self.idle_frames += 1;
        }
        if self.idle_frames >= SETTLE_FRAMES && !self.requested {
            self.requested = true;
            let captured = self.captured.clone();
            let repaint = ctx.clone();
            ctx.request_screenshot(move |image| {
                *captured.lock().unwrap_or_else(PoisonError::into_inner) = Some(image);
                repaint.request_repaint();
            });
        }
        ctx.request_repaint();
    }
}
