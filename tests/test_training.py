"""One trial: optimiser, early stopping, objectives, divergence, reproducibility, resume."""

import json
import logging
import math
import re

import numpy as np
import pytest
import torch

from lstm_odyssey.training import trial as trial_module
from lstm_odyssey.training.early_stopping import EarlyStopping
from lstm_odyssey.training.objectives import (
    Batch,
    CtcObjective,
    FramewiseObjective,
    NextStepObjective,
    best_path_decode,
    edit_distance,
)
from lstm_odyssey.training.optim import clip_gradients, make_optimizer
from lstm_odyssey.training.trial import TrialSettings, run_trial
from tests.helpers import ADDRESS, HYPERPARAMETERS, tiny_next_step_data


def test_optimizer_is_nesterov_with_rescaled_learning_rate():
    """Against a hand-written Nesterov loop: v <- m v + g; w <- w - lr (1 - m) (g + m v)."""
    target = torch.tensor([1.0, -2.0, 0.5])
    weights = torch.zeros(3, requires_grad=True)
    optimizer = make_optimizer([weights], learning_rate=0.1, momentum=0.9)
    reference_w, velocity = np.zeros(3), np.zeros(3)
    for _ in range(5):
        loss = ((weights - target) ** 2).sum()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        gradient = 2 * (reference_w - target.numpy())
        velocity = 0.9 * velocity + gradient
        reference_w = reference_w - 0.1 * (1 - 0.9) * (gradient + 0.9 * velocity)
    assert np.allclose(weights.detach().numpy(), reference_w, atol=1e-6)


def test_optimizer_without_momentum_is_plain_sgd():
    weights = torch.ones(2, requires_grad=True)
    optimizer = make_optimizer([weights], learning_rate=0.5, momentum=0.0)
    (weights**2).sum().backward()
    optimizer.step()
    assert torch.allclose(weights, torch.zeros(2))


@pytest.mark.parametrize(("momentum", "nesterov"), [(0.0, True), (0.9, True), (0.9, False)])
def test_optimizer_steps_equal_torch_sgd_bit_for_bit(momentum, nesterov):
    """The written-out update is torch.optim.SGD's, to the last bit, over a real network."""
    torch.manual_seed(0)
    ours_model = torch.nn.LSTM(3, 5)
    torch_model = torch.nn.LSTM(3, 5)
    torch_model.load_state_dict(ours_model.state_dict())
    ours = make_optimizer(ours_model.parameters(), 0.1, momentum, nesterov=nesterov)
    reference = torch.optim.SGD(
        torch_model.parameters(),
        lr=0.1 * (1 - momentum),
        momentum=momentum,
        nesterov=nesterov and momentum > 0,
    )
    inputs = torch.randn(7, 1, 3)
    for _ in range(4):
        for model, optimizer in ((ours_model, ours), (torch_model, reference)):
            optimizer.zero_grad()
            model(inputs)[0].pow(2).sum().backward()
            optimizer.step()
    for mine, theirs in zip(ours_model.parameters(), torch_model.parameters(), strict=True):
        assert torch.equal(mine, theirs)


def test_optimizer_resumes_from_a_torch_sgd_state_dict():
    """A checkpoint written while the trainer used torch.optim.SGD resumes with the same steps."""
    torch.manual_seed(0)
    weights = torch.randn(4, requires_grad=True)
    reference = torch.optim.SGD([weights], lr=0.1 * (1 - 0.9), momentum=0.9, nesterov=True)
    (weights**2).sum().backward()
    reference.step()
    ours_weights = weights.detach().clone().requires_grad_(True)
    ours = make_optimizer([ours_weights], learning_rate=0.1, momentum=0.9)
    ours.load_state_dict(reference.state_dict())
    for optimizer, parameter in ((reference, weights), (ours, ours_weights)):
        optimizer.zero_grad()
        (parameter**2).sum().backward()
        optimizer.step()
    assert torch.equal(weights, ours_weights)
    assert set(ours.state_dict()["state"][0]) == set(reference.state_dict()["state"][0])


