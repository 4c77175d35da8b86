//! The ONNX Runtime session builder for the options: threads, optimisation, and CUDA or the CPU.

use std::path::Path;

use ort::ep::{CPU, CUDA};
use ort::session::Session;
use ort::session::builder::{GraphOptimizationLevel, SessionBuilder};

use super::{DeviceChoice, ModelError, Provider, SessionOptions};
use crate::model::runtime;

/// A session builder for `options` and the provider it registered: CUDA when asked for (or on
/// [`DeviceChoice::Auto`] when it registers), else the CPU.
pub(super) fn session_builder(
    runtime: &runtime::Runtime,
    options: SessionOptions,
    path: &Path,
) -> Result<(SessionBuilder, Provider), ModelError> {
    let not_onnx = |reason: String| ModelError::NotOnnx {
        path: path.to_path_buf(),
        reason,
    };
    let mut builder = Session::builder(runtime.environment())
        .map_err(|e| not_onnx(e.to_string()))?
        .with_optimization_level(GraphOptimizationLevel::Level3)
        .map_err(|e| not_onnx(e.to_string()))?;
    if options.threads > 0 {
        builder = builder
            .with_intra_threads(options.threads)
            .map_err(|e| not_onnx(e.to_string()))?;
    }
    if options.device != DeviceChoice::Cpu {
        match builder.with_execution_providers([CUDA::default().build().error_on_failure()]) {
            Ok(with_cuda) => return Ok((with_cuda, Provider::Cuda)),
            Err(error) if options.device == DeviceChoice::Cuda => {
                return Err(ModelError::CudaUnavailable {
                    reason: error.message().to_owned(),
                });
            }
            Err(error) => {
                tracing::info!("CUDA not used: {}", error.message());
                builder = error.recover();
            }
        }
    }
    // ONNX Runtime's memory arena saves allocating every run's buffers anew (1.2-1.3x faster); its
    // memory patterns, one per input shape seen, would keep ~230 MB more resident for the whole
    // session, so they are off (README, "Analysis engine").
    let builder = builder
        .with_execution_providers([CPU::default().with_arena_allocator(true).build()])
        .map_err(|e| not_onnx(e.to_string()))?
        .with_memory_pattern(false)
        .map_err(|e| not_onnx(e.to_string()))?;
    Ok((builder, Provider::Cpu))
}
