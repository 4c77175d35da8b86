"""The label-efficiency curve: how much a model gains from N of a project's human labels.

The project's labels (a studio JSONL export with 16 kHz audio, consensus of its journals) are the
truth. One held-out part (20 %, seeded, speaker-disjoint when the rows carry speakers, with every
class in it) is scored for every size; for each size N (25, 50, 100, 200 where there are enough
labels) the parent is fine-tuned on N labels drawn stratified by class from the rest, three times
with different seeds, and the held-out macro-F1 is averaged (`--sizes` names other sizes; `all`
is the whole pool, where the seeds differ only in the fit's cross-validation folds, a ceiling of
what the project's labels can give). With `--draw speaker` each class's
labels are also taken in turns from its speakers (in a pool where one speaker has most of the
recordings, a class-stratified draw is mostly that speaker; the README says what that changed).

    .venv/bin/python -m merit.label_efficiency --model M.onnx --manifest labels.jsonl --out DIR [--draw speaker]

Prints one line per size, `labels N: macro-F1 X.XXX (parent Y.YYY)`, and writes DIR/curve.json and
DIR/curve.png. scripts/label-efficiency.sh makes the export from a project and runs this.
"""

from __future__ import annotations

import argparse
import copy
import json
import random
import time
from collections import Counter
from pathlib import Path

from .data import CorpusError
from .export import load_onnx_model
from .finetune import DEFAULT_TRAINING, TRAINING_METHODS, classify_rows, evaluate, figures, fine_tune, read_rows, row_statistics
from .head_fit import fit_head
from .quantize import round_weights_int8
from .train_utils import configure_threads

SIZES = (25, 50, 100, 200)
SEEDS = (0, 1, 2)
MIN_PER_CLASS = 4
# `--sizes all`: every label outside the held-out part.
ALL = "all"
# How each size's labels are drawn from the pool (merit.label_efficiency --draw).
DRAWS = ("class", "speaker")


def class_counts(rows: list[dict], classes: int) -> list[int]:
    counts = Counter(r["label"] for r in rows)
    return [counts.get(c, 0) for c in range(classes)]


def held_out_split(rows: list[dict], classes: int, fraction: float, seed: int) -> tuple[list[dict], list[dict]]:
    """(pool, held out). With two or more speakers, whole speakers are held out: of 100 seeded
    speaker orders, the one whose held-out part comes closest to `fraction` of every class (and has
    every class) wins. Without speakers, `fraction` of each class, seeded."""
    rng = random.Random(seed)
    speakers = sorted({r.get("speaker") for r in rows if r.get("speaker")})
    if len(speakers) >= 2 and all(r.get("speaker") for r in rows):
        totals = class_counts(rows, classes)
        best, best_cost = None, float("inf")
        for _ in range(100):
            order = speakers[:]
            rng.shuffle(order)
            chosen: set[str] = set()
            for speaker in order:
                if sum(r.get("speaker") in chosen for r in rows) >= fraction * len(rows):
                    break
                chosen.add(speaker)
            held = [r for r in rows if r.get("speaker") in chosen]
            counts = class_counts(held, classes)
            if 0 in counts or len(held) == len(rows):
                continue
            cost = sum(abs(c - fraction * t) for c, t in zip(counts, totals))
            if cost < best_cost:
                best, best_cost = chosen, cost
        if best is not None:
            return [r for r in rows if r.get("speaker") not in best], [r for r in rows if r.get("speaker") in best]
    pool, held = [], []
    for c in range(classes):
        members = [r for r in rows if r["label"] == c]
        rng.shuffle(members)
        count = max(1, round(fraction * len(members))) if members else 0
        held += members[:count]
        pool += members[count:]
    return pool, held


def stratified_draw(pool: list[dict], size: int, classes: int, seed: int, spread: bool = False) -> list[dict]:
    """`size` rows with each class in its share of the pool (largest remainders), seeded. With
    `spread`, each class's rows are drawn in turns from its speakers (each speaker's own rows in a
    seeded order), so every speaker gives as many as it can, as an annotator who labels across the
    project would; else at random from the class, so a speaker with most of the recordings gives
    most of the labels."""
    rng = random.Random(seed)
    counts = class_counts(pool, classes)
    exact = [size * c / len(pool) for c in counts]
    quota = [int(e) for e in exact]
    for c in sorted(range(classes), key=lambda c: exact[c] - quota[c], reverse=True)[: size - sum(quota)]:
        quota[c] += 1
    drawn = []
    for c in range(classes):
        members = [r for r in pool if r["label"] == c]
        wanted = min(quota[c], len(members))
        drawn += in_turns_by_speaker(members, wanted, rng) if spread else rng.sample(members, wanted)
    return drawn


