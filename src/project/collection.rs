//! A project's recordings, gathered from its sources without decoding any audio.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::manifest::{ManifestRow, read_manifest};
use super::{LabelScheme, Project, Source};
use crate::audio::has_audio_extension;

/// A label that came with the collection (e.g. MSP-Podcast's consensus), not from an annotator.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ReferenceLabel {
    /// Class id in the project's scheme, or the raw text when the scheme does not know it.
    pub class: Option<String>,
    /// Attribute id -> value, e.g. arousal 2.2.
    pub attributes: BTreeMap<String, f64>,
}

impl ReferenceLabel {
    fn is_empty(&self) -> bool {
        self.class.is_none() && self.attributes.is_empty()
    }
}

/// One recording as the collection lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Recording {
    /// Where the file is (resolved against the project, manifest or audio root).
    pub path: PathBuf,
    /// The path as its source lists it: relative to the scanned folder or as the manifest wrote it.
    pub listed_path: String,
    /// Index of the project source it came from.
    pub source_index: usize,
    pub speaker: Option<String>,
    pub gender: Option<String>,
    pub split: Option<String>,
    pub reference: Option<ReferenceLabel>,
    /// Every other manifest column.
    pub metadata: BTreeMap<String, String>,
    /// The file did not exist when the collection was loaded.
    pub missing: bool,
}

/// A problem found while gathering recordings; loading continues past it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CollectionIssue {
    /// The folder or manifest the problem is in.
    pub source: PathBuf,
    /// Line in a manifest, when the problem is a row.
    pub line: Option<u64>,
    pub message: String,
    /// The whole source could not be read (nothing came from it).
    pub fatal_for_source: bool,
}

impl std::fmt::Display for CollectionIssue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}: {}", self.source.display(), self.message),
            None if self.fatal_for_source => write!(f, "{}", self.message),
            None => write!(f, "{}: {}", self.source.display(), self.message),
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Collection {
    pub recordings: Vec<Recording>,
    pub issues: Vec<CollectionIssue>,
}

/// The paths listed so far (a second listing of one is an issue) and who hears of each new one.
struct Listing<'a> {
    paths: HashSet<PathBuf>,
    listed: &'a dyn Fn(&[Recording]),
}

impl Collection {
    /// Where each recording is, in collection order.
    #[must_use]
    pub fn paths(&self) -> Vec<PathBuf> {
        self.recordings.iter().map(|r| r.path.clone()).collect()
    }

    /// Gathers the recordings of every source in order. Only file names and existence are
    /// checked here; headers are probed later, in the background.
    #[must_use]
    pub fn load(project: &Project) -> Self {
        Self::load_as_listed(project, &|_| {})
    }

    /// [`Collection::load`], calling `listed` with the recordings listed so far after each new one
    /// (so a window can show a large collection while it is still being listed).
    #[must_use]
    pub fn load_as_listed(project: &Project, listed: &dyn Fn(&[Recording])) -> Self {
        let mut collection = Self::default();
        let mut seen = Listing {
            paths: HashSet::new(),
            listed,
        };
        for (source_index, source) in project.file.sources.iter().enumerate() {
            let source_path = project.resolve(source.path());
            match source {
                Source::Folder { recursive, .. } => {
                    collection.add_folder(&source_path, *recursive, source_index, &mut seen);
                }
                Source::Manifest { audio_root, .. } => {
                    let audio_root = audio_root.as_deref().map(|root| project.resolve(root));
                    collection.add_manifest(
                        &source_path,
                        audio_root.as_deref(),
                        &project.file.label_scheme,
                        source_index,
                        &mut seen,
                    );
                }
            }
        }
        collection
    }

    fn add_recording(
        &mut self,
        recording: Recording,
        source: &Path,
        line: Option<u64>,
        seen: &mut Listing<'_>,
    ) {
        if seen.paths.insert(recording.path.clone()) {
            self.recordings.push(recording);
            (seen.listed)(&self.recordings);
        } else {
            self.issues.push(CollectionIssue {
                source: source.to_path_buf(),
                line,
                message: format!(
                    "{} is listed more than once; kept the first",
                    recording.listed_path
                ),
                fatal_for_source: false,
            });
        }
    }

