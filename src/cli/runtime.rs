//! `merit-studio runtime`

use std::process::ExitCode;

use crate::model::runtime;

pub fn run() -> anyhow::Result<ExitCode> {
    let library = runtime::locate()?;
    println!("ONNX Runtime library: {}", library.path.display());
    println!("  found via         {:?}", library.origin);
    println!(
        "  version           {}",
        library
            .version
            .as_deref()
            .unwrap_or("(not in the file name)")
    );
    println!(
        "  CUDA provider     {}",
        if library.has_cuda_provider {
            "present (onnxruntime-gpu build)"
        } else {
            "absent (CPU-only build)"
        }
    );
    runtime::initialise()?;
    println!("  loaded            ok");
    Ok(ExitCode::SUCCESS)
}