def in_turns_by_speaker(members: list[dict], wanted: int, rng: random.Random) -> list[dict]:
    """`wanted` of `members`, one speaker's row after another's in a seeded order of speakers (rows
    without a speaker count as one speaker)."""
    by_speaker: dict[str, list[dict]] = {}
    for row in members:
        by_speaker.setdefault(row.get("speaker") or "", []).append(row)
    queues = [rng.sample(rows, len(rows)) for _, rows in sorted(by_speaker.items())]
    rng.shuffle(queues)
    drawn: list[dict] = []
    while len(drawn) < wanted:
        for queue in queues:
            if queue and len(drawn) < wanted:
                drawn.append(queue.pop())
    return drawn


def parse_sizes(text: str) -> list[int | str]:
    """`25,50,400,all` -> [25, 50, 400, "all"]: positive counts in increasing order, `all` last."""
    sizes: list[int | str] = []
    for item in (part.strip() for part in text.split(",")):
        if item == ALL:
            sizes.append(ALL)
        elif item.isdigit() and int(item) > 0:
            sizes.append(int(item))
        else:
            raise argparse.ArgumentTypeError(f"{item!r} is not a positive number of labels or {ALL!r}")
    counts = [s for s in sizes if s != ALL]
    if counts != sorted(set(counts)) or sizes.count(ALL) > 1 or (ALL in sizes and sizes[-1] != ALL):
        raise argparse.ArgumentTypeError(f"sizes must increase, each once, with {ALL!r} last: {text}")
    return sizes


def check_enough(pool: list[dict], held: list[dict], classes: list[str]) -> None:
    """Too few labels to learn from: say how many more of each class are needed."""
    counts = class_counts(pool, len(classes))
    short = {name: MIN_PER_CLASS - n for name, n in zip(classes, counts) if n < MIN_PER_CLASS}
    if short:
        wanted = ", ".join(f"{more} more {name}" for name, more in short.items())
        raise CorpusError(f"too few labels to fine-tune on after holding out {len(held)}: label {wanted} (at least {MIN_PER_CLASS} per class)")


class FixedStatistics:
    """For the closed-form fit, which leaves the pooled statistics as they are: every row's
    statistics computed once with the parent, the pool's as speaker references of its labelled
    rows (labelled or not, as in a project) and the held-out part's for scoring."""

    def __init__(self, parent, pool: list[dict], held: list[dict]):
        self.pool, self.held = pool, held
        self.pool_statistics = row_statistics(parent, pool, None)
        self.held_statistics = row_statistics(parent, held, None)
        self.position = {id(row): number for number, row in enumerate(pool)}

    def fit(self, model, drawn: list[dict], classes: int, seed: int) -> None:
        fit_head(model, self.pool, self.pool_statistics, [self.position[id(row)] for row in drawn], classes, seed)

    def score(self, model, classes: int) -> dict:
        return figures(classify_rows(model, self.held_statistics, self.held), self.held, classes)


