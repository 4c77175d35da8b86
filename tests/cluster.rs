//! Cluster runs: `merit-studio cluster plan|task|missing|merge` by hand, and scripts/slurm/ on a
//! real one-machine Slurm started by scripts/slurm/local-cluster.sh (skipped, with the reason
//! printed, where Slurm cannot start: not installed, not root).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::Wav;

const STUDIO: &str = env!("CARGO_BIN_EXE_merit-studio");

fn scripts() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/slurm")
}

fn studio(args: &[&str]) -> Output {
    Command::new(STUDIO)
        .args(args)
        .env("RUST_LOG", "error")
        .output()
        .unwrap()
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// Says something on the test's real stderr (libtest captures only `eprintln!`), e.g. a skip.
fn say(message: &str) {
    let _ = writeln!(std::io::stderr(), "{message}");
}

fn rows(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// `count` short recordings, every one different (the run's cache is keyed by content), under
/// speaker folders.
fn corpus(dir: &Path, count: usize) -> PathBuf {
    let root = dir.join("corpus");
    let mut seed = 0x2545_f491_u32;
    for i in 0..count {
        let folder = root.join(format!("spk{}", i % 8));
        std::fs::create_dir_all(&folder).unwrap();
        let frames = 12_000 + (i % 5) * 2_400;
        let (f1, f2) = (110.0 + i as f32 * 2.3, 700.0 + (i % 13) as f32 * 41.0);
        let samples: Vec<f32> = (0..frames)
            .map(|n| {
                seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                let noise = (seed >> 8) as f32 / (1 << 24) as f32 - 0.5;
                let t = n as f32 / 16_000.0;
                0.4 * (std::f32::consts::TAU * f1 * t).sin()
                    + 0.15 * (std::f32::consts::TAU * f2 * t).sin()
                    + 0.05 * noise
            })
            .collect();
        Wav::pcm16(16_000, 1, &samples).write(&folder.join(format!("utt{i:03}.wav")));
    }
    root
}

/// Rows equal but for timing and cache provenance; numbers to a float tolerance.
fn assert_same_rows(merged: &[serde_json::Value], whole: &[serde_json::Value]) {
    fn same(a: &serde_json::Value, b: &serde_json::Value) -> bool {
        use serde_json::Value;
        match (a, b) {
            (Value::Number(x), Value::Number(y)) => {
                let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
                (x - y).abs() <= 1e-5 * (1.0 + x.abs())
            }
            (Value::Array(x), Value::Array(y)) => {
                x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
            }
            (Value::Object(x), Value::Object(y)) => {
                x.len() == y.len()
                    && x.iter().all(|(key, a)| {
                        ["inference_s", "cached"].contains(&key.as_str())
                            || y.get(key).is_some_and(|b| same(a, b))
                    })
            }
            _ => a == b,
        }
    }
    assert_eq!(merged.len(), whole.len());
    for (a, b) in merged.iter().zip(whole) {
        assert!(same(a, b), "rows differ:\n{a}\n{b}");
    }
}

/// The audio hashes that have an entry in a run's cache.
fn cached_hashes(run: &Path) -> BTreeSet<String> {
    walkdir::WalkDir::new(run.join("cache"))
        .into_iter()
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let name = entry.file_name().to_str()?.to_owned();
            (name.ends_with(".bin") && !name.starts_with('.'))
                .then(|| name.split('-').next().unwrap().to_owned())
        })
        .collect()
}

/// Listed path -> content hash, for the files of shard `k` of `n`.
fn shard_files(corpus: &Path, k: usize, n: usize) -> BTreeMap<String, String> {
    let (inputs, _) = merit_studio::jobs::batch::collect_inputs(&[corpus.to_path_buf()]).unwrap();
    merit_studio::jobs::batch::shard(inputs, k, n)
        .into_iter()
        .map(|input| {
            let hash = merit_studio::fsio::blake3_of_files(&[&input.path]).unwrap();
            (input.listed, hash)
        })
        .collect()
}

