#!/usr/bin/env python3
"""Checks a `merit-studio export --format labelstudio` folder with Label Studio's own reader
(`label-studio-sdk`, offline: no server): the labeling config parses, and every task's annotations
and predictions are valid against it, and every result of a `perRegion` control rates a region of
its annotation (Label Studio links them by the region's id; the reader does not check that). Also
checks that the reader rejects tasks we break on purpose, so a pass means something.

    python3 -m venv /tmp/ls && /tmp/ls/bin/pip install label-studio-sdk==2.1.2
    /tmp/ls/bin/python scripts/check-labelstudio.py EXPORT_FOLDER
"""

import copy
import json
import sys
from pathlib import Path

from label_studio_sdk.label_interface import LabelInterface


def unlinked_ratings(interface: LabelInterface, item: dict) -> list:
    """Results of perRegion controls without a region of the same id and times in `item`."""
    per_region = {c.name for c in interface.controls if c.attr.get("perRegion") == "true"}
    spans = {
        r["id"]: (r["value"].get("start"), r["value"].get("end"))
        for r in item["result"]
        if r["from_name"] not in per_region
    }
    return [
        r
        for r in item["result"]
        if r["from_name"] in per_region
        and spans.get(r["id"]) != (r["value"].get("start"), r["value"].get("end"))
    ]


def main(folder: Path) -> int:
    interface = LabelInterface((folder / "labeling-config.xml").read_text(encoding="utf-8"))
    tasks = json.loads((folder / "tasks.json").read_text(encoding="utf-8"))
    problems = []
    checked = 0
    for task in tasks:
        name = task["data"]["file"]
        for obj in interface.objects:
            if obj.value_is_variable and task["data"].get(obj.value_name) is None:
                problems.append(f"{name}: data has no {obj.value_name!r}")
        for kind, items, validate in (
            ("annotation", task.get("annotations", []), interface.validate_annotation),
            ("prediction", task.get("predictions", []), interface.validate_prediction),
        ):
            for item in items:
                checked += 1
                if not validate(item):
                    problems.append(f"{name}: {kind} not valid: {json.dumps(item)[:300]}")
                for rating in unlinked_ratings(interface, item):
                    problems.append(f"{name}: {kind}: a per-region rating of no region: {rating}")
    # A broken copy must be refused, or the checks above prove nothing.
    with_results = [a for t in tasks for a in t.get("annotations", []) if a["result"]]
    if with_results:
        broken = copy.deepcopy(with_results[0])
        broken["result"][0]["from_name"] = "no such control"
        if interface.validate_annotation(broken):
            problems.append("the reader accepted an annotation of an unknown control")
    per_region = {c.name for c in interface.controls if c.attr.get("perRegion") == "true"}
    rated = [
        a for a in with_results if any(r["from_name"] in per_region for r in a["result"])
    ]
    if rated:
        broken = copy.deepcopy(rated[0])
        rating = next(r for r in broken["result"] if r["from_name"] in per_region)
        rating["value"][rating["type"]] = "not a number"
        if interface.validate_annotation(broken):
            problems.append("the reader accepted a per-region rating that is not a number")
        rating["id"] = "no such region"
        if not unlinked_ratings(interface, broken):
            problems.append("a per-region rating of no region went unnoticed")
    print(f"{len(rated)} annotations with per-region ratings")
    for problem in problems:
        print("PROBLEM", problem)
    print(f"{len(tasks)} tasks, {checked} annotations and predictions checked, {len(problems)} problems")
    return 1 if problems or checked == 0 else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
