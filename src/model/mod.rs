//! Everything that touches ONNX Runtime; the only module that uses `ort`.

pub mod analysis;
pub mod chunks;
pub mod contract;
pub mod runtime;
pub mod session;

pub use contract::{ContractError, ModelCard};
pub use runtime::{RuntimeError, RuntimeLibrary, RuntimeOrigin};
pub use session::{BatchOutputs, DeviceChoice, MeritSession, ModelError, Provider, SessionOptions};
