//! Projects from strangers: manifests whose paths climb out with `..` or are absolute, journals
//! and journal folders that are symbolic links to the user's files, and EAFs that try XML entity
//! expansion, nest a million deep or carry a 100 MB attribute. The studio may read recordings wherever a project points, but writes nothing
//! outside the project, the chosen output folder and its cache.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime};

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// Runs the studio with its cache in `cache`.
fn studio(args: &[&str], cache: &Path, stdin: &[String]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_merit-studio"))
        .args(args)
        .env("RUST_LOG", "error")
        .env("XDG_CACHE_HOME", cache)
        .env("XDG_CONFIG_HOME", cache)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    for line in stdin {
        writeln!(input, "{line}").unwrap();
    }
    drop(input);
    child.wait_with_output().unwrap()
}

/// Every file under `root` with its length and modification time.
fn files(root: &Path) -> BTreeMap<PathBuf, (u64, SystemTime)> {
    let mut found = BTreeMap::new();
    let mut folders = vec![root.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            if meta.is_dir() {
                folders.push(path);
            } else {
                found.insert(path, (meta.len(), meta.modified().unwrap()));
            }
        }
    }
    found
}

/// The files under `root` created or changed since `before`, outside the `allowed` folders.
fn written_outside(
    root: &Path,
    before: &BTreeMap<PathBuf, (u64, SystemTime)>,
    allowed: &[&Path],
) -> Vec<PathBuf> {
    files(root)
        .into_iter()
        .filter(|(path, stamp)| before.get(path) != Some(stamp))
        .map(|(path, _)| path)
        .filter(|path| !allowed.iter().any(|folder| path.starts_with(folder)))
        .collect()
}

/// A project whose manifest lists recordings outside it: climbing with `..` (twice, once through
/// a folder that exists) and by absolute path.
fn climbing_project(home: &Path) -> PathBuf {
    let elsewhere = home.join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    let demo = common::demo_project().join("audio");
    std::fs::copy(demo.join("angry_m1.wav"), elsewhere.join("a.wav")).unwrap();
    std::fs::copy(demo.join("sad_f1.flac"), elsewhere.join("b.flac")).unwrap();
    let project = home.join("project");
    std::fs::create_dir_all(project.join("audio")).unwrap();
    let absolute = std::fs::canonicalize(demo.join("happy_m2.mp3")).unwrap();
    std::fs::write(
        project.join("labels.csv"),
        format!(
            "path,speaker\n../elsewhere/a.wav,s1\naudio/../../elsewhere/b.flac,s2\n{},s3\n",
            absolute.display()
        ),
    )
    .unwrap();
    let json = serde_json::json!({
        "schema_version": 1,
        "name": "from a stranger",
        "sources": [{"kind": "manifest", "path": "labels.csv"}],
    });
    std::fs::write(project.join("project.json"), json.to_string()).unwrap();
    project
}

