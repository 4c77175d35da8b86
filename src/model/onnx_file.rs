//! A look at an ONNX file before ONNX Runtime reads it. A model from a stranger could name any file
//! of the user's as a tensor's external data (an absolute path, `../..`, a link out of the model's
//! folder), or carry a card of gigabytes; both are refused here, from the protobuf's structure
//! alone: the walk reads field keys and lengths and skips over the weights, so it costs a few reads
//! whatever the model's size.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Seek};
use std::path::{Component, Path};

use super::contract::METADATA_KEY;

/// The largest `merit` card accepted. Cards are a few KB (classes, figures, a fine-tune's
/// provenance); a larger one is not a card the pipeline wrote.
pub const MAX_CARD_BYTES: u64 = 1 << 20;
/// Graphs nest inside node attributes (`If`, `Loop`); deeper than this is not a real model, and the
/// walk recurses once per level.
const MAX_DEPTH: usize = 64;
/// The longest metadata key or external-data value read (locations are file names).
const MAX_SHORT_STRING: u64 = 4096;

#[derive(Debug, thiserror::Error)]
pub enum OnnxFileError {
    #[error(transparent)]
    Io(#[from] io::Error),
    #[error("not an ONNX protobuf: {0}")]
    Malformed(&'static str),
    #[error(
        "a tensor's external data is `{location}`, outside the model's folder ({why}); a model's weights must sit in its own folder"
    )]
    ExternalDataOutside { location: String, why: &'static str },
    #[error("the `merit` card is {bytes} bytes; a card is at most {MAX_CARD_BYTES} bytes")]
    CardTooLarge { bytes: u64 },
}

/// Checks the ONNX file at `path` before it is loaded: every external-data location of every
/// tensor (initializers, sparse ones, node attributes, subgraphs and functions) lies inside the
/// model's folder, and the `merit` card is at most [`MAX_CARD_BYTES`].
///
/// # Errors
/// [`OnnxFileError`]: unreadable, not a protobuf, data outside the folder, card too large.
pub fn check_model_file(path: &Path) -> Result<(), OnnxFileError> {
    let file = File::open(path)?;
    let length = file.metadata()?.len();
    let folder = path.parent().unwrap_or(Path::new("."));
    let mut walker = Walker {
        reader: BufReader::new(file),
        position: 0,
        folder,
    };
    walker.message(Kind::Model, length, 0)
}

/// The messages of `onnx.proto` that can hold a tensor (or, for the model, the card).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Model,
    Graph,
    Node,
    Attribute,
    Function,
    TrainingInfo,
    SparseTensor,
    Tensor,
}

/// The message kind of field `field` of a `kind`, where it is one we descend into.
fn child(kind: Kind, field: u64) -> Option<Kind> {
    match (kind, field) {
        (Kind::Model, 7) | (Kind::Attribute, 6 | 11) | (Kind::TrainingInfo, 1 | 2) => {
            Some(Kind::Graph)
        }
        (Kind::Model, 20) => Some(Kind::TrainingInfo),
        (Kind::Model, 25) => Some(Kind::Function),
        (Kind::Graph, 1) | (Kind::Function, 7) => Some(Kind::Node),
        (Kind::Node, 5) | (Kind::Function, 11) => Some(Kind::Attribute),
        (Kind::Graph, 5) | (Kind::Attribute, 5 | 10) | (Kind::SparseTensor, 1 | 2) => {
            Some(Kind::Tensor)
        }
        (Kind::Graph, 15) | (Kind::Attribute, 22 | 23) => Some(Kind::SparseTensor),
        _ => None,
    }
}

struct Walker<'a, R> {
    reader: R,
    position: u64,
    folder: &'a Path,
}