def test_making_the_optimizer_does_not_import_torch_dynamo():
    """torch.optim's optimisers import torch._dynamo (~1 s per training job); ours must not."""
    import subprocess
    import sys

    code = (
        "import sys, torch\n"
        "from lstm_odyssey.training.optim import make_optimizer\n"
        "weights = torch.zeros(2, requires_grad=True)\n"
        "optimizer = make_optimizer([weights], learning_rate=0.1, momentum=0.9)\n"
        "weights.sum().backward()\n"
        "optimizer.step()\n"
        "print('torch._dynamo' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


def test_early_stopping_waits_patience_epochs_after_the_best():
    stopper = EarlyStopping(patience=2)
    decisions = []
    for epoch, metric in enumerate([5.0, 4.0, 4.5, 3.9, 4.0, 4.1, 3.0], start=1):
        stopper.update(epoch, metric)
        decisions.append(stopper.should_stop)
    assert decisions == [False, False, False, False, False, True, False]
    assert stopper.best_valid_epoch == 7
    stopper = EarlyStopping(patience=3)
    for epoch in range(1, 4):
        stopper.update(epoch, math.nan)
    assert stopper.should_stop and stopper.best_valid_epoch is None


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def test_next_step_nll_per_time_step_matches_numpy():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(4, 2, 5))
    targets = (rng.random((4, 2, 5)) > 0.5).astype(float)
    lengths = np.array([4, 2])
    batch = Batch(torch.zeros(4, 2, 3), torch.tensor(lengths), torch.tensor(targets))
    numerator, denominator = NextStepObjective().metric_terms(torch.tensor(logits), batch)
    p = _sigmoid(logits)
    per_step = -(targets * np.log(p) + (1 - targets) * np.log(1 - p)).sum(axis=-1)
    mask = np.arange(4)[:, None] < lengths[None, :]
    assert denominator == 6
    assert numerator == pytest.approx(per_step[mask].sum(), rel=1e-9)
    # The training loss: summed over each sequence's steps, averaged over the 2 sequences.
    loss = NextStepObjective().loss(torch.tensor(logits), batch)
    assert float(loss) == pytest.approx(per_step[mask].sum() / 2, rel=1e-9)


def test_frame_error_counts_wrong_frames_only_within_lengths():
    logits = torch.tensor([[[2.0, 0.0], [0.0, 1.0]], [[0.0, 3.0], [5.0, 0.0]]])  # (T=2, B=2, K=2)
    targets = torch.tensor([[0, 0], [0, 1]])
    batch = Batch(torch.zeros(2, 2, 1), torch.tensor([2, 1]), targets)
    assert FramewiseObjective().metric_terms(logits, batch) == (200.0, 3.0)  # 2 of 3 frames, in %


def test_edit_distance_and_best_path_decoding():
    assert edit_distance([1, 2, 3], [1, 2, 3]) == 0
    assert edit_distance([1, 3], [1, 2, 3]) == 1
    assert edit_distance([], [4, 4]) == 2
    assert edit_distance([2, 1], [1, 2]) == 2
    best = torch.tensor([0, 1, 1, 0, 1, 2, 2, 0])
    logits = torch.nn.functional.one_hot(best, 3).float()
    assert best_path_decode(logits, 8) == [1, 1, 2]
    assert best_path_decode(logits, 3) == [1]


def test_ctc_character_error_rate():
    best = torch.tensor([[1, 0], [1, 2], [0, 2], [2, 0]])  # (T=4, B=2) best labels
    logits = torch.nn.functional.one_hot(best, 3).float() * 10
    batch = Batch(
        torch.zeros(4, 2, 1), torch.tensor([4, 3]), [torch.tensor([1, 2]), torch.tensor([2, 2])]
    )
    # sequence 0 decodes [1, 2] (0 errors); sequence 1 decodes [2] (1 deletion) -> 100 * 1 / 4
    assert CtcObjective().metric_terms(logits, batch) == (100.0, 4.0)
    assert torch.isfinite(CtcObjective().loss(logits.log_softmax(-1), batch))


