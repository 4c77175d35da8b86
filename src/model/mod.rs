//! Everything that touches ONNX Runtime (the only module that uses `ort`), and the pure rules of the
//! model's contract and of speaker references.

pub mod analysis;
mod chunk_pass;
pub mod chunks;
pub mod contract;
pub mod onnx_file;
pub mod reference;
pub mod runtime;
pub mod session;

pub use contract::{ContractError, ModelCard};
pub use runtime::{RuntimeError, RuntimeLibrary, RuntimeOrigin};
pub use session::{
    BatchOutputs, DeviceChoice, MeritSession, ModelError, Provider, SessionOptions,
    cpu_variant_path,
};

/// The shipped compact model, the default when neither the user nor the project names one.
#[must_use]
pub fn shipped_model_path() -> std::path::PathBuf {
    let beside_sources =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("models/sparse-merit-compact.onnx");
    if beside_sources.is_file() {
        beside_sources
    } else {
        std::path::PathBuf::from("models/sparse-merit-compact.onnx")
    }
}