impl<R: BufRead + Seek> Walker<'_, R> {
    fn varint(&mut self) -> Result<u64, OnnxFileError> {
        let mut value = 0_u64;
        for shift in (0..64).step_by(7) {
            let mut byte = [0_u8];
            self.reader.read_exact(&mut byte).map_err(cut_short)?;
            self.position += 1;
            value |= u64::from(byte[0] & 0x7f) << shift;
            if byte[0] & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(OnnxFileError::Malformed("a varint longer than 10 bytes"))
    }

    fn skip(&mut self, bytes: u64) -> Result<(), OnnxFileError> {
        let offset = i64::try_from(bytes).map_err(|_| OnnxFileError::Malformed("a huge length"))?;
        self.reader.seek_relative(offset)?;
        self.position += bytes;
        Ok(())
    }

    /// Walks the fields of a `kind` message that ends at `end`.
    fn message(&mut self, kind: Kind, end: u64, depth: usize) -> Result<(), OnnxFileError> {
        if depth > MAX_DEPTH {
            return Err(OnnxFileError::Malformed("messages nested too deep"));
        }
        while self.position < end {
            let key = self.varint()?;
            let field = key >> 3;
            match key & 7 {
                0 => {
                    self.varint()?;
                }
                1 => self.skip(8)?,
                5 => self.skip(4)?,
                2 => {
                    let length = self.varint()?;
                    let field_end = self
                        .position
                        .checked_add(length)
                        .filter(|&field_end| field_end <= end)
                        .ok_or(OnnxFileError::Malformed("a field runs past its message"))?;
                    match (kind, field) {
                        (Kind::Model, 14) => self.card_entry(field_end)?,
                        (Kind::Tensor, 13) => self.external_data_entry(field_end)?,
                        _ => match child(kind, field) {
                            Some(inner) => self.message(inner, field_end, depth + 1)?,
                            None => self.skip(length)?,
                        },
                    }
                }
                _ => return Err(OnnxFileError::Malformed("an unknown wire type")),
            }
        }
        if self.position == end {
            Ok(())
        } else {
            Err(OnnxFileError::Malformed("a field runs past its message"))
        }
    }

    /// A `StringStringEntryProto` ending at `end`: its key (if short) and its value, read when
    /// short, else only its length.
    fn entry(&mut self, end: u64) -> Result<(Option<String>, Option<String>, u64), OnnxFileError> {
        let (mut key, mut value, mut value_length) = (None, None, 0);
        while self.position < end {
            let tag = self.varint()?;
            if tag & 7 != 2 {
                return Err(OnnxFileError::Malformed(
                    "a metadata entry that is not text",
                ));
            }
            let length = self.varint()?;
            if self.position.saturating_add(length) > end {
                return Err(OnnxFileError::Malformed("a field runs past its message"));
            }
            let text = if length <= MAX_SHORT_STRING {
                let mut bytes = vec![0; usize::try_from(length).unwrap_or(0)];
                self.reader.read_exact(&mut bytes).map_err(cut_short)?;
                self.position += length;
                Some(String::from_utf8_lossy(&bytes).into_owned())
            } else {
                self.skip(length)?;
                None
            };
            match tag >> 3 {
                1 => key = text,
                2 => (value, value_length) = (text, length),
                _ => {}
            }
        }
        Ok((key, value, value_length))
    }

    fn card_entry(&mut self, end: u64) -> Result<(), OnnxFileError> {
        match self.entry(end)? {
            (Some(key), _, bytes) if key == METADATA_KEY && bytes > MAX_CARD_BYTES => {
                Err(OnnxFileError::CardTooLarge { bytes })
            }
            _ => Ok(()),
        }
    }

    fn external_data_entry(&mut self, end: u64) -> Result<(), OnnxFileError> {
        match self.entry(end)? {
            (Some(key), value, bytes) if key == "location" => match value {
                Some(location) => check_location(self.folder, &location),
                None => Err(OnnxFileError::ExternalDataOutside {
                    location: format!("({bytes} bytes)"),
                    why: "far too long for a file name",
                }),
            },
            _ => Ok(()),
        }
    }
}

fn cut_short(error: io::Error) -> OnnxFileError {
    if error.kind() == io::ErrorKind::UnexpectedEof {
        OnnxFileError::Malformed("the file is cut short")
    } else {
        OnnxFileError::Io(error)
    }
}

