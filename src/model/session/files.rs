//! The files behind a session: the model, its external weights, its CPU variant, and their digest.

use std::path::{Path, PathBuf};

use super::ModelError;
use crate::model::onnx_file::{self, OnnxFileError};

/// Where a model's weights live when they are too large for one ONNX file: `<model>.data`, the name
/// the model pipeline's exporter gives them.
pub(super) fn external_data_path(model: &Path) -> PathBuf {
    let mut name = model.file_name().unwrap_or_default().to_os_string();
    name.push(".data");
    model.with_file_name(name)
}

/// Where a model's CPU variant sits: `X.cpu-int8.onnx` beside `X.onnx`, the same model with its
/// matrix products in int8 (`merit.cpu_int8` writes it; on two cores it analysed 4-9 % faster).
#[must_use]
pub fn cpu_variant_path(model: &Path) -> PathBuf {
    let stem = model.file_stem().unwrap_or_default().to_string_lossy();
    model.with_file_name(format!("{stem}.cpu-int8.onnx"))
}

/// blake3 of the model file and of its external weights, if it has them (the hash
/// [`super::MeritSession::model_hash`] gives once loaded).
///
/// # Errors
/// The model or its weights cannot be read.
pub fn model_digest(path: &Path) -> std::io::Result<String> {
    let data = external_data_path(path);
    if !data.is_file() {
        return crate::fsio::blake3_of_files(&[path]);
    }
    // Loading refuses weights that are a link out of the model's folder; hashing them would read
    // whatever file of the user's they point at.
    let folder = path.parent().unwrap_or_else(|| Path::new("."));
    let name = data.file_name().unwrap_or_default().to_string_lossy();
    onnx_file::check_location(folder, &name).map_err(|error| match error {
        OnnxFileError::Io(error) => error,
        refused => std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("{}: {refused}", data.display()),
        ),
    })?;
    crate::fsio::blake3_of_files(&[path, &data])
}

fn refused(path: &Path, error: OnnxFileError) -> ModelError {
    let path = path.to_path_buf();
    match error {
        OnnxFileError::Io(error) => ModelError::Io { path, error },
        OnnxFileError::Malformed(_) => ModelError::NotOnnx {
            path,
            reason: error.to_string(),
        },
        error => ModelError::Refused { path, error },
    }
}

/// The file looked at before anything else reads it ([`onnx_file::check_model_file`]): the hash
/// and ONNX Runtime would follow the external-data locations a stranger's model names.
pub(super) fn checked(path: &Path) -> Result<(), ModelError> {
    onnx_file::check_model_file(path).map_err(|error| refused(path, error))
}

/// The file [`checked`] and its digest ([`model_digest`]).
pub(super) fn checked_digest(path: &Path) -> Result<String, ModelError> {
    checked(path)?;
    model_digest(path).map_err(|error| ModelError::Io {
        path: path.to_path_buf(),
        error,
    })
}