#[test]
fn recordings_outside_the_project_are_read_but_outputs_stay_in_their_folders() {
    let home = tempfile::tempdir().unwrap();
    let home = std::fs::canonicalize(home.path()).unwrap();
    let project = climbing_project(&home);
    let cache = home.join("cache");
    let before = files(&home);
    let listed = [
        "../elsewhere/a.wav",
        "audio/../../elsewhere/b.flac",
        &std::fs::canonicalize(common::demo_project().join("audio/happy_m2.mp3"))
            .unwrap()
            .display()
            .to_string(),
    ]
    .map(|file| {
        format!(
            r#"{{"file": {}, "class": "angry"}}"#,
            serde_json::json!(file)
        )
    });
    let labelled = studio(
        &["label", p(&project), "--annotator", "ana"],
        &cache,
        &listed,
    );
    let acks = String::from_utf8_lossy(&labelled.stdout);
    assert_eq!(acks.matches(r#""ok":true"#).count(), 3, "{acks}");

    let exported = home.join("exported");
    for format in ["audiofolder", "textgrid", "eaf", "audacity", "msp"] {
        let out = exported.join(format);
        let output = studio(
            &["export", p(&project), "--format", format, "--out", p(&out)],
            &cache,
            &[],
        );
        assert!(
            output.status.success(),
            "{format}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let analysed = home.join("analysed");
    let model = common::tiny_model();
    let output = studio(
        &[
            "analyze",
            p(&project),
            "--model",
            p(&model),
            "--device",
            "cpu",
            "--out",
            p(&analysed),
        ],
        &cache,
        &[],
    );
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let enhanced = files(&analysed.join("enhanced"));
    assert_eq!(enhanced.len(), 3, "one enhanced file per recording");
    let rnnoised = home.join("rnnoise");
    let list = home.join("list.txt");
    std::fs::write(
        &list,
        format!("{}\n", project.join("../elsewhere/a.wav").display()),
    )
    .unwrap();
    let output = studio(
        &[
            "rnnoise",
            "--list",
            p(&list),
            "--root",
            p(&project),
            "--out",
            p(&rnnoised),
        ],
        &cache,
        &[],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(files(&rnnoised).len(), 1);

    let outside = written_outside(
        &home,
        &before,
        &[&project, &exported, &analysed, &rnnoised, &cache, &list],
    );
    assert!(
        outside.is_empty(),
        "written outside the allowed folders: {outside:?}"
    );
}

#[cfg(unix)]
#[test]
fn journals_and_journal_folders_that_are_links_are_not_written_through() {
    let home = tempfile::tempdir().unwrap();
    let victim_folder = home.path().join("victim");
    std::fs::create_dir(&victim_folder).unwrap();
    let victim = victim_folder.join("notes.txt");
    std::fs::write(&victim, "mine\n").unwrap();
    let edit = [r#"{"file": "audio/angry_m1.wav", "class": "angry"}"#.to_owned()];

    // The journal folder is a link to the victim's folder.
    let linked_folder = common::copy_demo(&home.path().join("one"));
    std::fs::remove_dir_all(linked_folder.join("annotations")).ok();
    std::os::unix::fs::symlink(&victim_folder, linked_folder.join("annotations")).unwrap();
    // The annotator's journal is a link to the victim's file.
    let linked_file = common::copy_demo(&home.path().join("two"));
    std::fs::create_dir_all(linked_file.join("annotations")).unwrap();
    std::os::unix::fs::symlink(&victim, linked_file.join("annotations/ana.jsonl")).unwrap();

    for project in [&linked_folder, &linked_file] {
        let output = studio(
            &["label", p(project), "--annotator", "ana"],
            &home.path().join("cache"),
            &edit,
        );
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(!output.status.success(), "{said}");
        assert!(said.contains("symbolic link"), "{said}");
    }
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "mine\n");
    let victims: Vec<_> = files(&victim_folder).into_keys().collect();
    assert_eq!(victims, vec![victim]);
}

/// Imports `eaf` into `project` as `ana` for the demo's first recording; returns how long it took.
fn import_eaf(project: &Path, eaf: &Path) -> (Output, Duration) {
    let started = Instant::now();
    let output = studio(
        &[
            "import",
            p(project),
            "--format",
            "eaf",
            p(eaf),
            "--annotator",
            "ana",
            "--file",
            "audio/angry_m1.wav",
        ],
        &project.join("../cache"),
        &[],
    );
    (output, started.elapsed())
}

#[test]
fn an_eaf_with_entity_expansion_is_refused_quickly_without_expanding() {
    let home = tempfile::tempdir().unwrap();
    let project = common::copy_demo(home.path());
    let mut entities = String::from("<!ENTITY lol0 \"lololololololololololol\">\n");
    for level in 1..=9 {
        let previous = format!("&lol{};", level - 1).repeat(10);
        entities += &format!("<!ENTITY lol{level} \"{previous}\">\n");
    }
    let eaf = home.path().join("laughs.eaf");
    std::fs::write(
        &eaf,
        format!(
            r#"<?xml version="1.0"?>
<!DOCTYPE ANNOTATION_DOCUMENT [
{entities}]>
<ANNOTATION_DOCUMENT>
  <HEADER><MEDIA_DESCRIPTOR MEDIA_URL="file:///audio/angry_m1.wav"/></HEADER>
  <TIME_ORDER>
    <TIME_SLOT TIME_SLOT_ID="ts1" TIME_VALUE="0"/>
    <TIME_SLOT TIME_SLOT_ID="ts2" TIME_VALUE="500"/>
  </TIME_ORDER>
  <TIER TIER_ID="emotion">
    <ANNOTATION><ALIGNABLE_ANNOTATION ANNOTATION_ID="a1" TIME_SLOT_REF1="ts1" TIME_SLOT_REF2="ts2">
      <ANNOTATION_VALUE>&lol9;</ANNOTATION_VALUE>
    </ALIGNABLE_ANNOTATION></ANNOTATION>
  </TIER>
</ANNOTATION_DOCUMENT>
"#
        ),
    )
    .unwrap();
    let (output, took) = import_eaf(&project, &eaf);
    assert!(took < Duration::from_secs(20));
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success(),
        "the entity is not a class: {said}"
    );
    assert!(said.contains("laughs.eaf"), "{said}");
    let journal = project.join("annotations/ana.jsonl");
    let written = std::fs::metadata(&journal).map_or(0, |m| m.len());
    assert!(
        written < 10_000,
        "nothing expanded into the journal ({written} bytes)"
    );
}

#[test]
fn an_eaf_nested_a_million_deep_is_a_problem_in_bounded_work() {
    let home = tempfile::tempdir().unwrap();
    let project = common::copy_demo(home.path());
    let deep = 1_000_000;
    let opened = "<TIER>".repeat(deep);
    for (name, closed) in [
        ("closed.eaf", "</TIER>".repeat(deep)),
        ("open.eaf", String::new()),
    ] {
        let eaf = home.path().join(name);
        std::fs::write(
            &eaf,
            format!("<?xml version=\"1.0\"?>\n<ANNOTATION_DOCUMENT>{opened}{closed}</ANNOTATION_DOCUMENT>\n"),
        )
        .unwrap();
        let (output, took) = import_eaf(&project, &eaf);
        let said = String::from_utf8_lossy(&output.stderr);
        // Killed by a stack overflow or the memory limit, the exit has no code.
        assert_eq!(output.status.code(), Some(1), "{name}: {said}");
        assert!(took < Duration::from_secs(20), "{name}: {took:?}");
        assert!(said.contains(name), "{name}: {said}");
    }
}

#[test]
fn an_eaf_with_a_100_mb_attribute_or_naming_a_device_is_refused_by_its_size() {
    let home = tempfile::tempdir().unwrap();
    let project = common::copy_demo(home.path());
    let eaf = home.path().join("wide.eaf");
    let mut file = std::io::BufWriter::new(std::fs::File::create(&eaf).unwrap());
    write!(
        file,
        "<?xml version=\"1.0\"?>\n<ANNOTATION_DOCUMENT><TIME_ORDER><TIME_SLOT TIME_SLOT_ID=\""
    )
    .unwrap();
    let piece = "a".repeat(1 << 20);
    for _ in 0..100 {
        file.write_all(piece.as_bytes()).unwrap();
    }
    writeln!(
        file,
        "\" TIME_VALUE=\"0\"/></TIME_ORDER></ANNOTATION_DOCUMENT>"
    )
    .unwrap();
    drop(file);
    for path in [eaf.as_path(), Path::new("/dev/zero")] {
        let (output, took) = import_eaf(&project, path);
        let said = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{said}");
        assert!(took < Duration::from_secs(20), "{took:?}");
        assert!(said.contains(p(path)), "{said}");
        assert!(
            said.contains("bytes, more than the studio reads from such a file (64 MiB)"),
            "{said}"
        );
    }
}
