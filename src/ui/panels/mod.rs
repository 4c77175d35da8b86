//! The window's panels; each draws part of [`crate::ui::StudioApp`] and reports the user's actions
//! back to it.

mod browser;
mod header;
mod label;
mod lanes;
mod palette;
mod recording;

pub use browser::{BrowserKey, BrowserView, browser_ui};
pub use header::{footer_ui, header_ui};
pub use label::{LabelDrafts, label_ui};
pub use palette::{export_ui, model_card_ui, palette_ui};
pub use recording::recording_ui;