    fn add_folder(
        &mut self,
        folder: &Path,
        recursive: bool,
        source_index: usize,
        seen: &mut Listing<'_>,
    ) {
        if !folder.is_dir() {
            self.issues.push(CollectionIssue {
                source: folder.to_path_buf(),
                line: None,
                message: format!("{}: folder not found", folder.display()),
                fatal_for_source: true,
            });
            return;
        }
        let walker = walkdir::WalkDir::new(folder)
            .max_depth(if recursive { usize::MAX } else { 1 })
            .sort_by_file_name()
            .into_iter()
            // Hidden files and folders (.git, editor droppings, our own caches) are never recordings.
            .filter_entry(|entry| {
                entry.depth() == 0 || !entry.file_name().to_string_lossy().starts_with('.')
            });
        for entry in walker {
            let entry = match entry {
                Ok(entry) => entry,
                Err(error) => {
                    self.issues.push(CollectionIssue {
                        source: error.path().unwrap_or(folder).to_path_buf(),
                        line: None,
                        message: format!("cannot list: {error}"),
                        fatal_for_source: false,
                    });
                    continue;
                }
            };
            if !entry.file_type().is_file() || !has_audio_extension(entry.path()) {
                continue;
            }
            let listed_path = entry
                .path()
                .strip_prefix(folder)
                .unwrap_or(entry.path())
                .to_string_lossy()
                .into_owned();
            let recording = Recording {
                path: entry.path().to_path_buf(),
                listed_path,
                source_index,
                speaker: None,
                gender: None,
                split: None,
                reference: None,
                metadata: BTreeMap::new(),
                missing: false,
            };
            self.add_recording(recording, folder, None, seen);
        }
    }

    fn add_manifest(
        &mut self,
        manifest_path: &Path,
        audio_root: Option<&Path>,
        scheme: &LabelScheme,
        source_index: usize,
        seen: &mut Listing<'_>,
    ) {
        let manifest = match read_manifest(manifest_path) {
            Ok(manifest) => manifest,
            Err(error) => {
                self.issues.push(CollectionIssue {
                    source: manifest_path.to_path_buf(),
                    line: None,
                    message: error.to_string(),
                    fatal_for_source: true,
                });
                return;
            }
        };
        let manifest_folder = manifest_path.parent().unwrap_or(Path::new("."));
        let root = audio_root.map_or_else(
            || default_audio_root(manifest_folder, manifest.is_msp_podcast),
            Path::to_path_buf,
        );
        for problem in manifest.problems {
            self.issues.push(CollectionIssue {
                source: manifest_path.to_path_buf(),
                line: Some(problem.line),
                message: problem.reason,
                fatal_for_source: false,
            });
        }
        for row in manifest.rows {
            let line = row.line;
            let recording = recording_from_row(row, &root, scheme, source_index);
            self.add_recording(recording, manifest_path, Some(line), seen);
        }
    }

    /// Recordings whose file was missing at load time.
    pub fn missing(&self) -> impl Iterator<Item = &Recording> {
        self.recordings.iter().filter(|r| r.missing)
    }
}

/// MSP-Podcast keeps `Labels/labels_consensus.csv` beside `Audios/`.
fn default_audio_root(manifest_folder: &Path, is_msp_podcast: bool) -> PathBuf {
    if is_msp_podcast {
        for candidate in [
            manifest_folder.join("Audios"),
            manifest_folder.join("../Audios"),
        ] {
            if candidate.is_dir() {
                return candidate;
            }
        }
    }
    manifest_folder.to_path_buf()
}

/// Column names (lower case) for each well-known field, MSP-Podcast's included.
const SPEAKER_COLUMNS: &[&str] = &["speaker", "speaker_id", "spkrid", "spk", "spkr"];
const GENDER_COLUMNS: &[&str] = &["gender", "sex"];
const SPLIT_COLUMNS: &[&str] = &["split", "split_set", "set", "partition"];
const CLASS_COLUMNS: &[&str] = &["emoclass", "label", "emotion", "class"];
const ATTRIBUTE_COLUMNS: &[(&str, &[&str])] = &[
    ("arousal", &["arousal", "emoact", "act"]),
    ("valence", &["valence", "emoval", "val"]),
    ("dominance", &["dominance", "emodom", "dom"]),
];

fn take_field(fields: &mut BTreeMap<String, String>, names: &[&str]) -> Option<String> {
    let key = fields
        .keys()
        .find(|key| names.iter().any(|n| key.eq_ignore_ascii_case(n)))?
        .clone();
    fields.remove(&key).filter(|value| !value.is_empty())
}

