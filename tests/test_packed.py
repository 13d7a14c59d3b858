"""Packed training (`training.packed`): every member trains exactly as its solo run would.

A pack of trials is trained and each member is trained alone (`trial.train_until_stopped`,
the code `run_trial` runs); every epoch's metrics and the final weights must agree to float
round-off. The members differ in hidden size and sequence order (so lengths differ at every
update); one diverges, one early-stops, and with fewer slots than trials a freed slot is
refilled.
"""

from __future__ import annotations

import copy
import json
import math
from dataclasses import replace

import numpy as np
import pytest
import torch
from helpers import run_snakemake, small_jsb_study, tiny_next_step_data, write_study_config

from lstm_odyssey.data.store import PreparedData, SplitData, write_prepared
from lstm_odyssey.models.networks import SequenceNetwork
from lstm_odyssey.models.packed import PackedNetwork
from lstm_odyssey.training.optim import make_optimizer
from lstm_odyssey.training.packed import (
    PackedMomentumSGD,
    PackRequest,
    PackTrainer,
    data_in_dtype,
    member_losses,
    new_member,
    run_pack,
)
from lstm_odyssey.training.trial import (
    CheckpointPolicy,
    evaluate_best_on_test,
    initial_state,
    load_trial_data,
    run_trial,
    train_until_stopped,
)
from lstm_odyssey.trial_record import record_problems
from lstm_odyssey.trial_spec import TrialAddress, TrialSettings

CPU = torch.device("cpu")


def framewise_data(path, seed=0):
    """A tiny TIMIT-like task: 4 inputs, 3 classes, sequences of 3 to 9 frames."""
    rng = np.random.default_rng(seed)

    def split(n):
        lengths = rng.integers(3, 10, size=n)
        inputs = [rng.normal(size=(t, 4)).astype(np.float32) for t in lengths]
        return SplitData.from_sequences(inputs, [rng.integers(0, 3, size=t) for t in lengths])

    metadata = {"task_kind": "framewise", "source": "synthetic", "input_size": 4, "n_classes": 3}
    write_prepared(path, PreparedData({"train": split(5), "valid": split(3), "test": split(3)},
                                      {**metadata, "normalisation": "none"}))  # fmt: skip
    return path


def ctc_data(path, seed=0):
    """A tiny IAM-OnDB-like task: 3 inputs, blank + 3 labels, 2-3 labels per sequence."""
    rng = np.random.default_rng(seed)

    def split(n):
        lengths = rng.integers(6, 11, size=n)
        inputs = [rng.normal(size=(t, 3)).astype(np.float32) for t in lengths]
        labels = [rng.integers(1, 4, size=int(rng.integers(2, 4))) for _ in lengths]
        return SplitData.from_sequences(inputs, labels, label_sequences=True)

    metadata = {"task_kind": "ctc", "source": "synthetic", "input_size": 3, "n_classes": 4}
    write_prepared(path, PreparedData({"train": split(5), "valid": split(3), "test": split(3)},
                                      {**metadata, "normalisation": "none"}))  # fmt: skip
    return path


def hyperparameters(hidden_size, learning_rate=1e-2, momentum=0.9, noise=0.1, **extra):
    return {
        "hidden_size": hidden_size,
        "learning_rate": learning_rate,
        "momentum": momentum,
        "input_noise": noise,
        **extra,
    }


def address(index, task="jsb", variant="V"):
    return TrialAddress(task, variant, index, 1, 1000 + 17 * index)


def train_solo(data_path, request, settings, dtype):
    """What run_trial does, in `dtype`: state, status, final weights, test metric."""
    data = data_in_dtype(load_trial_data(data_path, settings, CPU), dtype)
    state = initial_state(request.address, request.hyperparameters, settings, data, CPU)
    state.model.to(dtype)
    status = train_until_stopped(
        state,
        data,
        request.address,
        request.hyperparameters,
        settings,
        CPU,
        CheckpointPolicy(None, "solo"),
    )
    weights = copy.deepcopy(state.model.state_dict())
    return state, status, weights, evaluate_best_on_test(state, data, CPU)