def curve(
    model_path: Path,
    manifest: Path,
    sizes=SIZES,
    seeds=SEEDS,
    steps: int = 200,
    fraction: float = 0.2,
    seed: int = 0,
    partial: Path | None = None,
    method: str = DEFAULT_TRAINING,
    draw: str = "class",
) -> dict:
    """The curve; with `partial`, each finished size is saved there and a rerun with the same
    model, held-out part, method, steps and draw starts after the sizes it holds (a long run survives a stop)."""
    parent, _, digest = load_onnx_model(model_path)
    classes = list(parent.config.classes)
    rows = read_rows(manifest, classes)
    pool, held = held_out_split(rows, len(classes), fraction, seed)
    check_enough(pool, held, classes)
    fixed = FixedStatistics(parent, pool, held) if method == "fit" else None
    parent_score = fixed.score(parent, len(classes)) if fixed else evaluate(parent, {"held": held}, held, len(classes))["held"]
    result = {
        "model_sha256": digest,
        "manifest": str(manifest),
        "held_out": {"rows": len(held), "speakers": sorted({r["speaker"] for r in held if r.get("speaker")}), "classes": class_counts(held, len(classes))},
        "pool": len(pool),
        "parent": parent_score,
        "method": method,
        "draw": draw,
        "steps": steps,
        "sizes": [],
    }
    done = {}
    same_run = ("model_sha256", "held_out", "pool", "method", "steps", "draw")
    if partial is not None and partial.is_file():
        saved = json.loads(partial.read_text())
        saved.setdefault("draw", "class")  # saved before the draw was a choice
        if {k: saved.get(k) for k in same_run} == {k: result[k] for k in same_run}:
            done = {s["labels"]: s for s in saved["sizes"]}
    # Counts beyond the pool are left out; `all` is the pool, once even where a count equals it.
    resolved = dict.fromkeys(len(pool) if s == ALL else s for s in sizes if s == ALL or s <= len(pool))
    for size in resolved:
        if size in done:
            result["sizes"].append(done[size])
            print(f"labels {size}: macro-F1 {done[size]['macro_f1']:.3f} (parent {parent_score['macro_f1']:.3f}) (from {partial})", flush=True)
            continue
        runs = []
        for run_seed in seeds:
            started = time.time()
            model = copy.deepcopy(parent)
            drawn = stratified_draw(pool, size, len(classes), run_seed, spread=draw == "speaker")
            if fixed:
                fixed.fit(model, drawn, len(classes), run_seed)
            else:
                fine_tune(model, drawn, len(classes), steps, 1e-3, method, run_seed)
            round_weights_int8(model)
            score = fixed.score(model, len(classes)) if fixed else evaluate(model, {"held": held}, held, len(classes))["held"]
            runs.append({"seed": run_seed, "macro_f1": score["macro_f1"], "accuracy": score["accuracy"], "seconds": round(time.time() - started, 1)})
        mean = sum(r["macro_f1"] for r in runs) / len(runs)
        result["sizes"].append({"labels": size, "macro_f1": mean, "runs": runs})
        if partial is not None:
            partial.parent.mkdir(parents=True, exist_ok=True)
            partial.write_text(json.dumps(result, indent=1) + "\n")
        print(f"labels {size}: macro-F1 {mean:.3f} (parent {parent_score['macro_f1']:.3f})", flush=True)
    if not result["sizes"]:
        raise CorpusError(f"{manifest}: {len(pool)} labels outside the held-out part, fewer than the smallest size {min(s for s in sizes if s != ALL)}")
    return result


def plot(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = [s["labels"] for s in result["sizes"]]
    figure, axes = plt.subplots(figsize=(5.5, 3.6), dpi=120)
    for s in result["sizes"]:
        axes.scatter([s["labels"]] * len(s["runs"]), [r["macro_f1"] for r in s["runs"]], color="#999999", s=12, zorder=2)
    axes.plot(sizes, [s["macro_f1"] for s in result["sizes"]], marker="o", color="#0072B2", label="fine-tuned (mean of 3 seeds)" + (", labels spread over speakers" if result.get("draw") == "speaker" else ""), zorder=3)
    axes.axhline(result["parent"]["macro_f1"], color="#D55E00", linestyle="--", label="parent model")
    axes.set_xscale("log")
    axes.set_xticks(sizes, [str(s) for s in sizes])
    axes.minorticks_off()  # the log axis's own minor labels (3×10¹ …) crowd the sizes
    axes.set_xlabel("human labels used for fine-tuning")
    axes.set_ylabel(f"held-out macro-F1 ({result['held_out']['rows']} recordings)")
    axes.set_ylim(0, 1)
    axes.grid(alpha=0.3)
    axes.legend(loc="lower right", fontsize=8)
    figure.tight_layout()
    figure.savefig(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, required=True, help="the parent: an ONNX model exported by this pipeline")
    parser.add_argument("--manifest", type=Path, required=True, help="merit-studio export --format jsonl --audio16k")
    parser.add_argument("--out", type=Path, required=True, help="folder for curve.json and curve.png")
    parser.add_argument("--train", choices=TRAINING_METHODS, default=DEFAULT_TRAINING, help="how each size is fine-tuned (merit.finetune --train)")
    parser.add_argument("--steps", type=int, default=200, help="gradient steps of the methods other than fit")
    parser.add_argument(
        "--draw",
        choices=DRAWS,
        default="class",
        help="how each size's labels are drawn from the pool: stratified by class (at random within a class), "
        "or stratified by class and taken in turns from the class's speakers",
    )
    parser.add_argument(
        "--sizes",
        type=parse_sizes,
        default=list(SIZES),
        help=f"numbers of labels to fine-tune on, increasing, comma-separated; {ALL!r}: the whole pool (default: {','.join(map(str, SIZES))})",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the held-out part")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    configure_threads(args.threads)
    try:
        result = curve(
            args.model, args.manifest, sizes=args.sizes, steps=args.steps, seed=args.seed, partial=args.out / "curve.partial.json", method=args.train, draw=args.draw
        )
    except CorpusError as error:
        raise SystemExit(f"label-efficiency: {error}") from None
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "curve.json").write_text(json.dumps(result, indent=1) + "\n")
    plot(result, args.out / "curve.png")
    print(f"wrote {args.out / 'curve.json'} and {args.out / 'curve.png'}")


if __name__ == "__main__":
    main()
