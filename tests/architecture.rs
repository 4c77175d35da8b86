//! ARCHITECTURE.md checked against the code: the layer table against every module's `crate::`
//! paths and external crates (an upward or sideways import fails), no import circles inside
//! `ui/`, and every subcommand, test file, bench and Python module named in the document.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn architecture() -> String {
    std::fs::read_to_string(Path::new(ROOT).join("ARCHITECTURE.md")).unwrap()
}

/// Every file under `path` with `extension` (or `path` itself), skipping virtual environments.
fn files(path: &Path, extension: &str) -> Vec<PathBuf> {
    if path.is_file() {
        return vec![path.to_path_buf()];
    }
    let mut found = Vec::new();
    for entry in std::fs::read_dir(path).unwrap().flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if path.is_dir() && !name.starts_with('.') {
            found.extend(files(&path, extension));
        } else if path.extension().is_some_and(|e| e == extension) {
            found.push(path);
        }
    }
    found.sort();
    found
}

/// A Rust file without its comments (so doc links are not mistaken for imports).
fn code_of(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|line| line.split("//").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The words after each `prefix` (`crate::audio::x` with prefix `crate::` gives `audio`).
fn names_after(code: &str, prefix: &str) -> BTreeSet<String> {
    code.match_indices(prefix)
        .filter(|(at, _)| {
            // `crate::` itself, not the end of a longer path segment like `my_crate::`.
            !code[..*at]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_alphanumeric() || c == '_')
        })
        .map(|(at, _)| {
            code[at + prefix.len()..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect::<String>()
        })
        .filter(|name| !name.is_empty())
        .collect()
}

/// Whether `code` uses the crate `name` (a `name::` path that is not part of a longer word).
fn uses_crate(code: &str, name: &str) -> bool {
    !names_after(code, &format!("{name}::")).is_empty()
}

struct Layer {
    may_use: BTreeSet<String>,
    never_uses: Vec<String>,
}

/// The layer table: module -> what it may use and what it never uses.
fn layers() -> BTreeMap<String, Layer> {
    let text = architecture();
    let table = text
        .split("| module | what it is | may use | never uses |")
        .nth(1)
        .expect("the layer table");
    let mut layers = BTreeMap::new();
    for row in table.lines().skip(2).take_while(|l| l.starts_with('|')) {
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        let module = cells[1].trim_matches('`').trim_end_matches('/').to_owned();
        let may_use = cells[3]
            .split(',')
            .map(|m| m.trim().trim_matches('`').to_owned())
            .filter(|m| !m.is_empty() && m != "—")
            .collect();
        let never_uses = cells[4].split(',').map(|m| m.trim().to_owned()).collect();
        layers.insert(
            module,
            Layer {
                may_use,
                never_uses,
            },
        );
    }
    layers
}

#[test]
fn every_module_keeps_to_its_layer() {
    let layers = layers();
    let src = Path::new(ROOT).join("src");
    let modules: BTreeSet<String> = std::fs::read_dir(&src)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir() || p.extension().is_some_and(|e| e == "rs"))
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .filter(|name| name != "lib" && name != "main")
        .collect();
    assert_eq!(
        modules,
        layers.keys().cloned().collect(),
        "ARCHITECTURE.md's layer table lists exactly the modules of src/"
    );
    let mut broken = Vec::new();
    for (module, layer) in &layers {
        let dir = src.join(module);
        let path = if dir.is_dir() {
            dir
        } else {
            src.join(format!("{module}.rs"))
        };
        for file in files(&path, "rs") {
            let code = code_of(&file);
            let shown = file.strip_prefix(ROOT).unwrap().display().to_string();
            for used in names_after(&code, "crate::") {
                if used != *module && !layer.may_use.contains(&used) {
                    broken.push(format!("{shown} uses crate::{used}"));
                }
            }
            for never in &layer.never_uses {
                let found = if never == "terminal output" {
                    ["println!", "eprintln!", "print!(", "eprint!("]
                        .iter()
                        .any(|m| code.contains(m))
                } else {
                    uses_crate(&code, never)
                };
                if found {
                    broken.push(format!("{shown} uses {never}"));
                }
            }
        }
    }
    assert!(
        broken.is_empty(),
        "imports against ARCHITECTURE.md:\n{}",
        broken.join("\n")
    );
}

