"""Each task kind end to end through `run_trial`, on tiny prepared files of its own layout.

The kind object is the one place that knows a kind's targets, collation, objective, metric and
whether a bidirectional network may read it; these tests hold each kind to it.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from lstm_odyssey.data.registry import TASKS
from lstm_odyssey.data.store import PreparedData, SplitData, write_prepared
from lstm_odyssey.models.networks import SequenceNetwork
from lstm_odyssey.tasks import CTC, FRAMEWISE, NEXT_STEP, TASK_KINDS, task_kind
from lstm_odyssey.training.batching import evaluation_batches, split_examples
from lstm_odyssey.training.objectives import objective_of
from lstm_odyssey.training.trial import TrialAddress, TrialSettings, evaluate, run_trial

INPUTS, CLASSES = 3, 4
HYPERPARAMETERS = {"hidden_size": 5, "learning_rate": 1e-2, "momentum": 0.9, "input_noise": 0.1}


def _split(kind, rng: np.random.Generator, n: int) -> SplitData:
    lengths = rng.integers(6, 12, size=n)
    inputs = [rng.normal(size=(t, INPUTS)) for t in lengths]
    if kind is NEXT_STEP:
        targets = [(rng.random((t, CLASSES)) > 0.6).astype(np.float32) for t in lengths]
    elif kind is FRAMEWISE:
        targets = [rng.integers(0, CLASSES, size=t) for t in lengths]
    else:  # at most t // 3 labels: always feasible under CTC, repeats included
        targets = [rng.integers(1, CLASSES, size=max(1, t // 3)) for t in lengths]
    return SplitData.from_sequences(inputs, targets, label_sequences=kind.label_sequences)


def tiny_prepared(path, kind, seed: int = 0):
    rng = np.random.default_rng(seed)
    splits = {name: _split(kind, rng, n) for name, n in (("train", 6), ("valid", 5), ("test", 5))}
    metadata = {
        "task_kind": kind.name,
        "source": "synthetic",
        "input_size": INPUTS,
        "n_classes": CLASSES,
        "normalisation": "none",
    }
    write_prepared(path, PreparedData(splits, metadata))
    return path


@pytest.mark.parametrize("kind", [NEXT_STEP, FRAMEWISE, CTC], ids=lambda k: k.name)
def test_run_trial_trains_and_records_every_kind(tmp_path, kind):
    data = tiny_prepared(tmp_path / "data.h5", kind)
    settings = TrialSettings(
        max_epochs=3, patience=3, bidirectional=kind.bidirectional_allowed, eval_batch_size=2
    )
    address = TrialAddress(kind.name, "V", 0, 1, 7)
    record = run_trial(data, tmp_path / "trial.json", address, HYPERPARAMETERS, settings)
    assert record["status"] == "ok" and record["task_kind"] == kind.name
    assert record["metric"] == kind.metric_name
    assert len(record["epochs"]) == 3
    assert all(math.isfinite(e["train_loss"]) for e in record["epochs"])
    assert math.isfinite(record["test_metric"])
    if kind is not NEXT_STEP:  # error rates in %
        assert 0.0 <= record["test_metric"] <= 100.0 or kind is CTC  # CER may pass 100
        assert record["test_metric"] >= 0.0


@pytest.mark.parametrize("kind", [NEXT_STEP, FRAMEWISE, CTC], ids=lambda k: k.name)
def test_the_metric_does_not_depend_on_the_evaluation_batch_size(tmp_path, kind):
    """Padding never counts: batches of 1 (no padding at all) give the metric of batches of 5."""
    prepared_path = tiny_prepared(tmp_path / "data.h5", kind, seed=3)
    from lstm_odyssey.data.store import read_prepared

    examples = split_examples(read_prepared(prepared_path).splits["valid"], kind)
    torch.manual_seed(0)
    model = SequenceNetwork(
        "V", INPUTS, 4, CLASSES, bidirectional=kind.bidirectional_allowed, init_std=0.5
    )
    objective, cpu = objective_of(kind), torch.device("cpu")
    one_by_one = evaluate(model, evaluation_batches(examples, kind, 1), objective, cpu)
    together = evaluate(model, evaluation_batches(examples, kind, 5), objective, cpu)
    assert together == pytest.approx(one_by_one, rel=1e-5)


def test_frame_error_is_the_percentage_of_wrong_frames_by_a_plain_loop(tmp_path):
    """An independent count: argmax per frame of each sequence run on its own."""
    prepared_path = tiny_prepared(tmp_path / "data.h5", FRAMEWISE, seed=4)
    from lstm_odyssey.data.store import read_prepared

    split = read_prepared(prepared_path).splits["test"]
    torch.manual_seed(1)
    model = SequenceNetwork("V", INPUTS, 4, CLASSES, bidirectional=True, init_std=0.5)
    model.eval()
    wrong = frames = 0
    for i in range(split.n_sequences):
        inputs, labels = split.sequence(i)
        with torch.no_grad():
            logits = model(torch.from_numpy(inputs)[:, None])[:, 0]
        wrong += int((logits.argmax(-1).numpy() != labels).sum())
        frames += len(labels)
    examples = split_examples(split, FRAMEWISE)
    metric = evaluate(
        model,
        evaluation_batches(examples, FRAMEWISE, 3),
        objective_of(FRAMEWISE),
        torch.device("cpu"),
    )
    assert metric == pytest.approx(100.0 * wrong / frames)


def test_a_bidirectional_next_step_trial_is_refused(tmp_path):
    data = tiny_prepared(tmp_path / "data.h5", NEXT_STEP)
    with pytest.raises(ValueError, match="would see the future"):
        run_trial(
            data,
            tmp_path / "t.json",
            TrialAddress("jsb", "V", 0, 1, 7),
            HYPERPARAMETERS,
            TrialSettings(max_epochs=1, patience=1, bidirectional=True),
        )
    assert not (tmp_path / "t.json").exists()


def test_kinds_are_looked_up_by_name_and_tasks_have_one():
    assert task_kind("ctc") is CTC and set(TASK_KINDS) == {"next_step", "framewise", "ctc"}
    assert TASKS["jsb"].kind is NEXT_STEP and not NEXT_STEP.bidirectional_allowed
    with pytest.raises(ValueError, match="unknown task kind 'speech'"):
        task_kind("speech")


def test_ctc_gradients_through_the_bidirectional_network_match_finite_differences():
    """The CTC loss reaches every parameter of both directions: finite, non-zero and equal to a
    central difference on a tiny float64 case."""
    torch.manual_seed(5)
    model = SequenceNetwork("V", INPUTS, 3, CLASSES, bidirectional=True, init_std=0.5).double()
    inputs = torch.randn(7, 2, INPUTS, dtype=torch.float64)
    batch_targets = [torch.tensor([1, 2, 2]), torch.tensor([3])]
    from lstm_odyssey.training.objectives import Batch

    batch = Batch(inputs, torch.tensor([7, 5]), batch_targets)
    objective = objective_of(CTC)

    def loss() -> torch.Tensor:
        return objective.loss(model(batch.inputs, batch.lengths), batch)

    model.zero_grad()
    loss().backward()
    for name, parameter in model.named_parameters():
        gradient = parameter.grad
        assert torch.isfinite(gradient).all() and gradient.abs().sum() > 0, name
        flat = parameter.data.view(-1)
        for position in (0, flat.numel() // 2, flat.numel() - 1):
            original = flat[position].item()
            with torch.no_grad():
                flat[position] = original + 1e-6
                up = loss().item()
                flat[position] = original - 1e-6
                down = loss().item()
                flat[position] = original
            numeric = (up - down) / 2e-6
            assert gradient.view(-1)[position].item() == pytest.approx(numeric, rel=1e-5, abs=1e-8)
