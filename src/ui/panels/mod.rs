//! The panels of the studio window, each a function drawing into a `Ui`.

mod browser;
mod header;

pub use browser::browser_ui;
pub use header::{footer_ui, header_ui};