def train_packed(data_path, requests, settings, dtype, slots):
    """The pack: each member's state, status, final weights and test metric, by address."""
    data = data_in_dtype(load_trial_data(data_path, settings, CPU), dtype)
    ended = {}

    def on_end(member):
        weights = copy.deepcopy(member.state.model.state_dict())
        test = evaluate_best_on_test(member.state, data, CPU)
        ended[member.address] = (member.state, member.status, weights, test)

    trainer = PackTrainer(
        data,
        settings,
        CPU,
        dtype,
        lambda r: new_member(r, settings, data, CPU, dtype, "key"),
        on_end,
    )
    trainer.train(requests, slots)
    return ended


def biggest_difference(a, b):
    """Max |a - b| over two equally structured dicts/lists of numbers and tensors."""
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        return max([biggest_difference(a[k], b[k]) for k in a] or [0.0])
    if isinstance(a, torch.Tensor):
        return float((a - b).abs().max())
    if a is None or b is None:
        assert a is None and b is None
        return 0.0
    return abs(a - b)


def compare(solo, packed, tolerance):
    """Same status, same epochs (metrics within tolerance), same final weights."""
    solo_state, solo_status, solo_weights, solo_test = solo
    state, status, weights, test = packed
    assert status == solo_status
    assert len(state.epochs) == len(solo_state.epochs)
    assert state.stopper.best_valid_epoch == solo_state.stopper.best_valid_epoch
    worst = 0.0
    for mine, theirs in zip(state.epochs, solo_state.epochs, strict=True):
        assert mine["epoch"] == theirs["epoch"]
        for name in ("train_loss", "valid_metric"):
            worst = max(worst, abs(mine[name] - theirs[name]) / max(1.0, abs(theirs[name])))
    if status == "ok":
        worst = max(worst, biggest_difference(weights, solo_weights))
        worst = max(worst, abs(test - solo_test) / max(1.0, abs(solo_test)))
    assert worst <= tolerance, worst
    return worst


JSB_MEMBERS = [
    hyperparameters(5, 1e-2, 0.9, 0.1),
    hyperparameters(3, 3e-3, 0.0, 0.0),  # plain SGD, no noise
    hyperparameters(8, 2e-2, 0.5, 0.2, nesterov=False, gradient_clipping=True),
    hyperparameters(4, 5e-2, 0.95, 0.05),
]


@pytest.mark.parametrize(("dtype", "tolerance"), [(torch.float64, 1e-12), (torch.float32, 1e-5)])
def test_a_pack_trains_every_member_as_its_solo_run(tmp_path, dtype, tolerance):
    data_path = tiny_next_step_data(tmp_path / "jsb.h5")
    settings = TrialSettings(max_epochs=6, patience=2, implementation="reference")
    requests = [
        PackRequest(address(k), hp, tmp_path / f"{k}.json") for k, hp in enumerate(JSB_MEMBERS)
    ]
    packed = train_packed(data_path, requests, settings, dtype, slots=len(requests))
    for request in requests:
        solo = train_solo(data_path, request, settings, dtype)
        compare(solo, packed[request.address], tolerance)


def test_a_diverging_member_leaves_without_touching_the_others(tmp_path):
    data_path = tiny_next_step_data(tmp_path / "jsb.h5")
    settings = TrialSettings(max_epochs=4, patience=4, implementation="reference")
    members = [JSB_MEMBERS[0], hyperparameters(6, 1e308, 0.9, 0.1), JSB_MEMBERS[1]]
    requests = [PackRequest(address(k), hp, tmp_path / f"{k}.json") for k, hp in enumerate(members)]
    packed = train_packed(data_path, requests, settings, torch.float64, slots=3)
    assert packed[requests[1].address][1] == "diverged"
    for request in requests:
        compare(train_solo(data_path, request, settings, torch.float64), packed[request.address],
                1e-12)  # fmt: skip


def test_a_freed_slot_takes_the_next_trial(tmp_path):
    """Two slots, five trials (one early stop, one divergence): refills start mid-epoch of
    the others, and every member still trains as alone."""
    data_path = tiny_next_step_data(tmp_path / "jsb.h5")
    settings = TrialSettings(max_epochs=5, patience=1, implementation="reference")
    members = [
        hyperparameters(4, 0.3, 0.9, 0.3),  # noisy and fast: stops early
        hyperparameters(6, 1e308, 0.9, 0.1),  # diverges
        *JSB_MEMBERS[:3],
    ]
    requests = [PackRequest(address(k), hp, tmp_path / f"{k}.json") for k, hp in enumerate(members)]
    packed = train_packed(data_path, requests, settings, torch.float64, slots=2)
    assert len(packed) == len(requests)
    reasons = set()
    for request in requests:
        state, status, _, _ = packed[request.address]
        reasons.add(
            "diverged" if status == "diverged" else
            "early" if state.stopper.should_stop else "max"
        )  # fmt: skip
        compare(train_solo(data_path, request, settings, torch.float64), packed[request.address],
                1e-12)  # fmt: skip
    assert reasons == {"diverged", "early", "max"}


