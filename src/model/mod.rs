//! Everything that touches ONNX Runtime; the only module that uses `ort`.

pub mod runtime;

pub use runtime::{RuntimeError, RuntimeLibrary, RuntimeOrigin};
