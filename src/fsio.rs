//! File writes that are all-or-nothing (readers see the old file or the new one, never half of
//! one), content hashes of files, and the studio's per-user folders.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::Path;

/// Writes `bytes` to `path` through a temporary file in the same folder, fsyncs it, renames it
/// over the target and fsyncs the folder, so a crash or power cut leaves the old or the new file.
///
/// # Errors
/// Any I/O error; the temporary file is removed on failure.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let folder = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| Path::new("."));
    let file_name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path has no file name"))?;
    let temp = folder.join(format!(
        ".{}.tmp-{}",
        file_name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| {
        let mut file = File::create(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&temp, path)?;
        sync_folder(folder)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result
}

/// Fails when `path` is a symbolic link (a missing path is fine). The studio appends to journals
/// and lock files in place; a project made elsewhere could link them to any file of the user's, so
/// it writes through no link inside a project.
///
/// # Errors
/// `path` is a symbolic link, or its metadata cannot be read.
pub fn refuse_link(path: &Path) -> io::Result<()> {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "is a symbolic link; the studio writes through no link inside a project (a project \
             made elsewhere could point it at any of your files): replace it with a real file or \
             folder",
        )),
        Err(error) if error.kind() != io::ErrorKind::NotFound => Err(error),
        _ => Ok(()),
    }
}

/// blake3 of the files' bytes, one after the other, streamed: the identity of a recording, or of a
/// model together with its external weights.
///
/// # Errors
/// A file cannot be read.
pub fn blake3_of_files(paths: &[&Path]) -> io::Result<String> {
    let mut hasher = blake3::Hasher::new();
    for path in paths {
        hasher.update_reader(File::open(path)?)?;
    }
    Ok(hasher.finalize().to_hex().to_string())
}

/// The text of a file read whole (an importer's input, a model's card), refused above `limit`
/// bytes: a stranger's file (or a path naming a device such as `/dev/zero`) could otherwise take
/// any amount of memory.
///
/// # Errors
/// The file cannot be read, or is larger than `limit`.
pub fn read_text_capped(path: &Path, limit: u64) -> io::Result<String> {
    use std::io::Read as _;
    let too_large = |size: String| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "{size} bytes, more than the studio reads from such a file ({} MiB)",
                limit >> 20
            ),
        )
    };
    let file = File::open(path)?;
    let length = file.metadata()?.len();
    if length > limit {
        return Err(too_large(length.to_string()));
    }
    let mut text = String::new();
    file.take(limit + 1).read_to_string(&mut text)?;
    if text.len() as u64 > limit {
        // The length said less (a device such as `/dev/zero`, or a file still growing).
        return Err(too_large(format!("over {limit}")));
    }
    Ok(text)
}

/// A listed path made safe to join under an output folder: only its normal components (no `..`,
/// no root, no drive), so outputs can never land outside the folder.
#[must_use]
pub fn safe_relative(listed: &str) -> std::path::PathBuf {
    Path::new(listed)
        .components()
        .filter_map(|c| match c {
            std::path::Component::Normal(part) => Some(part),
            _ => None,
        })
        .collect()
}

/// Makes a rename or file creation in `folder` durable.
///
/// # Errors
/// Opening or syncing the folder fails.
pub fn sync_folder(folder: &Path) -> io::Result<()> {
    File::open(folder)?.sync_all()
}

/// The studio's per-user folders as the platform names them (on Linux `$XDG_CONFIG_HOME`, else
/// `~/.config`, and `$XDG_CACHE_HOME`, else `~/.cache`, each with `merit-studio/`); `None` without
/// a home folder.
#[must_use]
pub fn user_folders() -> Option<directories::ProjectDirs> {
    directories::ProjectDirs::from("", "", "merit-studio")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn links_are_refused_and_real_or_missing_paths_pass() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real");
        fs::write(&real, "x").unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        assert!(refuse_link(&real).is_ok());
        assert!(refuse_link(&dir.path().join("missing")).is_ok());
        let error = refuse_link(&link).unwrap_err();
        assert!(error.to_string().contains("symbolic link"), "{error}");
    }

    #[test]
    fn hashes_files_as_one_stream_and_names_unreadable_ones() {
        let dir = tempfile::tempdir().unwrap();
        let (model, data) = (dir.path().join("m.onnx"), dir.path().join("m.onnx.data"));
        fs::write(&model, b"graph").unwrap();
        fs::write(&data, b"weights").unwrap();
        let both = blake3_of_files(&[&model, &data]).unwrap();
        assert_eq!(both, blake3::hash(b"graphweights").to_hex().to_string());
        assert_ne!(both, blake3_of_files(&[&model]).unwrap());
        assert!(blake3_of_files(&[&dir.path().join("gone")]).is_err());
    }

    #[test]
    fn replaces_the_file_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("project.json");
        write_atomically(&target, b"one").unwrap();
        write_atomically(&target, b"two").unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"two");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_failed_write_keeps_the_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("missing-folder").join("x.json");
        assert!(write_atomically(&target, b"data").is_err());
        assert!(!target.exists());
    }
}