@pytest.mark.parametrize("variant", ["V", "NIG", "NFG", "NOG", "NIAF", "NOAF", "NP", "CIFG", "FGR"])
def test_every_variant_packs_exactly(tmp_path, variant):
    data_path = tiny_next_step_data(tmp_path / "jsb.h5")
    settings = TrialSettings(max_epochs=2, patience=2, implementation="reference")
    requests = [
        PackRequest(address(k, variant=variant), hp, tmp_path / f"{k}.json")
        for k, hp in enumerate(JSB_MEMBERS[:3])
    ]
    packed = train_packed(data_path, requests, settings, torch.float64, slots=3)
    for request in requests:
        compare(train_solo(data_path, request, settings, torch.float64), packed[request.address],
                1e-12)  # fmt: skip


@pytest.mark.parametrize("task", ["timit", "iam_ondb"])
def test_bidirectional_framewise_and_ctc_packs_are_exact(tmp_path, task):
    make = framewise_data if task == "timit" else ctc_data
    data_path = make(tmp_path / f"{task}.h5")
    settings = TrialSettings(
        max_epochs=3, patience=3, bidirectional=True, layers=2, implementation="reference"
    )
    requests = [
        PackRequest(address(k, task=task), hp, tmp_path / f"{k}.json")
        for k, hp in enumerate(JSB_MEMBERS[:3])
    ]
    packed = train_packed(data_path, requests, settings, torch.float64, slots=3)
    for request in requests:
        compare(train_solo(data_path, request, settings, torch.float64), packed[request.address],
                1e-12)  # fmt: skip


def test_the_pack_agrees_with_the_fused_kernel_in_float32(tmp_path):
    """The default solo run (the fused kernel, float32) and the pack differ by round-off."""
    data_path = tiny_next_step_data(tmp_path / "jsb.h5")
    settings = TrialSettings(max_epochs=4, patience=4, implementation="fast")
    requests = [
        PackRequest(address(k), hp, tmp_path / f"{k}.json") for k, hp in enumerate(JSB_MEMBERS)
    ]
    packed = train_packed(data_path, requests, settings, torch.float32, slots=4)
    for request in requests:
        compare(train_solo(data_path, request, settings, torch.float32), packed[request.address],
                1e-5)  # fmt: skip


def test_member_losses_are_each_members_summed_loss(tmp_path):
    """The pack's per-member loss is `objective.loss` of that member's sequence alone."""
    for make, task in ((tiny_next_step_data, "jsb"), (framewise_data, "timit"), (ctc_data, "ctc")):
        settings = TrialSettings(max_epochs=1, patience=1)
        data = load_trial_data(make(tmp_path / f"{task}.h5"), settings, CPU)
        from lstm_odyssey.training.batching import make_batch

        examples = data.train[:4]
        batch = make_batch(examples, data.kind)
        torch.manual_seed(0)
        logits = torch.randn(*batch.inputs.shape[:2], int(data.metadata["n_classes"]))
        losses = member_losses(data.kind.name, logits, batch)
        for k, example in enumerate(examples):
            alone = make_batch([example], data.kind)
            expected = data.objective.loss(logits[: len(example.inputs), k : k + 1], alone)
            assert float(losses[k]) == pytest.approx(float(expected), rel=1e-6)


