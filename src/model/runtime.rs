//! Finding and loading the ONNX Runtime shared library (`ort` is built with `load-dynamic`).
//!
//! Search order: `ORT_DYLIB_PATH`; the runtime folder that `scripts/setup-runtime.sh` fills from
//! the PyPI wheels (`onnxruntime-gpu` preferred over `onnxruntime`); an importable Python
//! `onnxruntime`. The first library found is loaded once per process.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// Where the loaded library came from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RuntimeOrigin {
    /// The `ORT_DYLIB_PATH` environment variable.
    EnvironmentVariable,
    /// A wheel unpacked by the set-up step into a runtime folder.
    SetupFolder,
    /// The `onnxruntime` package of the system's Python.
    Python,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RuntimeLibrary {
    pub path: PathBuf,
    pub origin: RuntimeOrigin,
    /// Version from the file name, e.g. `1.31.1`, when it carries one.
    pub version: Option<String>,
    /// The CUDA execution provider library sits beside it (an `onnxruntime-gpu` build).
    pub has_cuda_provider: bool,
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum RuntimeError {
    #[error(
        "ONNX Runtime was not found. Looked for:\n{tried}\nTo fix: run `scripts/setup-runtime.sh` (puts the PyPI wheel `onnxruntime` 1.31 into .runtime/), or `pip install onnxruntime==1.31.1`, or set ORT_DYLIB_PATH to a libonnxruntime.so of version 1.31 or newer. Everything that needs no model keeps working."
    )]
    NotFound { tried: String },
    #[error("cannot load ONNX Runtime from {}: {reason}", path.display())]
    Load { path: PathBuf, reason: String },
}

/// Environment variable naming an extra runtime folder to search.
pub const RUNTIME_DIR_VARIABLE: &str = "MERIT_RUNTIME_DIR";

/// Where [`locate_in`] looks, in order.
#[derive(Debug, Clone, Default)]
pub struct SearchPlaces {
    /// The value of `ORT_DYLIB_PATH`, if set.
    pub explicit_library: Option<PathBuf>,
    /// Runtime folders the set-up step may have filled (each holds `gpu/` and/or `cpu/`).
    pub runtime_folders: Vec<PathBuf>,
    /// The Python interpreter whose `onnxruntime` package to ask for, if any.
    pub python: Option<String>,
}

impl SearchPlaces {
    /// The places this process searches: the environment, the checkout, the system's Python.
    #[must_use]
    pub fn from_environment() -> Self {
        let mut folders = Vec::new();
        if let Some(dir) = std::env::var_os(RUNTIME_DIR_VARIABLE) {
            folders.push(PathBuf::from(dir));
        }
        // A binary in target/{debug,release}/ finds the checkout's .runtime/ two levels up.
        if let Ok(exe) = std::env::current_exe() {
            for ancestor in exe.ancestors().skip(1).take(4) {
                folders.push(ancestor.join(".runtime"));
            }
        }
        folders.push(Path::new(env!("CARGO_MANIFEST_DIR")).join(".runtime"));
        folders.dedup();
        Self {
            explicit_library: std::env::var_os("ORT_DYLIB_PATH").map(PathBuf::from),
            runtime_folders: folders,
            python: Some(std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_owned())),
        }
    }
}

/// The `libonnxruntime` shared library inside a folder (not the provider plug-ins).
fn library_in(folder: &Path) -> Option<PathBuf> {
    let mut candidates: Vec<PathBuf> = std::fs::read_dir(folder)
        .ok()?
        .filter_map(|entry| Some(entry.ok()?.path()))
        .filter(|path| {
            path.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|name| {
                    name.starts_with("libonnxruntime.")
                        && (name.contains(".so") || name.ends_with(".dylib"))
                })
        })
        .collect();
    // Prefer the fully versioned file (libonnxruntime.so.1.31.1) over bare links.
    candidates.sort_by_key(|path| std::cmp::Reverse(path.as_os_str().len()));
    candidates.into_iter().next()
}

fn describe(path: &Path, origin: RuntimeOrigin) -> RuntimeLibrary {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let version = name
        .split_once(".so.")
        .map(|(_, version)| version.to_owned())
        .filter(|v| v.chars().next().is_some_and(|c| c.is_ascii_digit()));
    let has_cuda_provider = path
        .parent()
        .is_some_and(|dir| dir.join("libonnxruntime_providers_cuda.so").is_file());
    RuntimeLibrary {
        path: path.to_path_buf(),
        origin,
        version,
        has_cuda_provider,
    }
}

/// Why the system's Python gave no `onnxruntime` package folder.
#[derive(Debug, thiserror::Error)]
enum PythonProbeError {
    #[error("{python} could not be run: {error}")]
    Run {
        python: String,
        error: std::io::Error,
    },
    #[error("{0} cannot import onnxruntime")]
    NoPackage(String),
}

fn python_package_folder(python: &str) -> Result<PathBuf, PythonProbeError> {
    let output = Command::new(python)
        .args([
            "-c",
            "import os, onnxruntime; print(os.path.dirname(onnxruntime.__file__))",
        ])
        .output()
        .map_err(|error| PythonProbeError::Run {
            python: python.to_owned(),
            error,
        })?;
    if !output.status.success() {
        return Err(PythonProbeError::NoPackage(python.to_owned()));
    }
    Ok(PathBuf::from(String::from_utf8_lossy(&output.stdout).trim()).join("capi"))
}

