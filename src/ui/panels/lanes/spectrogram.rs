//! The mel spectrogram pane: each pixel column shows the loudest frame under it.

use egui::{Color32, ColorImage, Pos2, Rect, Sense, Vec2};

use crate::ui::recording::{DataVersion, SpectrogramImage};
use crate::ui::theme;
use crate::ui::timeline::Timeline;

use super::texture::{TextureKey, cached_texture};
use super::{TimeGesture, colour_scale, gestures};

pub fn spectrogram(
    ui: &mut egui::Ui,
    size: Vec2,
    timeline: &Timeline,
    image: Option<(&SpectrogramImage, DataVersion)>,
    title: &str,
) -> (Rect, Vec<TimeGesture>) {
    let (rect, response) = ui.allocate_exact_size(size, Sense::click_and_drag());
    let painter = ui.painter_at(rect);
    painter.rect_filled(rect, 0.0, theme::viridis(0.0));
    if let Some((image, data)) = image {
        let columns = rect.width().max(1.0) as usize;
        let texture = cached_texture(
            ui,
            ui.scope_id().with(("spectrogram", title)),
            TextureKey::new(data, timeline, columns),
            || {
                // Each pixel column shows the loudest of the frames under it.
                let frames = image.frames();
                let mut pixels = vec![Color32::BLACK; columns * image.bands];
                for column in 0..columns {
                    let t0 = timeline.start_s + timeline.span_s * column as f64 / columns as f64;
                    let t1 =
                        timeline.start_s + timeline.span_s * (column + 1) as f64 / columns as f64;
                    let first = ((t0 / image.hop_s) as usize).min(frames.saturating_sub(1));
                    let last =
                        ((t1 / image.hop_s) as usize).clamp(first + 1, frames.max(first + 1));
                    for band in 0..image.bands {
                        // Low frequencies at the bottom.
                        pixels[(image.bands - 1 - band) * columns + column] =
                            theme::viridis_level(image.max_over(first, last, band));
                    }
                }
                ColorImage::new([columns, image.bands], pixels)
            },
        );
        painter.image(
            texture.id(),
            rect,
            Rect::from_min_max(Pos2::ZERO, Pos2::new(1.0, 1.0)),
            Color32::WHITE,
        );
    } else {
        painter.text(
            rect.center(),
            egui::Align2::CENTER_CENTER,
            "computing…",
            egui::FontId::proportional(12.0),
            Color32::WHITE,
        );
    }
    painter.text(
        rect.left_top() + Vec2::new(4.0, 2.0),
        egui::Align2::LEFT_TOP,
        format!("{title} · mel 50 Hz–8 kHz"),
        egui::FontId::proportional(11.0),
        Color32::WHITE,
    );
    colour_scale(&painter, rect, ("-80 dB", "max"), Color32::WHITE);
    let gestures = gestures(ui, &response, timeline, title);
    (rect, gestures)
}