def test_the_packed_update_is_momentum_sgd_bit_for_bit():
    """Same arithmetic order as MomentumSGD: Nesterov, classical and plain SGD, clipping off."""
    torch.manual_seed(0)
    settings = [(1e-2, 0.9, True), (3e-3, 0.5, False), (2e-2, 0.0, True)]
    solo = [torch.nn.Parameter(torch.randn(6, 4, dtype=torch.float64)) for _ in settings]
    optimizers = [
        make_optimizer([p], lr, m, nesterov=n) for p, (lr, m, n) in zip(solo, settings, strict=True)
    ]
    stacked = torch.stack([p.detach().clone() for p in solo]).requires_grad_()
    packed = PackedMomentumSGD(
        {"w": stacked},
        {"w": torch.zeros_like(stacked)},
        [o.lr for o in optimizers],
        [o.momentum for o in optimizers],
        [o.nesterov for o in optimizers],
        [False] * 3,
    )
    for _ in range(4):
        gradients = torch.randn(3, 6, 4, dtype=torch.float64)
        for p, o, g in zip(solo, optimizers, gradients, strict=True):
            p.grad = g.clone()
            o.step()
        stacked.grad = gradients.clone()
        packed.step()
        assert torch.equal(stacked.detach(), torch.stack([p.detach() for p in solo]))


def test_padded_units_stay_zero_and_members_unstack_exactly():
    networks = [SequenceNetwork("FGR", 3, h, 2, bidirectional=True, layers=2) for h in (2, 5)]
    pack = PackedNetwork(networks, torch.float64, CPU)
    copies = [copy.deepcopy(n) for n in networks]
    for k, network in enumerate(copies):
        pack.write_member(k, network)
        for (name, a), b in zip(network.named_parameters(), networks[k].parameters(), strict=True):
            assert torch.equal(a, b), name
    x = torch.randn(7, 2, 3, dtype=torch.float64)
    lengths = torch.tensor([7, 4])
    pack(x, lengths).sum().backward()
    pack.mask_gradients()
    for name, mask in pack.gradient_masks.items():
        assert not pack.parameters[name].grad[~mask].any(), name
        assert not pack.parameters[name].detach()[~mask].any(), name


def test_a_pack_refuses_another_kind_of_network():
    class Other(SequenceNetwork):
        pass

    networks = [SequenceNetwork("V", 3, 2, 2), SequenceNetwork("NP", 3, 2, 2)]
    with pytest.raises(ValueError, match="share variant"):
        PackedNetwork(networks, torch.float32, CPU)


def test_run_pack_writes_the_records_run_trial_writes(tmp_path):
    """Same addresses, keys and contract; the cache restores a packed record for a solo run."""
    data_path = tiny_next_step_data(tmp_path / "jsb.h5")
    settings = TrialSettings(max_epochs=2, patience=2, implementation="reference")
    cache = tmp_path / "cache"
    requests = [
        PackRequest(address(k), hp, tmp_path / "pack" / f"{k}.json")
        for k, hp in enumerate(JSB_MEMBERS[:3])
    ]
    records = run_pack(data_path, requests, settings, record_cache=cache)
    for request, record in zip(requests, records, strict=True):
        assert record_problems(record) == []
        assert json.loads(request.result_path.read_text()) == json.loads(json.dumps(record))
        assert record["provenance"]["implementation"] == "packed"
        solo = run_trial(
            data_path,
            tmp_path / "solo" / f"{request.address.index}.json",
            request.address,
            request.hyperparameters,
            replace(settings, implementation="fast"),  # result-neutral: the same key
            record_cache=cache,
        )
        assert solo == json.loads(json.dumps(record))  # restored from the cache, not retrained
        assert solo["trial_key"] == record["trial_key"]
    assert all(math.isfinite(r["test_metric"]) for r in records)


def test_a_packed_study_runs_end_to_end(tmp_path):
    corpus = tmp_path / "corpus.json"
    from helpers import boulanger_corpus

    corpus.write_text(json.dumps(boulanger_corpus()))
    config = {**small_jsb_study(corpus, trials=3), "pack_size": 2}
    write_study_config(tmp_path, config)
    result = run_snakemake(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    records = sorted((tmp_path / "results").rglob("trials/jsb/*/*.json"))
    assert len(records) == 6
    for path in records:
        record = json.loads(path.read_text())
        assert record_problems(record) == []
        assert record["provenance"]["implementation"] == "packed"
        # each member's own trial log, as `lstm-odyssey status` reads it
        trial_log = next((tmp_path / "logs").rglob(f"train/jsb/{record['variant']}/"
                                                   f"{record['index']}.log"))  # fmt: skip
        assert "epoch 2/2: train loss" in trial_log.read_text()
        assert " ends: " in trial_log.read_text()