def test_trial_is_reproducible_from_its_seed_and_records_everything(tmp_path):
    data = tiny_next_step_data(tmp_path / "data.h5")
    settings = TrialSettings(max_epochs=3, patience=2, implementation="reference")
    first = run_trial(data, tmp_path / "a.json", ADDRESS, HYPERPARAMETERS, settings)
    second = run_trial(data, tmp_path / "b.json", ADDRESS, HYPERPARAMETERS, settings)
    on_disk = json.loads((tmp_path / "a.json").read_text())
    assert on_disk["status"] == "ok" and on_disk["metric"] == "nll"
    assert [e["valid_metric"] for e in first["epochs"]] == [
        e["valid_metric"] for e in second["epochs"]
    ]
    assert first["test_metric"] == second["test_metric"]
    assert on_disk["best_valid_epoch"] in (1, 2, 3)
    assert on_disk["best_valid_metric"] == min(e["valid_metric"] for e in on_disk["epochs"])
    assert on_disk["parameter_count"] == 4 * 5 * (6 + 5 + 1) + 3 * 5 + 5 * 6 + 6
    for key in ("host", "threads", "device", "git_commit", "torch", "numpy", "data_hash"):
        assert key in on_disk["provenance"]
    assert on_disk["provenance"]["data_hash"]
    assert on_disk["provenance"]["implementation"] == "reference"
    assert on_disk["stop_reason"] in ("early_stopping", "max_epochs")


def test_test_metric_is_taken_at_the_best_validation_epoch(tmp_path, monkeypatch):
    data = tiny_next_step_data(tmp_path / "data.h5")
    valid_metrics = iter([3.0, 1.0, 2.0, 2.5])
    calls = []
    real_evaluate = trial_module.evaluate

    def scripted_evaluate(model, batches, objective, device):
        calls.append(model.output.weight.detach().clone())
        if len(calls) <= 4:  # the four validation passes
            real_evaluate(model, batches, objective, device)
            return next(valid_metrics)
        return real_evaluate(model, batches, objective, device)

    monkeypatch.setattr(trial_module, "evaluate", scripted_evaluate)
    record = run_trial(
        data, tmp_path / "t.json", ADDRESS, HYPERPARAMETERS, TrialSettings(max_epochs=4, patience=5)
    )
    assert record["best_valid_epoch"] == 2
    # the test pass ran on the weights the model had at epoch 2's validation
    assert torch.equal(calls[4], calls[1])


def test_a_diverging_trial_is_recorded_not_raised(tmp_path):
    data = tiny_next_step_data(tmp_path / "data.h5")
    wild = dict(HYPERPARAMETERS, learning_rate=1e38, momentum=0.0)
    record = run_trial(
        data, tmp_path / "d.json", ADDRESS, wild, TrialSettings(max_epochs=5, patience=5)
    )
    assert record["status"] == "diverged" and record["stop_reason"] == "diverged"
    assert json.loads((tmp_path / "d.json").read_text())["status"] == "diverged"


def test_an_interrupted_trial_resumes_from_its_checkpoint(tmp_path, monkeypatch):
    data = tiny_next_step_data(tmp_path / "data.h5")
    settings = TrialSettings(max_epochs=4, patience=10)
    uninterrupted = run_trial(data, tmp_path / "u.json", ADDRESS, HYPERPARAMETERS, settings)

    checkpoint = tmp_path / "r.json.ckpt"
    real_save = trial_module.save_checkpoint
    saved = []

    def save_then_die(path, state):
        real_save(path, state)
        saved.append(state["epochs"][-1]["epoch"])
        if len(saved) == 2:
            raise KeyboardInterrupt("killed after epoch 2")

    monkeypatch.setattr(trial_module, "save_checkpoint", save_then_die)
    with pytest.raises(KeyboardInterrupt):
        run_trial(
            data,
            tmp_path / "r.json",
            ADDRESS,
            HYPERPARAMETERS,
            settings,
            checkpoint_path=checkpoint,
            checkpoint_interval_s=0,
        )
    assert checkpoint.exists() and not (tmp_path / "r.json").exists()
    monkeypatch.setattr(trial_module, "save_checkpoint", real_save)
    resumed = run_trial(
        data, tmp_path / "r.json", ADDRESS, HYPERPARAMETERS, settings, checkpoint_path=checkpoint
    )
    assert [e["valid_metric"] for e in resumed["epochs"]] == [
        e["valid_metric"] for e in uninterrupted["epochs"]
    ]
    assert resumed["test_metric"] == uninterrupted["test_metric"]
    assert not checkpoint.exists()


def test_a_checkpoint_of_other_hyperparameters_is_ignored(tmp_path):
    data = tiny_next_step_data(tmp_path / "data.h5")
    settings = TrialSettings(max_epochs=2, patience=10)
    checkpoint = tmp_path / "x.ckpt"
    torch.save({"key": "something else", "epochs": [{"epoch": 1}]}, checkpoint)
    record = run_trial(
        data, tmp_path / "x.json", ADDRESS, HYPERPARAMETERS, settings, checkpoint_path=checkpoint
    )
    assert [e["epoch"] for e in record["epochs"]] == [1, 2]