/// An external-data location must be a relative path without `..` that, once links are followed,
/// still lies in the model's folder (ONNX Runtime reads it relative to the model).
pub(crate) fn check_location(folder: &Path, location: &str) -> Result<(), OnnxFileError> {
    let outside = |why| {
        Err(OnnxFileError::ExternalDataOutside {
            location: location.to_owned(),
            why,
        })
    };
    let relative = Path::new(location);
    if location.is_empty() || location.contains('\0') {
        return outside("not a file name");
    }
    if relative.is_absolute() || location.starts_with(['/', '\\']) {
        return outside("an absolute path");
    }
    if relative
        .components()
        .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
        || location.split(['/', '\\']).any(|part| part == "..")
    {
        return outside("it climbs out with `..`");
    }
    let target = folder.join(relative);
    if std::fs::symlink_metadata(&target).is_ok() {
        let inside = std::fs::canonicalize(folder)
            .and_then(|folder| Ok(std::fs::canonicalize(&target)?.starts_with(folder)))?;
        if !inside {
            return outside("a link out of the folder");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A protobuf length-delimited field.
    fn field(number: u64, bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        for mut value in [(number << 3) | 2, bytes.len() as u64] {
            while value >= 0x80 {
                out.push((value as u8) | 0x80);
                value >>= 7;
            }
            out.push(value as u8);
        }
        out.extend_from_slice(bytes);
        out
    }

    fn entry(key: &str, value: &[u8]) -> Vec<u8> {
        [field(1, key.as_bytes()), field(2, value)].concat()
    }

    /// A model whose graph's one initializer keeps its data at `location`.
    fn model_with_external(location: &str) -> Vec<u8> {
        let tensor = [
            field(8, b"w"),
            field(13, &entry("location", location.as_bytes())),
        ]
        .concat();
        field(7, &field(5, &tensor))
    }

    fn check(dir: &Path, bytes: &[u8]) -> Result<(), OnnxFileError> {
        let model = dir.join("m.onnx");
        std::fs::write(&model, bytes).unwrap();
        check_model_file(&model)
    }

    #[test]
    fn locations_outside_the_folder_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        for location in ["/etc/passwd", "../x.bin", "w/../../x.bin", "..\\x.bin", ""] {
            let error = check(dir.path(), &model_with_external(location)).unwrap_err();
            assert!(
                matches!(error, OnnxFileError::ExternalDataOutside { .. }),
                "{location}: {error}"
            );
        }
        for location in ["m.onnx.data", "./weights/w.bin"] {
            check(dir.path(), &model_with_external(location)).unwrap();
        }
    }

    #[test]
    fn a_link_out_of_the_folder_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("model")).unwrap();
        std::os::unix::fs::symlink("/etc/hostname", dir.path().join("model/w.bin")).unwrap();
        let error = check(&dir.path().join("model"), &model_with_external("w.bin")).unwrap_err();
        assert!(
            error.to_string().contains("a link out of the folder"),
            "{error}"
        );
    }

    #[test]
    fn a_huge_card_is_refused_from_its_length_and_other_keys_pass() {
        let dir = tempfile::tempdir().unwrap();
        let huge = vec![b' '; 2 << 20];
        let error = check(dir.path(), &field(14, &entry(METADATA_KEY, &huge))).unwrap_err();
        assert!(matches!(error, OnnxFileError::CardTooLarge { bytes } if bytes == 2 << 20));
        check(dir.path(), &field(14, &entry("other", &huge))).unwrap();
        check(dir.path(), &field(14, &entry(METADATA_KEY, b"{}"))).unwrap();
    }

    #[test]
    fn broken_protobuf_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        // Graph in a node's attribute in a graph, 100 times.
        let mut nested = Vec::new();
        for _ in 0..100 {
            nested = field(1, &field(5, &field(6, &nested)));
        }
        for bytes in [
            vec![0x3a, 0xff, 0xff, 0xff, 0xff, 0x0f],
            vec![0x80; 20],
            vec![0x3b],
            field(7, &nested),
        ] {
            let error = check(dir.path(), &bytes).unwrap_err();
            assert!(matches!(error, OnnxFileError::Malformed(_)), "{error}");
        }
    }
}
