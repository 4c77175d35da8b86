"""The model's building blocks: STFT round trip, gating, balance loss, aggregation, shapes."""

import copy

import numpy as np
import pytest
import torch

from merit.config import BackboneConfig, tiny
from merit.heads import AttentiveStatsPooling, EmotionHead, Standardiser, leave_one_out_reference
from merit.model import MeritModel, class_weights, merit_loss
from merit.moe import LayerAggregator, MixtureOfExperts, load_balance_loss, top_k_gate
from merit.metrics import segmental_snr
from merit.pitch import LOG_F0, PITCH_FEATURES, VOICED
from merit.se_polish import segmental_snr_torch
from merit.stft import ConvStft
from merit.train import speaker_references


@pytest.mark.parametrize("samples", [8000, 16000, 48003, 160003])
def test_stft_round_trip_is_exact(samples):
    stft = ConvStft(400, 160)
    x = torch.randn(2, samples)
    real, imag = stft(x)
    assert real.shape == (2, samples // 160 + 1, 201)
    assert (stft.inverse(real, imag, samples) - x).abs().max() < 1e-5


def test_stft_matches_torch_stft():
    stft = ConvStft(400, 160)
    x = torch.randn(1, 16000)
    real, imag = stft(x)
    reference = torch.stft(x, 400, 160, window=torch.hamming_window(400), center=True, pad_mode="reflect", return_complex=True)
    assert torch.allclose(real, reference.real.transpose(1, 2), atol=1e-3)
    assert torch.allclose(imag, reference.imag.transpose(1, 2), atol=1e-3)


def test_top_1_gate_keeps_the_best_probability_and_its_gradient():
    probs = torch.tensor([[[0.2, 0.5, 0.3], [0.6, 0.3, 0.1]]], requires_grad=True)
    gate, chosen = top_k_gate(probs, 1)
    assert torch.equal(chosen, torch.tensor([[[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]]))
    assert torch.allclose(gate, torch.tensor([[[0.0, 0.5, 0.0], [0.6, 0.0, 0.0]]]))
    gate.sum().backward()
    assert probs.grad is not None and probs.grad.abs().sum() > 0


def test_one_hot_gate_passes_the_chosen_expert_unscaled():
    """The released checkpoint's hard routing: the chosen expert counts fully."""
    probs = torch.tensor([[[0.2, 0.5, 0.3], [0.6, 0.3, 0.1]]])
    gate, chosen = top_k_gate(probs, 1, "one_hot")
    assert torch.equal(gate, chosen)
    assert torch.equal(chosen, torch.tensor([[[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]]))
    with pytest.raises(ValueError, match="gate must be one of"):
        MixtureOfExperts(8, 3, 4, 4, gate="soft")


def test_top_2_gate_renormalises():
    probs = torch.tensor([[[0.2, 0.5, 0.3]]])
    gate, chosen = top_k_gate(probs, 2)
    assert chosen.sum() == 2
    assert torch.allclose(gate.sum(-1), torch.ones(1, 1))


@pytest.mark.parametrize(("top_k", "gate"), [(1, "probability"), (1, "one_hot"), (2, "probability")])
def test_inference_runs_each_expert_on_its_frames_only_and_mixes_like_training(top_k, gate):
    torch.manual_seed(0)
    moe = MixtureOfExperts(8, 4, 16, 6, top_k=top_k, gate=gate)
    x = torch.randn(3, 50, 8)
    dense = moe.train()(x)
    sparse = moe.eval()(x)
    for task in MixtureOfExperts.TASKS:
        assert torch.allclose(sparse[task].features, dense[task].features, atol=1e-6)
        assert torch.equal(sparse[task].chosen, dense[task].chosen)
    # An expert no router chose runs on no frame at all (and the mixture is still right).
    calls = []
    moe.experts[3].register_forward_hook(lambda _module, inputs, _output: calls.append(inputs[0].shape[0]))
    moe.gates[0].fc.bias.data[3] = moe.gates[1].fc.bias.data[3] = -1e4
    routings = moe(x)
    assert calls == [0] and all(routings[task].chosen[..., 3].sum() == 0 for task in MixtureOfExperts.TASKS)


def test_balance_loss_is_one_when_uniform_and_grows_when_collapsed():
    uniform = torch.full((1, 4, 4), 0.25)
    chosen = torch.eye(4).unsqueeze(0)
    assert load_balance_loss(uniform, chosen).item() == pytest.approx(1.0)
    collapsed = torch.tensor([[[1.0, 0, 0, 0]] * 4])
    assert load_balance_loss(collapsed, collapsed).item() == pytest.approx(4.0)


def test_aggregation_modes():
    states = [torch.randn(2, 7, 8) for _ in range(3)]
    assert LayerAggregator(3, 8, "concat")(states).shape == (2, 7, 24)
    assert LayerAggregator(3, 8, "weighted_sum")(states).shape == (2, 7, 8)
    with pytest.raises(ValueError):
        LayerAggregator(3, 8, "mean")


def test_wavlm_large_layout_exposes_25_hidden_states_of_1024():
    config = BackboneConfig(
        conv_layers=[(512, 10, 5)] + [(512, 3, 2)] * 4 + [(512, 2, 2)] * 2,
        hidden_size=1024,
        num_layers=24,
    )
    assert config.num_hidden_states == 25
    assert config.frame_hop_samples == 320
    assert config.receptive_field_samples == 400


@pytest.mark.parametrize("variant", ["sparse_merit", "mtl", "se_only", "ser_only"])
def test_variants_train_one_step(variant):
    torch.manual_seed(0)
    model = MeritModel(tiny(), variant)
    noisy, clean = torch.randn(2, 12000) * 0.1, torch.randn(2, 12000) * 0.1
    labels = torch.tensor([0, 3])
    output = model(noisy)
    losses = merit_loss(model, output, labels, clean, class_weights([5, 3, 2, 1]))
    losses["total"].backward()
    assert torch.isfinite(losses["total"])
    if model.moe is not None:
        assert model.moe.gates[0].fc.weight.grad.abs().sum() > 0, "the SE router gets no gradient"
        assert model.moe.gates[1].fc.weight.grad.abs().sum() > 0, "the SER router gets no gradient"


def test_speaker_reference_is_the_mean_of_the_speakers_other_items():
    statistics = torch.tensor([[1.0, 0.0], [3.0, 2.0], [5.0, 4.0], [7.0, 7.0]])
    speakers = torch.tensor([0, 0, 0, 1])
    fallback = torch.tensor([-1.0, -1.0])
    reference = leave_one_out_reference(statistics, speakers, fallback)
    assert torch.equal(reference, torch.tensor([[4.0, 3.0], [3.0, 2.0], [2.0, 1.0], [-1.0, -1.0]]))


def test_evaluation_forms_references_by_the_studios_rule():
    # Two other recordings at least (src/model/reference.rs), else the population's; no speaker,
    # no others.
    statistics = torch.tensor([[1.0], [3.0], [5.0], [7.0], [9.0], [11.0], [13.0]])
    population = torch.tensor([-1.0])
    reference = speaker_references(statistics, ["ann", "ann", "ann", "bob", "bob", None, ""], population)
    assert reference.squeeze(1).tolist() == [4.0, 3.0, 2.0, -1.0, -1.0, -1.0, -1.0]


def test_a_speaker_relative_head_classifies_against_the_reference_or_the_population():
    torch.manual_seed(0)
    config = tiny()
    config.speaker_relative = True
    model = MeritModel(config).eval()
    head = model.ser_head
    noisy = torch.randn(3, 12000) * 0.1
    output = model(noisy)
    statistics = output.emotion_statistics
    assert statistics.shape == (3, 2 * config.expert_out)
    # Without a reference the population's (zeros before training) stands in.
    assert torch.allclose(output.emotion_logits, head.classifier(statistics), atol=1e-6)
    shifted = model(noisy, speaker_reference=statistics[[1, 0, 0]])
    assert torch.allclose(shifted.emotion_logits, head.classifier(statistics - statistics[[1, 0, 0]]), atol=1e-6)
    # Within a training batch, each item is relative to the other items of its speaker.
    grouped = model(noisy, speakers=torch.tensor([4, 4, 9]))
    expected = head.classify(statistics, torch.stack([statistics[1], statistics[0], head.population_reference]))
    assert torch.allclose(grouped.emotion_logits, expected, atol=1e-6)
    head.update_population_reference(statistics, momentum=1.0)
    assert torch.allclose(head.population_reference, statistics.mean(dim=0))


def test_the_voiced_pitch_is_the_mean_and_spread_of_log_f0_over_the_voiced_frames_only():
    torch.manual_seed(0)
    head = EmotionHead(2 + PITCH_FEATURES, 8, 8, 4, speaker_relative=True, pitch_features=PITCH_FEATURES, voiced_pitch=True)
    torch.nn.init.zeros_(head.pooling.attention[-1].weight)  # equal weights on every frame
    frames = torch.randn(2, 50, 2 + PITCH_FEATURES)
    voiced = (torch.rand(2, 50) < 0.6).float()
    log_f0 = (0.8 + 0.3 * torch.randn(2, 50)) * voiced  # the tracker's feature: zero where unvoiced
    frames[..., 2 + LOG_F0], frames[..., 2 + VOICED] = log_f0, voiced
    with torch.no_grad():
        statistics = head.pooling(frames)
    derived = head.voiced_pitch_statistics(statistics)
    for clip in range(2):
        on = log_f0[clip][voiced[clip] > 0]
        assert derived[clip, 0] == pytest.approx(on.mean().item(), abs=1e-4)
        assert derived[clip, 1] == pytest.approx(on.std(unbiased=False).item(), abs=1e-3)
    # Against a reference, the pitch path reads each clip's voiced pitch less the reference's.
    reference = statistics[[1, 0]]
    inputs = head.prosody_inputs(statistics, reference)
    assert inputs.shape == (2, 2 * PITCH_FEATURES + 2)
    assert torch.allclose(inputs[:, :-2], head.pitch_statistics(statistics - reference))
    assert torch.allclose(inputs[:, -2:], derived - derived[[1, 0]])
    # A head without it (every model trained before) keeps its 2 x 4 inputs; switching rebuilds the path.
    plain = EmotionHead(2 + PITCH_FEATURES, 8, 8, 4, speaker_relative=True, pitch_features=PITCH_FEATURES)
    assert plain.prosody_inputs(statistics, reference).shape == (2, 2 * PITCH_FEATURES)
    plain.use_voiced_pitch(True, 4)
    assert plain.classify(statistics, reference).shape == (2, 4)


def test_the_standardiser_learns_the_training_batches_scale_and_keeps_it_in_inference():
    standardiser = Standardiser(2, momentum=0.5)
    batch = torch.tensor([[0.01, 100.0], [0.03, 300.0]])
    for _ in range(30):
        standardiser(batch)
    standardiser.eval()
    out = standardiser(torch.tensor([[0.03, 100.0]]))
    assert torch.allclose(out, torch.tensor([[1.0, -1.0]]), atol=1e-2)
    assert torch.allclose(standardiser(batch[:1]), standardiser(batch[:1])), "inference does not move the statistics"


def test_class_weights_follow_the_paper_and_refuse_empty_classes():
    assert torch.allclose(class_weights([10, 30]), torch.tensor([2.0, 2 / 3]))
    with pytest.raises(ValueError, match="every class"):
        class_weights([3, 0, 1, 1])


def test_bootstrap_interval_brackets_the_difference_and_narrows_with_more_utterances():
    from merit.comparison import bootstrap_difference

    rng = np.random.default_rng(0)

    def records(utterances: int) -> list[dict]:
        out = []
        for u in range(utterances):
            truth = u % 4
            # ours is right 80 % of the time, the baseline 50 %; SSNR 2 dB better on average.
            for system, accuracy, ssnr in (("ours", 0.8, 3.0), ("base", 0.5, 1.0)):
                guess = truth if rng.random() < accuracy else (truth + 1) % 4
                out.append({"system": system, "utterance": f"u{u}", "family": "espeak", "condition": "unseen/-5dB", "truth": truth, "guess": guess, "ssnr": ssnr + rng.normal()})
        return out

    small, large = records(40), records(400)
    for metric in ("f1", "ssnr"):
        a = bootstrap_difference(small, "ours", "base", "unseen/-5dB", metric, rounds=500)
        b = bootstrap_difference(large, "ours", "base", "unseen/-5dB", metric, rounds=500)
        for d in (a, b):
            assert d["low"] <= d["difference"] <= d["high"]
        assert b["high"] - b["low"] < a["high"] - a["low"]
        assert b["low"] > 0


def test_model_differences_cover_both_tasks_per_family_and_skip_what_cannot_be_paired():
    from merit.comparison import model_differences

    rng = np.random.default_rng(1)
    records = []
    for u in range(60):
        family, truth = ("espeak", "real")[u % 2], u % 4
        for condition in ("clean", "seen/-5dB", "unseen/-5dB"):
            noisy = condition != "clean"
            for system, ssnr in (("new", 2.0), ("old", 1.0), ("rnnoise", 0.5)):
                guess = None if system == "rnnoise" else (truth if rng.random() < 0.7 else (truth + 1) % 4)
                records.append({"system": system, "utterance": f"u{u}", "family": family, "condition": condition,
                                "truth": truth, "guess": guess, "ssnr": ssnr + rng.normal(0, 0.3) if noisy else None})
    table = model_differences(records, "new", ["old", "rnnoise"])
    assert table["ssnr new - old @ unseen/-5dB"]["low"] > 0
    assert table["ssnr new - rnnoise @ seen/-5dB (real)"]["utterances"] == 30
    assert "f1 new - old @ clean (espeak)" in table
    # RNNoise does not classify, and clean clips have no SSNR.
    assert not any(key.startswith("f1 new - rnnoise") or "ssnr new - old @ clean" in key for key in table)
    one_family = [r for r in records if r["family"] == "real"]
    assert not any("(real)" in key for key in model_differences(one_family, "new", ["old"]))


def test_trajectory_windows_cut_at_the_end_keep_their_spread_exactly():
    # Features far from zero with little spread (a log energy, a log F0): the short windows at the
    # end of a clip, down to one frame, pool a variance that E[x^2] - E[x]^2 in float32 would round
    # to noise; the box sums must give what each window's own softmax gives.
    torch.manual_seed(0)
    pooling = AttentiveStatsPooling(6, 8)
    x = 40.0 + 0.01 * torch.randn(1, 30, 6)
    window = 10
    windowed = pooling.windowed(x, window)
    banded = copy.deepcopy(pooling).double().windowed(x.double(), window, banded=True)
    torch.testing.assert_close(windowed.double(), banded, rtol=1e-4, atol=1e-5)


def test_the_polishing_loss_is_the_evaluations_segmental_snr_with_a_gradient():
    rng = np.random.default_rng(4)
    clean = rng.standard_normal((2, 4000)) * 0.1
    clean[0, 1000:1800] = 0  # silent frames are skipped, as in the metric
    estimate = clean + rng.standard_normal((2, 4000)) * np.array([[0.3], [0.01]])  # frames clipped at -10 and below 35 dB
    expected = [segmental_snr(c, e) for c, e in zip(clean, estimate)]
    guess = torch.tensor(estimate, requires_grad=True)
    scores = segmental_snr_torch(torch.tensor(clean), guess)
    assert scores.tolist() == pytest.approx(expected, abs=1e-9)
    scores.sum().backward()
    assert guess.grad[1].abs().sum() > 0


def test_a_held_out_family_is_scored_against_the_other_families_mean_of_its_gender():
    from merit.refit import against_gender

    config = tiny()
    config.speaker_relative, config.pitch_features = True, True
    head = MeritModel(config, variant="sparse_merit").ser_head.eval()
    generator = torch.Generator().manual_seed(0)
    width = head.population_reference.shape[-1]
    # Two rounds (as training_statistics gives them: each round's speaker rows, then its population rows).
    per_round = [torch.randn(5, width, generator=generator) for _ in range(2)]
    rounds = [{"reference": reference, "statistics": statistics} for statistics in per_round for reference in ("speaker", "population")]
    genders = ["female", "male", "female", None, "male"]
    held = np.array([True, True, False, False, False])  # the male reference comes from clip 4 alone
    pitch, classifier, scored = against_gender(head, rounds, genders, held)
    assert scored.tolist() == [True, True, False, False, False]
    female = torch.stack([rounds[0]["statistics"][2], rounds[2]["statistics"][2]]).mean(dim=0)
    male = torch.stack([rounds[0]["statistics"][4], rounds[2]["statistics"][4]]).mean(dim=0)
    against = torch.stack([female, male])
    with torch.no_grad():
        for index, statistics in enumerate(r["statistics"][:2] for r in rounds if r["reference"] == "speaker"):
            torch.testing.assert_close(pitch[2 * index : 2 * index + 2], head.prosody_inputs(statistics, against))
            torch.testing.assert_close(classifier[2 * index : 2 * index + 2], head.classifier(statistics - against))