def test_unknown_hyperparameter_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="unknown hyperparameters"):
        run_trial(
            tmp_path / "none.h5",
            tmp_path / "x.json",
            ADDRESS,
            dict(HYPERPARAMETERS, dropout=0.5),
            TrialSettings(max_epochs=1, patience=1),
        )


def test_checkpoints_are_throttled_to_the_interval(tmp_path, monkeypatch):
    data = tiny_next_step_data(tmp_path / "data.h5")
    saves = []
    monkeypatch.setattr(trial_module, "save_checkpoint", lambda path, state: saves.append(path))
    settings = TrialSettings(max_epochs=3, patience=10)
    checkpoint = tmp_path / "t.json.ckpt"
    run_trial(
        data,
        tmp_path / "t.json",
        ADDRESS,
        HYPERPARAMETERS,
        settings,
        checkpoint_path=checkpoint,
        checkpoint_interval_s=3600,
    )
    assert saves == []  # three sub-second epochs: none due
    run_trial(
        data,
        tmp_path / "u.json",
        ADDRESS,
        HYPERPARAMETERS,
        settings,
        checkpoint_path=checkpoint,
        checkpoint_interval_s=0,
    )
    assert len(saves) == 3


def test_by_default_a_resumable_state_is_saved_after_every_epoch(tmp_path, monkeypatch):
    """A trial killed after 14 short epochs used to have no checkpoint (60 s throttle)."""
    data = tiny_next_step_data(tmp_path / "data.h5")
    saved = []
    monkeypatch.setattr(
        trial_module, "save_checkpoint", lambda path, state: saved.append(state["epochs"][-1])
    )
    run_trial(
        data,
        tmp_path / "t.json",
        ADDRESS,
        HYPERPARAMETERS,
        TrialSettings(max_epochs=3, patience=10),
        checkpoint_path=tmp_path / "t.json.ckpt",
    )
    assert [e["epoch"] for e in saved] == [1, 2, 3]


def test_a_finished_record_is_restored_from_the_cache_without_training(tmp_path, monkeypatch):
    data = tiny_next_step_data(tmp_path / "data.h5")
    cache = tmp_path / "cache"
    settings = TrialSettings(max_epochs=2, patience=10)
    first = run_trial(
        data, tmp_path / "a.json", ADDRESS, HYPERPARAMETERS, settings, record_cache=cache
    )
    assert (cache / f"{first['trial_key']}.json").exists()

    def no_training(*arguments, **keywords):
        raise AssertionError("trained although the record was in the cache")

    monkeypatch.setattr(trial_module, "SequenceNetwork", no_training)
    # Result-neutral settings (another evaluation batch size) find the same record.
    neutral = TrialSettings(max_epochs=2, patience=10, eval_batch_size=5)
    again = run_trial(
        data, tmp_path / "b.json", ADDRESS, HYPERPARAMETERS, neutral, record_cache=cache
    )
    assert again == first
    assert json.loads((tmp_path / "b.json").read_text()) == json.loads(
        (tmp_path / "a.json").read_text()
    )


def test_other_data_or_hyperparameters_miss_the_cache(tmp_path):
    cache = tmp_path / "cache"
    settings = TrialSettings(max_epochs=1, patience=10)
    data = tiny_next_step_data(tmp_path / "data.h5")
    first = run_trial(
        data, tmp_path / "a.json", ADDRESS, HYPERPARAMETERS, settings, record_cache=cache
    )
    other_data = tiny_next_step_data(tmp_path / "other.h5", seed=1)
    second = run_trial(
        other_data, tmp_path / "b.json", ADDRESS, HYPERPARAMETERS, settings, record_cache=cache
    )
    third = run_trial(
        data,
        tmp_path / "c.json",
        ADDRESS,
        dict(HYPERPARAMETERS, hidden_size=6),
        settings,
        record_cache=cache,
    )
    assert len({first["trial_key"], second["trial_key"], third["trial_key"]}) == 3
    assert len(list(cache.glob("*.json"))) == 3


EPOCH_LINE = re.compile(
    r"^jsb/V/0 epoch (\d)/2: train loss \d+\.\d{4} nats/frame, valid nll \d+\.\d{4} nats/step "
    r"\(best \d+\.\d{4} nats/step at epoch [12]\), \d+\.\d s$"
)