/// Finds the library this process would load, without loading it.
///
/// # Errors
/// [`RuntimeError::NotFound`], listing everything that was tried.
pub fn locate() -> Result<RuntimeLibrary, RuntimeError> {
    locate_in(&SearchPlaces::from_environment())
}

/// Finds the library in the given places, without loading it.
///
/// # Errors
/// [`RuntimeError::NotFound`], listing everything that was tried.
pub fn locate_in(places: &SearchPlaces) -> Result<RuntimeLibrary, RuntimeError> {
    let mut tried = Vec::new();
    match &places.explicit_library {
        Some(path) if path.is_file() => {
            return Ok(describe(path, RuntimeOrigin::EnvironmentVariable));
        }
        Some(path) => tried.push(format!(
            "  ORT_DYLIB_PATH={} (no such file)",
            path.display()
        )),
        None => tried.push("  ORT_DYLIB_PATH (not set)".to_owned()),
    }
    for folder in &places.runtime_folders {
        for flavour in ["gpu", "cpu"] {
            let capi = folder.join(flavour).join("onnxruntime/capi");
            if let Some(path) = library_in(&capi) {
                return Ok(describe(&path, RuntimeOrigin::SetupFolder));
            }
            tried.push(format!("  {} (none there)", capi.display()));
        }
    }
    if let Some(python) = &places.python {
        match python_package_folder(python) {
            Ok(capi) => match library_in(&capi) {
                Some(path) => return Ok(describe(&path, RuntimeOrigin::Python)),
                None => tried.push(format!(
                    "  Python onnxruntime at {} (no library)",
                    capi.display()
                )),
            },
            Err(reason) => tried.push(format!("  Python onnxruntime ({reason})")),
        }
    }
    Err(RuntimeError::NotFound {
        tried: tried.join("\n"),
    })
}

/// ONNX Runtime, loaded: the library it came from and the process's one environment.
pub struct Runtime {
    pub library: RuntimeLibrary,
    // Sessions are built from it, and ort keeps only a weak reference, so it lives here for good.
    environment: ort::environment::Environment,
}

impl Runtime {
    #[must_use]
    pub fn environment(&self) -> &ort::environment::Environment {
        &self.environment
    }
}

static RUNTIME: OnceLock<Result<Runtime, RuntimeError>> = OnceLock::new();

/// Locates and loads ONNX Runtime once per process; later calls return the same outcome.
///
/// # Errors
/// [`RuntimeError`] when no library is found or it cannot be loaded (wrong version, not a library).
pub fn initialise() -> Result<&'static Runtime, RuntimeError> {
    RUNTIME
        .get_or_init(|| {
            let library = locate()?;
            let load_error = |reason: String| RuntimeError::Load {
                path: library.path.clone(),
                reason,
            };
            let environment = ort::init_from(&library.path)
                .map_err(|e| load_error(e.to_string()))?
                .with_name("merit-studio")
                .with_telemetry(false)
                .build()
                .map_err(|e| load_error(e.to_string()))?;
            tracing::info!(path = %library.path.display(), origin = ?library.origin, "loaded ONNX Runtime");
            Ok(Runtime {
                library,
                environment,
            })
        })
        .as_ref()
        .map_err(Clone::clone)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_versioned_library_and_ignores_providers() {
        let dir = tempfile::tempdir().unwrap();
        for name in [
            "libonnxruntime_providers_shared.so",
            "libonnxruntime.so",
            "libonnxruntime.so.1.31.1",
            "libonnxruntime_providers_cuda.so",
        ] {
            std::fs::write(dir.path().join(name), b"").unwrap();
        }
        let path = library_in(dir.path()).unwrap();
        let library = describe(&path, RuntimeOrigin::SetupFolder);
        assert!(path.ends_with("libonnxruntime.so.1.31.1"));
        assert_eq!(library.version.as_deref(), Some("1.31.1"));
        assert!(library.has_cuda_provider);
        assert!(library_in(&dir.path().join("missing")).is_none());
    }

    #[test]
    fn nothing_found_says_what_was_tried_and_how_to_fix_it() {
        let dir = tempfile::tempdir().unwrap();
        let places = SearchPlaces {
            explicit_library: Some(dir.path().join("libonnxruntime.so.9")),
            runtime_folders: vec![dir.path().to_path_buf()],
            python: Some("/nonexistent/python3".into()),
        };
        let message = locate_in(&places).unwrap_err().to_string();
        assert!(message.contains("ONNX Runtime was not found"), "{message}");
        assert!(message.contains("ORT_DYLIB_PATH=") && message.contains("no such file"));
        assert!(message.contains("cpu/onnxruntime/capi"));
        assert!(message.contains("/nonexistent/python3 could not be run"));
        assert!(message.contains("scripts/setup-runtime.sh"));
    }

    #[test]
    fn setup_folder_prefers_the_gpu_build() {
        let dir = tempfile::tempdir().unwrap();
        for flavour in ["cpu", "gpu"] {
            let capi = dir.path().join(flavour).join("onnxruntime/capi");
            std::fs::create_dir_all(&capi).unwrap();
            std::fs::write(capi.join("libonnxruntime.so.1.31.1"), b"").unwrap();
        }
        let places = SearchPlaces {
            runtime_folders: vec![dir.path().to_path_buf()],
            ..SearchPlaces::default()
        };
        let library = locate_in(&places).unwrap();
        assert!(library.path.starts_with(dir.path().join("gpu")));
        assert_eq!(library.origin, RuntimeOrigin::SetupFolder);
    }
}
