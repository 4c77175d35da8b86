"""The model card's account of the run that made the model (merit.ship)."""

import json

from merit.ship import describe_source


def test_stage_times_add_up_and_gnu_time_notes_are_skipped(tmp_path):
    # A stage killed once and resumed: GNU time's note precedes the JSON line of the killed part.
    lines = [
        json.dumps({"stage": "corpus", "wall_s": 60.0, "user_s": 50.0, "system_s": 10.0, "exit": 0}),
        "Command exited with non-zero status 143",
        json.dumps({"stage": "train", "wall_s": 120.0, "user_s": 100.0, "system_s": 20.0, "exit": 143}),
        "Command terminated by signal 9",
        json.dumps({"stage": "train", "wall_s": 180.0, "user_s": 200.0, "system_s": 40.0, "exit": 0}),
    ]
    (tmp_path / "timings.jsonl").write_text("\n".join(lines) + "\n")
    card = describe_source(tmp_path)
    assert "| corpus | 1.0 | 1.0 | 1 |" in card
    assert "| train | 5.0 | 6.0 | 2 |" in card