/// The module of `ui/` a file belongs to (`ui/panels/lanes/heatmap.rs` -> `panels`).
fn ui_module(file: &Path, ui: &Path) -> String {
    let relative = file.strip_prefix(ui).unwrap();
    let first = relative.components().next().unwrap();
    Path::new(first.as_os_str())
        .file_stem()
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

#[test]
fn no_import_circles_inside_the_window() {
    let ui = Path::new(ROOT).join("src/ui");
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files(&ui, "rs") {
        let module = ui_module(&file, &ui);
        let code = code_of(&file);
        let mut used = names_after(&code, "crate::ui::");
        // `super::` names a sibling only in the files directly inside ui/.
        if file.parent() == Some(ui.as_path()) {
            used.extend(names_after(&code, "super::"));
        }
        let entry = graph.entry(module.clone()).or_default();
        entry.extend(used.into_iter().filter(|u| *u != module));
    }
    let known: BTreeSet<String> = graph.keys().cloned().collect();
    for edges in graph.values_mut() {
        edges.retain(|m| known.contains(m));
    }
    // Depth-first search; a module met again while still on the path closes a circle.
    fn visit(
        module: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
        circles: &mut Vec<String>,
    ) {
        if let Some(at) = path.iter().position(|m| m == module) {
            circles.push(format!("{} -> {module}", path[at..].join(" -> ")));
            return;
        }
        if !done.insert(module.to_owned()) {
            return;
        }
        path.push(module.to_owned());
        for next in &graph[module] {
            visit(next, graph, path, done, circles);
        }
        path.pop();
    }
    let mut circles = Vec::new();
    for module in graph.keys() {
        visit(
            module,
            &graph,
            &mut Vec::new(),
            &mut BTreeSet::new(),
            &mut circles,
        );
    }
    assert!(
        circles.is_empty(),
        "import circles in ui/:\n{}",
        circles.join("\n")
    );
}

#[test]
fn every_subcommand_test_bench_and_python_module_is_named() {
    let text = architecture();
    let mut missing = Vec::new();
    let cli = std::fs::read_to_string(Path::new(ROOT).join("src/cli/mod.rs")).unwrap();
    let commands = cli
        .split("pub enum Command {")
        .nth(1)
        .and_then(|rest| rest.split("\n}").next())
        .unwrap();
    for line in commands.lines().map(str::trim) {
        if line.starts_with("///") || line.is_empty() {
            continue;
        }
        let variant: String = line
            .chars()
            .take_while(char::is_ascii_alphanumeric)
            .collect();
        let name = format!("`{}`", variant.to_lowercase());
        if !text.contains(&name) {
            missing.push(format!("subcommand {name}"));
        }
    }
    for (folder, prefix) in [("tests", "tests/"), ("benches", "")] {
        let folder_path = Path::new(ROOT).join(folder);
        // Top-level files only: `tests/common/` holds helpers, not test files.
        for file in files(&folder_path, "rs")
            .into_iter()
            .filter(|f| f.parent() == Some(folder_path.as_path()))
        {
            let name = file.file_name().unwrap().to_string_lossy();
            if !text.contains(&format!("`{prefix}{name}`")) {
                missing.push(format!("{folder}/{name}"));
            }
        }
    }
    for file in files(&Path::new(ROOT).join("models/training"), "py") {
        let name = file.file_name().unwrap().to_string_lossy();
        if name != "__init__.py" && !text.contains(&format!("`{name}`")) {
            missing.push(file.strip_prefix(ROOT).unwrap().display().to_string());
        }
    }
    assert!(
        missing.is_empty(),
        "not in ARCHITECTURE.md:\n{}",
        missing.join("\n")
    );
}

#[test]
fn no_source_file_is_over_450_lines() {
    let long: Vec<String> = files(&Path::new(ROOT).join("src"), "rs")
        .into_iter()
        .filter_map(|path| {
            let lines = std::fs::read_to_string(&path).unwrap().lines().count();
            (lines > 450).then(|| format!("{} ({lines} lines)", path.display()))
        })
        .collect();
    assert!(long.is_empty(), "split these files: {long:?}");
}
