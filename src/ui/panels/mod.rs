//! The window's panels. Each draws from a read-only [`crate::ui::view::StudioView`] and reports
//! the user's actions through a [`crate::ui::commands::CommandSender`]; none changes the app.

mod agreement;
mod browser;
mod comments;
mod export;
mod header;
mod label;
mod lane_stack;
mod lanes;
mod model_card;
mod palette;
mod recording;
mod retrain;
mod trace;

pub use agreement::agreement_ui;
pub use browser::browser_ui;
pub use comments::comments_ui;
pub use export::export_ui;
pub use header::{footer_ui, header_ui};
pub use label::{LabelDrafts, label_ui};
pub use model_card::model_card_ui;
pub use palette::palette_ui;
pub use recording::recording_ui;
pub use retrain::retrain_ui;
