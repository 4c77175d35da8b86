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

/// mimalloc, not glibc's malloc, for everything the crate links into (the binary, tests, benches):
/// with glibc, resident memory climbed 91 MiB over opens 250 to 500 of `benches/soak.rs` (each
/// recording's buffers left fragmented heaps behind; capping glibc's per-thread arenas at 2 still
/// left 78 MiB), with mimalloc 6 MiB.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
