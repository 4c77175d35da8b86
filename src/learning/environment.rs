//! Where the Python pipeline and its environment are: `models/training/` beside the sources (or
//! `MERIT_TRAINING_DIR`), with the virtual environment `models/training/setup.sh` makes.

use std::path::{Path, PathBuf};

use super::RetrainError;

/// The pipeline's folder: `MERIT_TRAINING_DIR` when set, else `models/training` beside the
/// sources, else under the working folder.
#[must_use]
pub fn training_folder() -> PathBuf {
    if let Some(folder) = std::env::var_os("MERIT_TRAINING_DIR") {
        return PathBuf::from(folder);
    }
    let beside_sources = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/training");
    if beside_sources.is_dir() {
        beside_sources
    } else {
        PathBuf::from("models/training")
    }
}

/// The pipeline and the Python that runs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrainingEnvironment {
    pub folder: PathBuf,
    pub python: PathBuf,
}

impl TrainingEnvironment {
    /// The environment in `folder`.
    ///
    /// # Errors
    /// [`RetrainError::NoEnvironment`] naming the missing interpreter and the command that
    /// installs it.
    pub fn in_folder(folder: &Path) -> Result<Self, RetrainError> {
        let python = folder.join(".venv/bin/python");
        if !python.is_file() || !folder.join("merit/finetune.py").is_file() {
            return Err(RetrainError::NoEnvironment { python });
        }
        Ok(Self {
            folder: folder.to_path_buf(),
            python,
        })
    }

    /// The environment in [`training_folder`].
    ///
    /// # Errors
    /// As [`TrainingEnvironment::in_folder`].
    pub fn locate() -> Result<Self, RetrainError> {
        Self::in_folder(&training_folder())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_without_the_environment_names_the_install_command() {
        let folder = tempfile::tempdir().unwrap();
        let error = TrainingEnvironment::in_folder(folder.path()).unwrap_err();
        let message = error.to_string();
        assert!(message.contains(".venv/bin/python"), "{message}");
        assert!(
            message.contains("bash models/training/setup.sh"),
            "{message}"
        );
    }
}