fn recording_from_row(
    row: ManifestRow,
    root: &Path,
    scheme: &LabelScheme,
    source_index: usize,
) -> Recording {
    let mut fields = row.fields;
    let speaker = take_field(&mut fields, SPEAKER_COLUMNS);
    let gender = take_field(&mut fields, GENDER_COLUMNS);
    let split = take_field(&mut fields, SPLIT_COLUMNS);
    let mut reference = ReferenceLabel {
        class: take_field(&mut fields, CLASS_COLUMNS).map(|raw| {
            scheme
                .resolve_class(&raw)
                .map_or(raw, |class| class.id.clone())
        }),
        attributes: BTreeMap::new(),
    };
    for (attribute, names) in ATTRIBUTE_COLUMNS {
        if let Some(value) = fields
            .keys()
            .find(|key| names.iter().any(|n| key.eq_ignore_ascii_case(n)))
            .and_then(|key| fields.get(key)?.parse::<f64>().ok())
        {
            reference.attributes.insert((*attribute).to_owned(), value);
            fields.retain(|key, _| !names.iter().any(|n| key.eq_ignore_ascii_case(n)));
        }
    }
    let listed = Path::new(&row.path);
    let path = if listed.is_absolute() {
        listed.to_path_buf()
    } else {
        root.join(listed)
    };
    Recording {
        missing: !path.is_file(),
        path,
        listed_path: row.path,
        source_index,
        speaker,
        gender,
        split,
        reference: (!reference.is_empty()).then_some(reference),
        metadata: fields,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::project::ProjectFile;

    fn touch(path: &Path) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, b"RIFF").unwrap();
    }

    fn project_with(root: &Path, sources: Vec<Source>) -> Project {
        Project::from_file(root.to_path_buf(), ProjectFile::new("t", sources))
    }

    #[test]
    fn folders_are_scanned_recursively_in_name_order_skipping_hidden() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["b.wav", "a/c.FLAC", "a/notes.txt", ".cache/x.wav", "d.mp3"] {
            touch(&dir.path().join("audio").join(name));
        }
        let project = project_with(
            dir.path(),
            vec![Source::Folder {
                path: "audio".into(),
                recursive: true,
            }],
        );
        let collection = Collection::load(&project);
        let listed: Vec<_> = collection
            .recordings
            .iter()
            .map(|r| r.listed_path.as_str())
            .collect();
        assert_eq!(listed, ["a/c.FLAC", "b.wav", "d.mp3"]);
        assert!(collection.issues.is_empty());
    }

    #[test]
    fn msp_manifest_resolves_audios_folder_labels_and_missing_files() {
        let dir = tempfile::tempdir().unwrap();
        touch(&dir.path().join("msp/Audios/MSP-PODCAST_0001_0008.wav"));
        std::fs::create_dir_all(dir.path().join("msp/Labels")).unwrap();
        std::fs::write(
            dir.path().join("msp/Labels/labels_consensus.csv"),
            "FileName,EmoClass,EmoAct,EmoVal,EmoDom,SpkrID,Gender,Split_Set\n\
             MSP-PODCAST_0001_0008.wav,N,2.2,4.0,2.6,30,Male,Test1\n\
             MSP-PODCAST_0002_0001.wav,A,6,2,5,31,Female,Train\n",
        )
        .unwrap();
        let project = project_with(
            dir.path(),
            vec![Source::Manifest {
                path: "msp/Labels/labels_consensus.csv".into(),
                audio_root: None,
            }],
        );
        let collection = Collection::load(&project);
        assert_eq!(collection.recordings.len(), 2);
        let first = &collection.recordings[0];
        assert!(!first.missing);
        assert_eq!(first.speaker.as_deref(), Some("30"));
        assert_eq!(first.split.as_deref(), Some("Test1"));
        let reference = first.reference.as_ref().unwrap();
        assert_eq!(reference.class.as_deref(), Some("neutral"));
        assert_eq!(reference.attributes["arousal"], 2.2);
        assert!(first.metadata.is_empty(), "{:?}", first.metadata);
        assert!(collection.recordings[1].missing);
        assert_eq!(collection.missing().count(), 1);
    }

    #[test]
    fn broken_sources_are_issues_not_failures() {
        let dir = tempfile::tempdir().unwrap();
        touch(&dir.path().join("ok/a.wav"));
        std::fs::write(dir.path().join("bad.csv"), "speaker\ns1\n").unwrap();
        let project = project_with(
            dir.path(),
            vec![
                Source::Manifest {
                    path: "bad.csv".into(),
                    audio_root: None,
                },
                Source::Folder {
                    path: "gone".into(),
                    recursive: true,
                },
                Source::Folder {
                    path: "ok".into(),
                    recursive: true,
                },
                Source::Folder {
                    path: "ok".into(),
                    recursive: false,
                },
            ],
        );
        let collection = Collection::load(&project);
        assert_eq!(collection.recordings.len(), 1);
        let messages: Vec<_> = collection.issues.iter().map(ToString::to_string).collect();
        assert_eq!(messages.len(), 3, "{messages:?}");
        assert!(messages[0].contains("bad.csv") && messages[0].contains("no path column"));
        assert!(messages[1].contains("gone") && messages[1].contains("not found"));
        assert!(messages[2].contains("more than once"));
    }
}
