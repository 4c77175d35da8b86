"""What the README's label-efficiency curve is measured on: a voice family that the parent model
never met. Leave-one-family-out (run_lofo.sh) trains a Sparse MERIT without the family; this
module exports that model to ONNX and builds a studio project of the family's recordings of the
given splits (by default all three: the model heard none of them; dev's and test's noisy mixtures are
as annotators would meet them; `--clean` keeps the clean utterances alone), with the corpus's labels
as one annotator's, for scripts/label-efficiency.sh.

    .venv/bin/python -m merit.family_project export --checkpoint RUNS/lofo-F/sparse_merit/model.pt --out F.onnx
    .venv/bin/python -m merit.family_project project --corpus CORPUS/manifest.jsonl --family F --out DIR

`project` writes DIR/project.json, DIR/recordings.csv (path, speaker) and DIR/labels.jsonl, the
lines `merit-studio label DIR --annotator corpus` takes. run_label_efficiency.sh chains it all.
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

from .data import read_json_lines
from .export import export_onnx, metadata_for
from .train import load_trained


def export(checkpoint: Path, out: Path, family: str) -> None:
    model = load_trained(checkpoint)
    trained_on = f"corpus v2 without the {family} voice family (leave-one-family-out: models/training/run_lofo.sh)"
    export_onnx(model, out, metadata_for(model, version=f"lofo-{family}", trained_on=trained_on))


def project(corpus: Path, family: str, splits: tuple[str, ...], out: Path, clean_only: bool = False) -> int:
    """Writes the project of the family's recordings of `splits` (only those without added noise when
    `clean_only`) and returns how many it holds."""
    rows = [
        row
        for _, row in read_json_lines(corpus, ("path", "family", "split", "label", "speaker"), "not found")
        if row["family"] == family and row["split"] in splits and not (clean_only and row.get("noise_type"))
    ]
    condition = "clean " if clean_only else ""
    if not rows:
        raise SystemExit(f"{corpus}: no {condition}{family} recordings in the splits {splits}")
    out.mkdir(parents=True, exist_ok=True)
    with (out / "recordings.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["path", "speaker"])
        for row in rows:
            writer.writerow([row["path"], row["speaker"]])
    with (out / "labels.jsonl").open("w") as handle:
        for row in rows:
            handle.write(json.dumps({"file": row["path"], "class": row["label"]}) + "\n")
    project_file = {
        "schema_version": 1,
        "name": f"corpus v2 {family} ({', '.join(splits)}{', clean' if clean_only else ''})",
        "description": f"The {family} voice family's {condition}{', '.join(splits)} recordings of corpus v2, labelled as the corpus says (annotator 'corpus').",
        "sources": [{"kind": "manifest", "path": "recordings.csv", "audio_root": str(corpus.parent.resolve())}],
    }
    (out / "project.json").write_text(json.dumps(project_file, indent=2) + "\n")
    return len(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    to_onnx = commands.add_parser("export", help="a leave-one-family-out checkpoint as the studio's ONNX model")
    to_onnx.add_argument("--checkpoint", type=Path, required=True)
    to_onnx.add_argument("--family", required=True)
    to_onnx.add_argument("--out", type=Path, required=True)
    build = commands.add_parser("project", help="a studio project of one family's recordings, labels for merit-studio label")
    build.add_argument("--corpus", type=Path, required=True)
    build.add_argument("--family", required=True)
    build.add_argument("--splits", default="train,dev,test")
    build.add_argument("--out", type=Path, required=True)
    build.add_argument("--clean", action="store_true", help="only the recordings without added noise")
    args = parser.parse_args()
    if args.command == "export":
        export(args.checkpoint, args.out, args.family)
        print(f"wrote {args.out}")
    else:
        count = project(args.corpus, args.family, tuple(args.splits.split(",")), args.out, args.clean)
        print(f"wrote {args.out} ({count} recordings)")


if __name__ == "__main__":
    main()