def test_a_jobs_log_names_the_trial_its_epochs_metric_and_why_it_ended(tmp_path, caplog):
    data = tiny_next_step_data(tmp_path / "data.h5")
    cache = tmp_path / "cache"
    settings = TrialSettings(max_epochs=2, patience=5, implementation="reference")
    with caplog.at_level(logging.INFO, logger="lstm_odyssey"):
        record = run_trial(
            data, tmp_path / "a.json", ADDRESS, HYPERPARAMETERS, settings, record_cache=cache
        )
    start, *epochs, end = caplog.messages
    assert start == (
        "jsb/V/0 starts: gradient_clipping=False, hidden_size=5, input_noise=0.1, "
        "learning_rate=0.01, momentum=0.9, nesterov=True "
        "(at most 2 epochs, patience 5, reference on cpu)"
    )
    assert [EPOCH_LINE.match(line).group(1) for line in epochs] == ["1", "2"], epochs
    best = f"{record['best_valid_metric']:.4f} nats/step at epoch {record['best_valid_epoch']}"
    assert end == (
        f"jsb/V/0 ends: max epochs reached after 2 epochs; best valid nll {best}, "
        f"test {record['test_metric']:.4f} nats/step"
    )

    caplog.clear()
    with caplog.at_level(logging.INFO, logger="lstm_odyssey"):
        run_trial(data, tmp_path / "b.json", ADDRESS, HYPERPARAMETERS, settings, record_cache=cache)
    (restored,) = caplog.messages
    assert restored.startswith(f"jsb/V/0 ends: restored from {cache / record['trial_key']}.json")
    assert f"it had ended: max epochs reached) after 2 epochs; best valid nll {best}" in restored

    caplog.clear()
    wild = dict(HYPERPARAMETERS, learning_rate=1e38, momentum=0.0)
    with caplog.at_level(logging.INFO, logger="lstm_odyssey"):
        run_trial(data, tmp_path / "d.json", ADDRESS, wild, settings)
    assert caplog.messages[-2:] == [
        "jsb/V/0 epoch 1/2: diverged",
        "jsb/V/0 ends: diverged in epoch 1 (a non-finite loss or metric) after 0 epochs; "
        "best valid nll - at epoch -, test -",
    ]


def test_classical_momentum_against_a_hand_written_loop():
    """v <- m v + g; w <- w - lr (1 - m) v (the paper's TIMIT alternative to Nesterov)."""
    target = torch.tensor([1.0, -2.0, 0.5])
    weights = torch.zeros(3, requires_grad=True)
    optimizer = make_optimizer([weights], learning_rate=0.1, momentum=0.9, nesterov=False)
    reference_w, velocity = np.zeros(3), np.zeros(3)
    for _ in range(5):
        optimizer.zero_grad()
        ((weights - target) ** 2).sum().backward()
        optimizer.step()
        velocity = 0.9 * velocity + 2 * (reference_w - target.numpy())
        reference_w = reference_w - 0.1 * (1 - 0.9) * velocity
    assert np.allclose(weights.detach().numpy(), reference_w, atol=1e-6)


def test_gradient_clipping_clips_each_element_to_one():
    weights = torch.zeros(4, requires_grad=True)
    (weights * torch.tensor([3.0, -0.5, -7.0, 1.0])).sum().backward()
    clip_gradients([weights])
    assert weights.grad.tolist() == [1.0, -0.5, -1.0, 1.0]


@pytest.mark.parametrize("nesterov", [True, False])
def test_a_trial_with_the_timit_booleans_differs_only_where_they_act(tmp_path, nesterov):
    data = tiny_next_step_data(tmp_path / "data.h5")
    settings = TrialSettings(max_epochs=2, patience=5)
    plain = run_trial(data, tmp_path / "a.json", ADDRESS, HYPERPARAMETERS, settings)
    searched = dict(HYPERPARAMETERS, nesterov=nesterov, gradient_clipping=False)
    same = run_trial(data, tmp_path / "b.json", ADDRESS, searched, settings)
    assert (same["test_metric"] == plain["test_metric"]) == nesterov  # Nesterov is the default
    clipped = run_trial(
        data, tmp_path / "c.json", ADDRESS, dict(searched, gradient_clipping=True), settings
    )
    assert clipped["hyperparameters"]["gradient_clipping"] is True
    assert math.isfinite(clipped["test_metric"])
