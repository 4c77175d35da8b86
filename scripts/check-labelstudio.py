#!/usr/bin/env python3
"""Checks a `merit-studio export --format labelstudio` folder with Label Studio's own reader
(`label-studio-sdk`, offline: no server): the labeling config parses, and every task's annotations
and predictions are valid against it. Also checks that the reader rejects a task we break on
purpose, so a pass means something.

    python3 -m venv /tmp/ls && /tmp/ls/bin/pip install label-studio-sdk==2.1.2
    /tmp/ls/bin/python scripts/check-labelstudio.py EXPORT_FOLDER
"""

import copy
import json
import sys
from pathlib import Path

from label_studio_sdk.label_interface import LabelInterface


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
    # A broken copy must be refused, or the checks above prove nothing.
    with_results = [a for t in tasks for a in t.get("annotations", []) if a["result"]]
    if with_results:
        broken = copy.deepcopy(with_results[0])
        broken["result"][0]["from_name"] = "no such control"
        if interface.validate_annotation(broken):
            problems.append("the reader accepted an annotation of an unknown control")
    for problem in problems:
        print("PROBLEM", problem)
    print(f"{len(tasks)} tasks, {checked} annotations and predictions checked, {len(problems)} problems")
    return 1 if problems or checked == 0 else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
