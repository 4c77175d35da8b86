//! MERIT Studio: label and study emotional speech in noisy recordings with Sparse MERIT.
//!
//! Layers (see ARCHITECTURE.md): `audio` and `project` are pure domain logic; `model` is the only
//! user of ONNX Runtime; `jobs` runs background work; `ui` is the only user of egui; `cli` holds
//! the headless commands.

pub mod annotation;
pub mod audio;
pub mod cli;
pub mod export;
pub mod fsio;
pub mod jobs;
pub mod learning;
pub mod model;
pub mod playback;
pub mod project;
pub mod ui;
