//! Pane images as textures, kept until what they show changes.

use egui::{ColorImage, TextureOptions};

use crate::ui::recording::DataVersion;
use crate::ui::timeline::Timeline;

/// What a pane image shows: which data (recording and analysis generation) over which stretch of
/// time at which width. Never a memory address: a freed buffer's address can be reused by the
/// next recording's data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct TextureKey {
    data: DataVersion,
    start_s_bits: u64,
    span_s_bits: u64,
    columns: usize,
}

impl TextureKey {
    pub(super) fn new(data: DataVersion, timeline: &Timeline, columns: usize) -> Self {
        Self {
            data,
            start_s_bits: timeline.start_s.to_bits(),
            span_s_bits: timeline.span_s.to_bits(),
            columns,
        }
    }
}

/// A texture for `key`, rebuilt by `build` only when the key changes (other data, zoom, scroll,
/// width).
pub(super) fn cached_texture(
    ui: &egui::Ui,
    id: egui::Id,
    key: TextureKey,
    build: impl FnOnce() -> ColorImage,
) -> egui::TextureHandle {
    if let Some((cached_key, texture)) =
        ui.data(|d| d.get_temp::<(TextureKey, egui::TextureHandle)>(id))
        && cached_key == key
    {
        return texture;
    }
    let texture = ui
        .ctx()
        .load_texture(format!("{id:?}"), build(), TextureOptions::NEAREST);
    ui.data_mut(|d| d.insert_temp(id, (key, texture.clone())));
    texture
}
