"""The model card's account of the run that made the model (merit.ship)."""

import json

from merit.ship import describe_source, int8_summary, polish_summary, refit_summary, schedule_summary, se_head_input_summary, training_log


def test_stage_times_add_up_and_gnu_time_notes_are_skipped(tmp_path):
    # A stage killed once and resumed: GNU time's note precedes the JSON line of the killed part.
    lines = [
        json.dumps({"stage": "corpus", "wall_s": 60.0, "user_s": 50.0, "system_s": 10.0, "exit": 0}),
        "Command exited with non-zero status 143",
        json.dumps({"stage": "train sparse_merit-trained", "wall_s": 120.0, "user_s": 100.0, "system_s": 20.0, "exit": 143}),
        "Command terminated by signal 9",
        json.dumps({"stage": "train sparse_merit-trained", "wall_s": 180.0, "user_s": 200.0, "system_s": 40.0, "exit": 0}),
    ]
    (tmp_path / "timings.jsonl").write_text("\n".join(lines) + "\n")
    card = "\n".join(describe_source(tmp_path))
    assert "| corpus | 1.0 | 1.0 | 1 |" in card
    assert "| train sparse_merit-trained | 5.0 | 6.0 | 2 |" in card


def test_trials_and_experiments_get_a_table_of_their_own(tmp_path):
    stages = ["train sparse_merit-trained", "polish se_only", "lofo espeak-seed2 polish", "lofo espeak-seed2 refit",
              "lofo espeak-longer train", "label efficiency real", "evaluate sparse_merit-se5 (experiment)", "ship"]
    lines = [json.dumps({"stage": s, "wall_s": 60.0, "user_s": 60.0, "system_s": 0.0, "exit": 0}) for s in stages]
    (tmp_path / "timings.jsonl").write_text("\n".join(lines) + "\n")
    card = "\n".join(describe_source(tmp_path))
    recipe, other = card.split("Other runs in the same work folder")
    for stage in ("train sparse_merit-trained", "polish se_only", "lofo espeak-seed2 polish", "lofo espeak-seed2 refit", "ship"):
        assert f"| {stage} |" in recipe and f"| {stage} |" not in other
    for stage in ("lofo espeak-longer train", "label efficiency real", "evaluate sparse_merit-se5 (experiment)"):
        assert f"| {stage} |" in other and f"| {stage} |" not in recipe


def test_a_refitted_models_card_describes_the_training_it_came_from(tmp_path):
    trained, refitted = tmp_path / "sparse_merit-trained", tmp_path / "sparse_merit"
    trained.mkdir()
    refitted.mkdir()
    epochs = [{"epoch": e, "step": "frozen" if e < 3 else "finetune", "dev_macro_f1": 0.5 + e / 100} for e in range(4)]
    rounded = {"step": "int8", "tensors": 52, "values": 1000, "best_epoch": 2, "best_dev_objective": 0.98,
               "rounded_dev_objective": 0.97, "rounded_dev_macro_f1": 0.53}
    (trained / "log.jsonl").write_text("".join(json.dumps(e) + "\n" for e in [*epochs, rounded]))
    refit = {"step": "refit", "source": str(trained / "model.pt"), "clips": 1669, "rounds": 3, "fit_rounds": "clean",
             "voiced_pitch": True, "gate": 1.0, "l2": 0.001,
             "held_out_family_macro_f1": {"gate 0.0, l2 0.001": {"speaker": 0.6}, "gate 1.0, l2 0.001": {"speaker": 0.64}}}
    (refitted / "log.jsonl").write_text(json.dumps(refit) + "\n")
    log = training_log(refitted / "model.pt")
    assert schedule_summary(log).startswith("Training: 3 epochs with the pre-trained backbone frozen, then 1 fine-tuning it")
    assert "epoch 3 of 4" in schedule_summary(log)
    assert "macro-F1 0.5200 -> 0.5300" in int8_summary(log)
    assert training_log(tmp_path / "elsewhere" / "model.pt") == []
    summary = refit_summary(refitted / "model.pt")
    assert "1,669 clips, fitted on the clean round with the voiced frames' pitch" in summary
    assert "L2 weight 0.001 (given)" in summary and "gate 1.0" in summary
    assert refit_summary(trained / "model.pt") is None


def test_a_polished_and_refitted_models_card_follows_the_chain_back_to_its_training(tmp_path):
    trained, polished, refitted = (tmp_path / name for name in ("sparse_merit-trained", "sparse_merit-polished", "sparse_merit"))
    for folder in (trained, polished, refitted):
        folder.mkdir()
    epochs = [{"epoch": e, "step": "frozen" if e < 8 else "finetune", "dev_macro_f1": 0.5} for e in range(10)]
    (trained / "log.jsonl").write_text("".join(json.dumps(e) + "\n" for e in [*epochs, {"step": "int8", "best_epoch": 8}]))
    polish = [{"epoch": -1, "step": "before polishing", "source": str(trained / "model.pt"), "dev_ssnr_gain": 1.95},
              {"epoch": 0, "step": "polish", "dev_ssnr_gain": 2.5},
              {"step": "polished", "epochs": 6, "ssnr_weight": 0.01, "randomise_noise": True, "tensors": 10, "best_epoch": 4,
               "dev_ssnr_gain": 3.34, "rounded_dev_ssnr_gain": 3.345}]
    (polished / "log.jsonl").write_text("".join(json.dumps(e) + "\n" for e in polish))
    (refitted / "log.jsonl").write_text(json.dumps({"step": "refit", "source": str(polished / "model.pt")}) + "\n")
    assert schedule_summary(training_log(refitted / "model.pt")).startswith("Training: 8 epochs")
    summary = polish_summary(refitted / "model.pt")
    assert summary == polish_summary(polished / "model.pt")
    assert "6 more epochs" in summary and "0.01 × the negative segmental SNR" in summary and "randomised" in summary
    assert "epoch 5 of 6, 1.95 → 3.35 dB" in summary
    assert polish_summary(trained / "model.pt") is None


def test_the_card_says_what_the_se_head_reads():
    from merit.config import tiny
    from merit.model import MeritModel

    def model(variant, head_input="routed"):
        config = tiny()
        config.se_head_input = head_input
        return MeritModel(config, variant=variant)

    assert "routed expert output (the paper's design)" in se_head_input_summary(model("sparse_merit"))
    assert "--se-head-input routed+layers" in se_head_input_summary(model("sparse_merit", "routed+layers"))
    assert "no experts to route" in se_head_input_summary(model("mtl"))


def test_a_named_lofo_recipe_counts_its_own_stages(tmp_path):
    stages = ["lofo espeak train", "lofo espeak-layers train", "lofo espeak-layers-seed1 polish", "lofo espeak pretrain"]
    lines = [json.dumps({"stage": s, "wall_s": 60.0, "user_s": 60.0, "system_s": 0.0, "exit": 0}) for s in stages]
    (tmp_path / "timings.jsonl").write_text("\n".join(lines) + "\n")
    card = "\n".join(describe_source(tmp_path, "layers", se_reads_layers=True))
    assert "Source run: `SE_HEAD_INPUT=routed+layers LOFO_RECIPE=layers models/training/run_all.sh " in card
    recipe, other = card.split("Other runs in the same work folder")
    for stage in ("lofo espeak-layers train", "lofo espeak-layers-seed1 polish", "lofo espeak pretrain"):
        assert f"| {stage} |" in recipe and f"| {stage} |" not in other
    assert "| lofo espeak train |" in other