#[test]
fn cluster_commands_by_hand_and_what_they_refuse() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = corpus(dir.path(), 12);
    let tiny = common::tiny_model();
    let run = dir.path().join("run");
    let plan = |run: &Path, extra: &[&str]| {
        let mut args = vec![
            "cluster",
            "plan",
            s(&corpus),
            "--out",
            s(run),
            "--shards",
            "3",
        ];
        args.extend_from_slice(extra);
        if !extra.contains(&"--model") {
            args.extend_from_slice(&["--model", s(&tiny)]);
        }
        studio(&args)
    };
    let output = plan(&run, &[]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let manifest = std::fs::read_to_string(run.join("run.json")).unwrap();

    // A shard out of range, or of another shard count.
    let output = studio(&["cluster", "task", s(&run), "--shard", "4/3"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output).contains("need 1 <= K <= N"),
        "{}",
        text(&output)
    );
    let output = studio(&["cluster", "task", s(&run), "--shard", "2/4"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output).contains("planned with 3 shards; give --shard K/3"),
        "{}",
        text(&output)
    );

    // The same folder for another model or other parameters: refused, nothing overwritten.
    let compact = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/sparse-merit-compact.onnx");
    for (extra, difference) in [
        (vec!["--hop-s", "1.0"], "parameters"),
        (vec!["--model", s(&compact)], "model"),
    ] {
        let output = plan(&run, &extra);
        assert_eq!(output.status.code(), Some(2));
        let message = text(&output);
        assert!(
            message.contains("already holds a run that differs in")
                && message.contains(difference)
                && message.contains("choose another --out"),
            "{message}"
        );
    }
    assert_eq!(
        std::fs::read_to_string(run.join("run.json")).unwrap(),
        manifest
    );
    // A folder that holds something else.
    let other = dir.path().join("other");
    std::fs::create_dir(&other).unwrap();
    std::fs::write(other.join("notes.txt"), "mine").unwrap();
    let output = plan(&other, &[]);
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output).contains("is not empty and is not a run folder"));
    assert_eq!(
        std::fs::read_to_string(other.join("notes.txt")).unwrap(),
        "mine"
    );

    // Nothing has run: every shard is missing and the merge says which to rerun.
    let missing = studio(&["cluster", "missing", s(&run)]);
    assert_eq!(String::from_utf8_lossy(&missing.stdout).trim(), "1 2 3");
    for k in 1..=3 {
        let output = studio(&["cluster", "task", s(&run), "--shard", &format!("{k}/3")]);
        assert_eq!(output.status.code(), Some(0), "{}", text(&output));
        assert!(
            text(&output).contains(&format!("shard {k}/3 done:")),
            "{}",
            text(&output)
        );
        let log: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(run.join(format!("shards/{k}/task.json"))).unwrap(),
        )
        .unwrap();
        assert!(log["audio_s"].as_f64().unwrap() > 0.0 && log["rtf"].as_f64().unwrap() > 0.0);
        assert!(log["peak_memory_mb"].as_f64().unwrap() > 0.0);
    }
    assert_eq!(
        String::from_utf8_lossy(&studio(&["cluster", "missing", s(&run)]).stdout).trim(),
        ""
    );

    // A task output cut short: not taken as done, and the merge names the shard.
    let results = run.join("shards/2/results.jsonl");
    let whole = std::fs::read(&results).unwrap();
    std::fs::write(&results, &whole[..whole.len() / 2]).unwrap();
    let output = studio(&["cluster", "missing", s(&run)]);
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        "2",
        "{}",
        text(&output)
    );
    let output = studio(&["cluster", "merge", s(&run)]);
    assert_eq!(output.status.code(), Some(1));
    let message = text(&output);
    assert!(
        message.contains("shard 2:")
            && message.contains("rerun shard 2")
            && message.contains("--resume"),
        "{message}"
    );
    assert!(!run.join("results.jsonl").exists());
    // Cut at a line boundary: files are missing, the first one named.
    let lines: Vec<&[u8]> = whole.split_inclusive(|&b| b == b'\n').collect();
    std::fs::write(&results, lines[..lines.len() - 1].concat()).unwrap();
    let output = studio(&["cluster", "merge", s(&run)]);
    assert_eq!(output.status.code(), Some(1));
    assert!(text(&output).contains("of its"), "{}", text(&output));
    // A file twice, and a file of another shard.
    let mut doubled = lines.concat();
    doubled.extend_from_slice(lines[0]);
    std::fs::write(&results, &doubled).unwrap();
    let output = studio(&["cluster", "merge", s(&run)]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        text(&output).contains("appears twice: rerun shard 2"),
        "{}",
        text(&output)
    );
    let mut foreign = lines.concat();
    foreign.extend_from_slice(
        std::fs::read_to_string(run.join("shards/1/results.jsonl"))
            .unwrap()
            .lines()
            .next()
            .unwrap()
            .as_bytes(),
    );
    std::fs::write(&results, &foreign).unwrap();
    let output = studio(&["cluster", "merge", s(&run)]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        text(&output).contains("which is not one of its files"),
        "{}",
        text(&output)
    );
    assert!(!run.join("results.jsonl").exists());
    // A rerun of that shard takes everything from the run's cache; then the merge goes through.
    let output = studio(&["cluster", "task", s(&run), "--shard", "2/3"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    assert!(rows(&results).iter().all(|row| row["cached"] == true));
    let output = studio(&["cluster", "merge", s(&run)]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let message = text(&output);
    assert!(
        message.contains("run: 12 files") && message.contains("slowest shard:"),
        "{message}"
    );
    let reference = dir.path().join("whole");
    let output = studio(&[
        "analyze",
        s(&corpus),
        "--model",
        s(&tiny),
        "--device",
        "cpu",
        "--no-cache",
        "--out",
        s(&reference),
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    assert_same_rows(
        &rows(&run.join("results.jsonl")),
        &rows(&reference.join("results.jsonl")),
    );
    assert!(
        run.join(
            rows(&run.join("results.jsonl"))[3]["enhanced"]
                .as_str()
                .unwrap()
        )
        .is_file()
    );

    // A recording that cannot be decoded is an error row of a finished task (a scheduler's
    // afterok must still start the merge); the merge writes the rows and exits 1.
    let with_broken = dir.path().join("with-broken");
    std::fs::create_dir(&with_broken).unwrap();
    for name in ["spk0/utt000.wav", "spk1/utt001.wav"] {
        std::fs::copy(corpus.join(name), with_broken.join(name.replace('/', "-"))).unwrap();
    }
    std::fs::write(with_broken.join("broken.wav"), b"RIFF not audio").unwrap();
    let run4 = dir.path().join("run4");
    let output = studio(&[
        "cluster",
        "plan",
        s(&with_broken),
        "--out",
        s(&run4),
        "--shards",
        "1",
        "--model",
        s(&tiny),
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let output = studio(&["cluster", "task", s(&run4), "--shard", "1/1"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    assert!(text(&output).contains("1 failed"), "{}", text(&output));
    let output = studio(&["cluster", "merge", s(&run4)]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        text(&output).contains("1 files could not be analysed"),
        "{}",
        text(&output)
    );
    let merged = rows(&run4.join("results.jsonl"));
    assert_eq!(merged.len(), 3);
    assert!(merged[0]["error"].as_str().unwrap().contains("broken.wav"));

    // The model file replaced after planning: tasks refuse.
    let model_dir = dir.path().join("model");
    std::fs::create_dir(&model_dir).unwrap();
    let model = model_dir.join("m.onnx");
    std::fs::copy(&tiny, &model).unwrap();
    let run2 = dir.path().join("run2");
    let output = plan(&run2, &["--model", s(&model)]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    std::fs::copy(&compact, &model).unwrap();
    let output = studio(&["cluster", "task", s(&run2), "--shard", "1/3"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output).contains("changed since this run was planned"),
        "{}",
        text(&output)
    );

    // A CPU variant of the model added between tasks: the later shards run it, and the merge says
    // the shards ran differently.
    let model = model_dir.join("v.onnx");
    std::fs::copy(&tiny, &model).unwrap();
    let run_variant = dir.path().join("run_variant");
    assert_eq!(
        plan(&run_variant, &["--model", s(&model)]).status.code(),
        Some(0)
    );
    assert_eq!(
        studio(&["cluster", "task", s(&run_variant), "--shard", "1/3"])
            .status
            .code(),
        Some(0)
    );
    let digest = merit_studio::model::session::model_digest(&model).unwrap();
    common::write_cpu_variant(&model, &digest);
    for k in 2..=3 {
        let shard = format!("{k}/3");
        assert_eq!(
            studio(&["cluster", "task", s(&run_variant), "--shard", &shard])
                .status
                .code(),
            Some(0)
        );
    }
    let output = studio(&["cluster", "merge", s(&run_variant)]);
    assert!(
        text(&output).contains(
            "the shards ran differently (2 with v.cpu-int8.onnx (int8) on cpu, 1 with v.onnx on cpu)"
        ),
        "{}",
        text(&output)
    );

    // No sbatch: submit.sh says so and submits nothing.
    let empty_path = dir.path().join("bin");
    std::fs::create_dir(&empty_path).unwrap();
    std::os::unix::fs::symlink("/usr/bin/dirname", empty_path.join("dirname")).unwrap();
    let output = Command::new("/bin/bash")
        .arg(scripts().join("submit.sh"))
        .args([
            s(&corpus),
            "--out",
            s(&dir.path().join("run3")),
            "--shards",
            "2",
        ])
        .env("PATH", &empty_path)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output).contains("sbatch not found"),
        "{}",
        text(&output)
    );
    assert!(!dir.path().join("run3").exists());
}

/// The one-machine Slurm, stopped (by its pid files) when dropped.
struct LocalCluster {
    dir: PathBuf,
    conf: String,
}

impl LocalCluster {
    /// Starts it, or says why it cannot.
    fn start(dir: PathBuf) -> Result<Self, String> {
        let output = Command::new("bash")
            .arg(scripts().join("local-cluster.sh"))
            .arg("start")
            .arg(&dir)
            .output()
            .map_err(|e| format!("cannot run bash: {e}"))?;
        if !output.status.success() {
            return Err(String::from_utf8_lossy(&output.stderr).trim().to_owned());
        }
        let stdout = String::from_utf8_lossy(&output.stdout);
        let conf = stdout
            .trim()
            .strip_prefix("export SLURM_CONF=")
            .ok_or_else(|| format!("unexpected output: {stdout}"))?
            .to_owned();
        Ok(Self { dir, conf })
    }

    fn command(&self, program: &str) -> Command {
        let mut command = Command::new(program);
        command
            .env("SLURM_CONF", &self.conf)
            .env("MERIT_STUDIO", STUDIO)
            .env("RUST_LOG", "error");
        command
    }

    fn run(&self, program: &str, args: &[&str]) -> Output {
        self.command(program).args(args).output().unwrap()
    }

    fn logs(&self, run: &Path) -> String {
        let mut all = String::new();
        for folder in [self.dir.join("log"), run.join("logs")] {
            for entry in walkdir::WalkDir::new(folder)
                .into_iter()
                .filter_map(Result::ok)
            {
                if entry.file_type().is_file() {
                    let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
                    let tail: Vec<&str> = text.lines().rev().take(15).collect();
                    all += &format!("== {}\n", entry.path().display());
                    for line in tail.into_iter().rev() {
                        all += line;
                        all += "\n";
                    }
                }
            }
        }
        all
    }
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(scripts().join("local-cluster.sh"))
            .arg("stop")
            .arg(&self.dir)
            .output();
    }
}

/// Whether array task `k` of `array` is still queued or running.
fn running_task(cluster: &LocalCluster, array: &str, k: usize) -> bool {
    let output = cluster.run("squeue", &["-h", "-j", &format!("{array}_{k}"), "-o", "%i"]);
    !String::from_utf8_lossy(&output.stdout).trim().is_empty()
}

#[test]
fn slurm_array_run_is_killed_resumed_and_merges_to_the_unsharded_results() {
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    // Daemons left running by an earlier start (as a killed test would leave them) must not get
    // in the way of this one.
    let started_cluster = LocalCluster::start(dir.path().join("stale"))
        .and_then(|stale| Ok((stale, LocalCluster::start(dir.path().join("slurm"))?)));
    let (stale, cluster) = match started_cluster {
        Ok(clusters) => clusters,
        Err(reason) => {
            say(&format!(
                "SKIPPED slurm_array_run_is_killed_resumed_and_merges_to_the_unsharded_results: \
                 Slurm cannot start here: {reason}"
            ));
            return;
        }
    };
    let corpus = corpus(dir.path(), 200);
    let tiny = common::tiny_model();
    let run = dir.path().join("run");

    let submitted = cluster.run(
        "bash",
        &[
            s(&scripts().join("submit.sh")),
            s(&corpus),
            "--out",
            s(&run),
            "--shards",
            "4",
            "--model",
            s(&tiny),
            "--cpus-per-task",
            "1",
        ],
    );
    assert_eq!(submitted.status.code(), Some(0), "{}", text(&submitted));
    let jobs = std::fs::read_to_string(run.join("jobs")).unwrap();
    let array = jobs
        .lines()
        .find_map(|line| line.strip_prefix("array "))
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .to_owned();

    // Kill the first shard that runs once a few of its files are done.
    let deadline = Instant::now() + Duration::from_secs(300);
    let victim = loop {
        assert!(
            Instant::now() < deadline,
            "no task ran:\n{}",
            cluster.logs(&run)
        );
        let running = cluster.run("squeue", &["-h", "-j", &array, "-t", "RUNNING", "-o", "%K"]);
        let first = String::from_utf8_lossy(&running.stdout)
            .lines()
            .filter_map(|k| k.trim().parse::<usize>().ok())
            .min();
        if let Some(k) = first {
            let files = shard_files(&corpus, k, 4);
            let wanted: BTreeSet<&String> = files.values().collect();
            loop {
                let done = cached_hashes(&run)
                    .iter()
                    .filter(|hash| wanted.contains(hash))
                    .count();
                if done >= 3 {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "shard {k} made no progress:\n{}",
                    cluster.logs(&run)
                );
                if run.join(format!("shards/{k}/task.json")).exists()
                    || !run
                        .join(format!("shards/{k}/results.jsonl.partial"))
                        .exists()
                        && !running_task(&cluster, &array, k)
                {
                    panic!(
                        "shard {k} ended before 3 of its files were done:\n{}",
                        cluster.logs(&run)
                    );
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let output = cluster.run("scancel", &[&format!("{array}_{k}")]);
            assert!(output.status.success(), "{}", text(&output));
            break (k, files);
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let (k, victim_files) = victim;
    // Meanwhile, the unsharded reference (one thread, like each task).
    let reference = dir.path().join("whole");
    let output = studio(&[
        "analyze",
        s(&corpus),
        "--model",
        s(&tiny),
        "--device",
        "cpu",
        "--jobs",
        "1",
        "--no-cache",
        "--out",
        s(&reference),
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));

    // Wait for the array to drain (the others finish; the victim is gone).
    loop {
        let queued = cluster.run("squeue", &["-h", "-j", &array, "-o", "%i"]);
        if String::from_utf8_lossy(&queued.stdout).trim().is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the array did not end:\n{}",
            cluster.logs(&run)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let cached = cached_hashes(&run);
    let finished: BTreeSet<&String> = victim_files
        .iter()
        .filter(|(_, hash)| cached.contains(*hash))
        .map(|(listed, _)| listed)
        .collect();
    assert!(
        !finished.is_empty() && finished.len() < victim_files.len(),
        "shard {k} was to be killed mid-way: {} of {} files done",
        finished.len(),
        victim_files.len()
    );
    // The killed task's partial output is not taken as done, and nothing was merged.
    assert!(!run.join(format!("shards/{k}/results.jsonl")).exists());
    assert!(!run.join("results.jsonl").exists());
    let missing = studio(&["cluster", "missing", s(&run)]);
    assert_eq!(
        String::from_utf8_lossy(&missing.stdout).trim(),
        k.to_string(),
        "{}",
        text(&missing)
    );

    // Resume: only shard k again, and a new merge; wait for it.
    let resumed = cluster
        .command("timeout")
        .args([
            "600",
            "bash",
            s(&scripts().join("submit.sh")),
            "--resume",
            s(&run),
            "--wait",
        ])
        .output()
        .unwrap();
    assert_eq!(
        resumed.status.code(),
        Some(0),
        "{}\n{}",
        text(&resumed),
        cluster.logs(&run)
    );
    let jobs = std::fs::read_to_string(run.join("jobs")).unwrap();
    let arrays: Vec<&str> = jobs.lines().filter(|l| l.starts_with("array ")).collect();
    assert_eq!(arrays.len(), 2, "{jobs}");
    assert!(arrays[1].ends_with(&format!(" {k}")), "{jobs}");

    // The merged rows are the unsharded run's.
    assert_same_rows(
        &rows(&run.join("results.jsonl")),
        &rows(&reference.join("results.jsonl")),
    );
    // No finished file was analysed again: the rerun of shard k took exactly the files the killed
    // task had finished from the cache; every other file was analysed once.
    for j in 1..=4 {
        for row in rows(&run.join(format!("shards/{j}/results.jsonl"))) {
            let file = row["file"].as_str().unwrap().to_owned();
            let expect_cached = j == k && finished.contains(&file);
            assert_eq!(row["cached"], expect_cached, "shard {j}: {file}");
        }
    }
    let merge_log = std::fs::read_dir(run.join("logs"))
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with("merge-"))
        .map(|e| std::fs::read_to_string(e.path()).unwrap())
        .find(|log| log.contains("run: 200 files"))
        .unwrap_or_else(|| panic!("no merge log with totals:\n{}", cluster.logs(&run)));
    assert!(merge_log.contains("slowest shard:"), "{merge_log}");
    let task_log = std::fs::read_dir(run.join("logs"))
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with("analyze-"))
        .map(|e| std::fs::read_to_string(e.path()).unwrap())
        .find(|log| log.contains(&format!("shard {k}/4 done:")))
        .unwrap();
    assert!(
        task_log.contains(&format!("{} from the cache", finished.len()))
            && task_log.contains("RTF")
            && task_log.contains("peak memory"),
        "{task_log}"
    );
    // `stop` stops exactly the daemons it started: the earlier ones still run.
    let pids = |cluster: &LocalCluster| -> Vec<String> {
        ["run/slurmctld.pid", "run/slurmd.pid", "munge/munged.pid"]
            .iter()
            .map(|file| {
                std::fs::read_to_string(cluster.dir.join(file))
                    .unwrap()
                    .trim()
                    .to_owned()
            })
            .collect()
    };
    let (ours, earlier) = (pids(&cluster), pids(&stale));
    drop(cluster);
    for pid in ours {
        assert!(
            !Path::new(&format!("/proc/{pid}")).exists(),
            "daemon {pid} still runs"
        );
    }
    for pid in earlier {
        assert!(
            Path::new(&format!("/proc/{pid}")).exists(),
            "daemon {pid} was stopped"
        );
    }
    drop(stale);
    say(&format!(
        "slurm cluster test: shard {k} killed after {} of {} files, resumed and merged in {:.0} s",
        finished.len(),
        victim_files.len(),
        started.elapsed().as_secs_f64()
    ));
}
