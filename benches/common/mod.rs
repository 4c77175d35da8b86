//! What the benchmarks share: their command-line options, percentiles, the window at 1280×800
//! through egui_kittest, and the studio's frames timed as a desktop window draws them.
// Each benchmark uses part of this.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use egui::{Event, Key, Modifiers, Pos2, RawInput, Rect, Vec2};
use egui_kittest::Harness;
use merit_studio::ui::StudioApp;

/// The window size every bench draws at.
const WINDOW_SIZE: Vec2 = Vec2::new(1280.0, 800.0);

/// The value after `name` on the command line (`-- --seconds 60`).
pub fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

/// The `p` quantile (0 to 1) of `sorted`, the nearest rank.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// `app` in egui_kittest at the benches' window size.
pub fn harness(app: StudioApp) -> Harness<'static, StudioApp> {
    Harness::builder()
        .with_size(WINDOW_SIZE)
        .build_ui_state(|ui, app: &mut StudioApp| app.studio_ui(ui), app)
}

/// The studio's frames as eframe draws them on a desktop with no assistive technology running:
/// layout and tessellation on the UI thread, no AccessKit tree (eframe builds one only when a
/// screen reader asks for it, egui_kittest on every frame, for its queries), no GPU rasterisation.
pub struct BareWindow {
    ctx: egui::Context,
    app: StudioApp,
    started: Instant,
}

impl BareWindow {
    pub fn new(app: StudioApp) -> Self {
        Self {
            ctx: egui::Context::default(),
            app,
            started: Instant::now(),
        }
    }

    /// Draws one frame, with `key` pressed and released first (if any); returns its time in
    /// milliseconds.
    pub fn frame(&mut self, key: Option<Key>) -> f64 {
        let mut input = RawInput {
            screen_rect: Some(Rect::from_min_size(Pos2::ZERO, WINDOW_SIZE)),
            time: Some(self.started.elapsed().as_secs_f64()),
            ..RawInput::default()
        };
        if let Some(key) = key {
            for pressed in [true, false] {
                input.events.push(Event::Key {
                    key,
                    physical_key: None,
                    pressed,
                    repeat: false,
                    modifiers: Modifiers::NONE,
                });
            }
        }
        let begun = Instant::now();
        let app = &mut self.app;
        let output = self.ctx.run_ui(input, |ui| app.studio_ui(ui));
        let primitives = self.ctx.tessellate(output.shapes, output.pixels_per_point);
        let elapsed = begun.elapsed().as_secs_f64() * 1000.0;
        drop(primitives);
        elapsed
    }

    pub fn app(&self) -> &StudioApp {
        &self.app
    }

    pub fn into_app(self) -> StudioApp {
        self.app
    }
}
