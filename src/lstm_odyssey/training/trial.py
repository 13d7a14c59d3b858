"""One trial end to end: build the network, train with online SGD, early-stop, evaluate, record.

The paper's protocol: weights from N(0, 0.1); one sequence per update, sequences shuffled each
epoch; Nesterov momentum with the learning rate rescaled by (1 - momentum); Gaussian input noise
during training only; early stopping after `patience` epochs without a better validation metric;
the reported test metric is the one at the best validation epoch. A non-finite loss ends the
trial as `diverged` -- a result, not a crash.

A job's log reads as the trial goes (`jsb/NFG/3` is the trial's address):

    jsb/NFG/3 starts: hidden_size=38, ... (at most 150 epochs, patience 15, fast on cpu)
    jsb/NFG/3 epoch 4/150: train loss 9.1021 nats/frame, valid nll 8.7712 nats/step
        (best 8.7712 nats/step at epoch 4), 12.3 s
    jsb/NFG/3 ends: early stop (no better validation nll for 15 epochs) after 40 epochs; ...

and a trial restored from the record cache says so in its end line (`ends: restored from ...`).
`lstm-odyssey status` reads the `epoch k/max: train loss` and `ends:` parts of these lines
(`analysis.status`; tests/test_status.py runs a trial to check it still can).
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import logging
import math
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lstm_odyssey.config_schema import search_dimension_names
from lstm_odyssey.conventions import LOSS_CONVENTION
from lstm_odyssey.data.store import read_prepared
from lstm_odyssey.io import atomic_write_json
from lstm_odyssey.models.implementations import kernel_isa_of, resolve_implementation
from lstm_odyssey.models.networks import SequenceNetwork
from lstm_odyssey.provenance import runtime_provenance
from lstm_odyssey.tasks import TaskKind, metric_unit, task_kind
from lstm_odyssey.training.batching import (
    SequenceExample,
    evaluation_batches,
    make_batch,
    split_examples,
)
from lstm_odyssey.training.checkpoint import load_checkpoint, save_checkpoint
from lstm_odyssey.training.early_stopping import EarlyStopping
from lstm_odyssey.training.objectives import Batch, Objective, objective_of
from lstm_odyssey.training.optim import MomentumSGD, clip_gradients, make_optimizer
from lstm_odyssey.trial_record import RECORD_VERSION, record_problems
from lstm_odyssey.trial_spec import TrialAddress, TrialSettings, trial_key, variant_identity
from lstm_odyssey.variant_specs import CellSpec, cell_spec

__all__ = ["TrialAddress", "TrialSettings", "evaluate", "resolve_device", "run_trial", "trial_key"]

log = logging.getLogger(__name__)

KNOWN_HYPERPARAMETERS = search_dimension_names()
# The paper searched these two booleans on TIMIT only; unsearched, a trial uses these.
OPTIONAL_HYPERPARAMETER_DEFAULTS = {"nesterov": True, "gradient_clipping": False}


def resolve_device(requested: str) -> torch.device:
    """`auto` picks CUDA when present; an explicit `cuda` without a GPU is an error."""
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if requested.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError("device 'cuda' was requested but torch sees no CUDA device")
    return torch.device(requested)


def evaluate(
    model: torch.nn.Module, batches: list[Batch], objective: Objective, device: torch.device
) -> float:
    """The split's metric: summed numerators over summed denominators."""
    model.eval()
    numerator, denominator = 0.0, 0.0
    with torch.no_grad():
        for batch in batches:
            batch = batch.to(device)
            logits = model(batch.inputs, batch.lengths)
            part, count = objective.metric_terms(logits, batch)
            numerator += part
            denominator += count
    return numerator / denominator if denominator else math.nan


def _cached_record(record_cache: Path, key: str) -> dict[str, Any] | None:
    """The finished record of the trial `key` from the cache, if one is there and readable."""
    path = record_cache / f"{key}.json"
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    if record_problems(record) or record.get("trial_key") != key:
        return None  # another contract version, or another trial's record under this name
    return record


@dataclass
class TrialData:
    """A prepared file read for one trial: its kind and splits, on the trial's device once."""

    kind: TaskKind
    objective: Objective
    metadata: dict[str, Any]
    train: list[SequenceExample]
    valid_batches: list[Batch]
    test_batches: list[Batch]

    @property
    def content_hash(self) -> str:
        return str(self.metadata.get("content_hash", ""))


def load_trial_data(
    data_path: str | os.PathLike, settings: TrialSettings, device: torch.device
) -> TrialData:
    """Read and check the prepared data; everything goes to the device once, not every step."""
    prepared = read_prepared(data_path)
    kind = task_kind(prepared.metadata["task_kind"])
    if settings.bidirectional and not kind.bidirectional_allowed:
        raise ValueError(
            f"{data_path}: a bidirectional network on a {kind.name} task would see the future"
        )
    train = [
        SequenceExample(e.inputs.to(device), e.targets.to(device))
        for e in split_examples(prepared.splits["train"], kind)
    ]
    valid_batches, test_batches = (
        [
            batch.to(device)
            for batch in evaluation_batches(
                split_examples(prepared.splits[split], kind), kind, settings.eval_batch_size
            )
        ]
        for split in ("valid", "test")
    )
    return TrialData(
        kind, objective_of(kind), prepared.metadata, train, valid_batches, test_batches
    )


@dataclass
class TrainingState:
    """Everything that changes from epoch to epoch: what a checkpoint saves and restores."""

    model: torch.nn.Module
    optimizer: MomentumSGD
    shuffler: np.random.Generator
    # Noise is drawn on the CPU and moved: the same stream on every device, and a checkpoint's
    # generator state restores on a CPU or a CUDA machine alike.
    noise_generator: torch.Generator
    stopper: EarlyStopping
    epochs: list[dict[str, float]]
    best_state: dict[str, torch.Tensor] | None = None

    def checkpoint(self, key: str) -> dict[str, Any]:
        return {
            "key": key,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "shuffler": self.shuffler.bit_generator.state,
            "noise_generator": self.noise_generator.get_state(),
            "stopper": self.stopper,
            "epochs": self.epochs,
            "best_state": self.best_state,
        }

    def restore(self, checkpoint: dict[str, Any]) -> None:
        self.model.load_state_dict(checkpoint["model"])
        self.optimizer.load_state_dict(checkpoint["optimizer"])
        self.shuffler.bit_generator.state = checkpoint["shuffler"]
        self.noise_generator.set_state(checkpoint["noise_generator"])
        self.stopper = checkpoint["stopper"]
        self.epochs = checkpoint["epochs"]
        self.best_state = checkpoint["best_state"]


def initial_state(
    address: TrialAddress,
    hyperparameters: dict[str, Any],
    settings: TrialSettings,
    data: TrialData,
    device: torch.device,
    variant: CellSpec | None = None,
) -> TrainingState:
    """The network drawn from the trial's seed, its optimiser and the trial's random streams.
    `variant`: what the address's variant name stands for (default: the built-in of that name)."""
    torch.manual_seed(address.seed)
    model = SequenceNetwork(
        variant if variant is not None else address.variant,
        input_size=int(data.metadata["input_size"]),
        hidden_size=int(hyperparameters["hidden_size"]),
        output_size=int(data.metadata["n_classes"]),
        bidirectional=settings.bidirectional,
        layers=settings.layers,
        init_std=settings.init_std,
        implementation=settings.implementation,
    ).to(device)
    optimizer = make_optimizer(
        model.parameters(),
        float(hyperparameters["learning_rate"]),
        float(hyperparameters["momentum"]),
        nesterov=bool(_searched(hyperparameters)["nesterov"]),
    )
    return TrainingState(
        model,
        optimizer,
        np.random.default_rng(address.seed),
        torch.Generator().manual_seed(address.seed),
        EarlyStopping(settings.patience),
        [],
    )


def _searched(hyperparameters: dict[str, Any]) -> dict[str, Any]:
    return {**OPTIONAL_HYPERPARAMETER_DEFAULTS, **hyperparameters}


def train_one_epoch(
    state: TrainingState,
    data: TrialData,
    hyperparameters: dict[str, Any],
    device: torch.device,
) -> tuple[bool, float]:
    """Online SGD over the shuffled training sequences: (finished without divergence, loss
    per frame). The loss of a sequence is its summed loss; the returned mean is per frame, so
    epochs and tasks read on one scale."""
    input_noise = float(hyperparameters["input_noise"])
    gradient_clipping = bool(_searched(hyperparameters)["gradient_clipping"])
    state.model.train()
    loss_sum, frames = 0.0, 0
    for i in state.shuffler.permutation(len(data.train)):
        example = data.train[i]
        inputs = example.inputs
        if input_noise > 0.0:
            noise = torch.randn(inputs.shape, generator=state.noise_generator).to(device)
            inputs = inputs + input_noise * noise
        batch = make_batch([SequenceExample(inputs, example.targets)], data.kind)
        loss = data.objective.loss(state.model(batch.inputs), batch)
        if not torch.isfinite(loss):
            return False, math.nan
        state.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if gradient_clipping:
            clip_gradients(state.model.parameters())
        state.optimizer.step()
        loss_sum += loss.item()
        frames += len(example.inputs)
    return True, loss_sum / max(frames, 1)


def trial_record(
    address: TrialAddress,
    hyperparameters: dict[str, Any],
    settings: TrialSettings,
    data: TrialData,
    state: TrainingState,
    *,
    key: str,
    status: str,
    test_metric: float | None,
    provenance: dict[str, Any],
    variant: CellSpec | None = None,
) -> dict[str, Any]:
    """The trial's JSON record (the contract in `trial_record`), checked before it is written.

    A variant other than the paper's nine also records what it is (`variant_spec`: its cell and
    switches); a paper variant's record is what it always was."""
    if status == "diverged":
        stop_reason = "diverged"
    elif state.stopper.should_stop:
        stop_reason = "early_stopping"
    else:
        stop_reason = "max_epochs"
    record = {
        "record_version": RECORD_VERSION,
        "task": address.task,
        "variant": address.variant,
        "index": address.index,
        "study_seed": address.study_seed,
        "seed": address.seed,
        "trial_key": key,
        "task_kind": data.kind.name,
        "metric": data.kind.metric_name,
        "hyperparameters": hyperparameters,
        "settings": asdict(settings),
        "parameter_count": sum(p.numel() for p in state.model.parameters()),
        "status": status,
        "stop_reason": stop_reason,
        "epochs": state.epochs,
        "best_valid_epoch": state.stopper.best_valid_epoch,
        "best_valid_metric": (
            state.stopper.best_valid_metric if state.best_state is not None else None
        ),
        "test_metric": test_metric,
        "train_seconds": sum(e["seconds"] for e in state.epochs),
        "provenance": provenance,
    }
    record.update(variant_identity(variant if variant is not None else cell_spec(address.variant)))
    problems = record_problems(json.loads(json.dumps(record, default=str)))
    if problems:  # the writer broke the contract the tables read: fail here, not in collect
        raise RuntimeError(f"{address}: the trial record breaks its contract: {problems}")
    return record


@dataclass(frozen=True)
class CheckpointPolicy:
    """Where a running trial saves its state, and how often (at most every `interval_s`)."""

    path: Path | None
    key: str
    interval_s: float = 0.0


def _check_request(hyperparameters: dict[str, Any], settings: TrialSettings) -> None:
    unknown = sorted(set(hyperparameters) - set(KNOWN_HYPERPARAMETERS))
    if unknown:
        raise ValueError(f"unknown hyperparameters {unknown}; known: {KNOWN_HYPERPARAMETERS}")
    if settings.loss_convention != LOSS_CONVENTION:
        raise ValueError(
            f"loss convention {settings.loss_convention!r} is not supported; this version "
            f"trains with {LOSS_CONVENTION!r}"
        )


def _hyperparameter_text(hyperparameters: dict[str, Any]) -> str:
    """`hidden_size=38, input_noise=0.1203, ...`: every value, floats to four digits."""
    return ", ".join(
        f"{name}={value:.4g}" if isinstance(value, float) else f"{name}={value}"
        for name, value in sorted(hyperparameters.items())
    )


def _metric_text(value: float | None, unit: str) -> str:
    """A metric value with its unit, e.g. `8.7712 nats/step`, `31.20 %`; `-` for none."""
    if value is None or not math.isfinite(value):
        return "-"
    return f"{value:.4f} {unit}".rstrip()


def _why_it_ended(record: dict[str, Any], patience: int | None) -> str:
    """The stop reason of a record as a person reads it."""
    reason = record["stop_reason"]
    if reason == "early_stopping":
        waited = f" for {patience} epochs" if patience is not None else ""
        return f"early stop (no better validation {record['metric']}{waited})"
    if reason == "max_epochs":
        return "max epochs reached"
    return f"diverged in epoch {len(record['epochs']) + 1} (a non-finite loss or metric)"


def log_trial_end(address: TrialAddress, record: dict[str, Any], why: str) -> None:
    """The trial's last log line: why it ended, its epochs, best validation and test metric."""
    unit = metric_unit(record["metric"])
    log.info(
        "%s ends: %s after %d epochs; best valid %s %s at epoch %s, test %s",
        address,
        why,
        len(record["epochs"]),
        record["metric"],
        _metric_text(record["best_valid_metric"], unit),
        record["best_valid_epoch"] if record["best_valid_epoch"] is not None else "-",
        _metric_text(record["test_metric"], unit),
    )


def restore_from_cache(
    record_cache: str | os.PathLike | None,
    key: str,
    address: TrialAddress,
    result_path: str | os.PathLike,
) -> dict[str, Any] | None:
    """The trial's finished record from the cache, written to `result_path`; None if absent."""
    if record_cache is None:
        return None
    cached = _cached_record(Path(record_cache), key)
    if cached is not None:
        atomic_write_json(result_path, cached)
        log_trial_end(
            address,
            cached,
            f"restored from {Path(record_cache) / f'{key}.json'} (delete that file to retrain; "
            f"it had ended: {_why_it_ended(cached, None)})",
        )
    return cached


def resume_from_checkpoint(
    state: TrainingState, checkpoint: CheckpointPolicy, address: TrialAddress
) -> None:
    """Continue where a killed run of the same trial (same key) saved its state, if it did."""
    if checkpoint.path is None:
        return
    saved = load_checkpoint(checkpoint.path, checkpoint.key)
    if saved is not None:
        state.restore(saved)
        log.info("resuming %s from checkpoint after epoch %d", address, len(state.epochs))


def record_epoch(
    state: TrainingState,
    data: TrialData,
    address: TrialAddress,
    settings: TrialSettings,
    epoch: int,
    train_loss: float,
    valid_metric: float,
    seconds: float,
) -> None:
    """A finished epoch's bookkeeping: its row, early stopping (the best weights kept), its log
    line. Shared by the solo loop below and the packed trainer (`training.packed`)."""
    state.epochs.append(
        {
            "epoch": epoch,
            "train_loss": train_loss,
            "valid_metric": valid_metric,
            "seconds": seconds,
        }
    )
    if state.stopper.update(epoch, valid_metric):
        state.best_state = copy.deepcopy(state.model.state_dict())
    log.info(
        "%s epoch %d/%d: train loss %.4f nats/frame, valid %s %s (best %s at epoch %d), %.1f s",
        address,
        epoch,
        settings.max_epochs,
        train_loss,
        data.kind.metric_name,
        _metric_text(valid_metric, data.kind.metric_unit),
        _metric_text(state.stopper.best_valid_metric, data.kind.metric_unit),
        state.stopper.best_valid_epoch,
        seconds,
    )


def train_until_stopped(
    state: TrainingState,
    data: TrialData,
    address: TrialAddress,
    hyperparameters: dict[str, Any],
    settings: TrialSettings,
    device: torch.device,
    checkpoint: CheckpointPolicy,
) -> str:
    """Epochs of online SGD until early stopping, `max_epochs` or divergence: the status."""
    last_checkpoint = time.monotonic()
    for epoch in range(len(state.epochs) + 1, settings.max_epochs + 1):
        if state.stopper.should_stop:
            break
        epoch_start = time.perf_counter()
        finite, train_loss = train_one_epoch(state, data, hyperparameters, device)
        valid_metric = (
            evaluate(state.model, data.valid_batches, data.objective, device) if finite else None
        )
        if valid_metric is None or not math.isfinite(valid_metric):
            log.warning("%s epoch %d/%d: diverged", address, epoch, settings.max_epochs)
            return "diverged"
        seconds = time.perf_counter() - epoch_start
        record_epoch(state, data, address, settings, epoch, train_loss, valid_metric, seconds)
        if (
            checkpoint.path is not None
            and time.monotonic() - last_checkpoint >= checkpoint.interval_s
        ):
            last_checkpoint = time.monotonic()
            save_checkpoint(checkpoint.path, state.checkpoint(checkpoint.key))
    return "ok"


def evaluate_best_on_test(
    state: TrainingState, data: TrialData, device: torch.device
) -> float | None:
    """The test metric of the weights of the best validation epoch (None if there is none)."""
    if state.best_state is None:
        return None
    state.model.load_state_dict(state.best_state)
    return evaluate(state.model, data.test_batches, data.objective, device)


def trial_provenance(
    threads: int,
    device: torch.device,
    implementation: str,
    data: TrialData,
    started: dt.datetime,
    variant: CellSpec | None = None,
) -> dict[str, Any]:
    """Where, on what and with which code path the trial ran."""
    return {
        **runtime_provenance(),
        "threads": threads,
        "device": str(device),
        "implementation": implementation,
        "kernel_isa": kernel_isa_of(implementation, variant, device),
        "data_hash": data.content_hash,
        "data_source": data.metadata.get("source"),
        "started": started.isoformat(),
        "finished": dt.datetime.now(dt.UTC).isoformat(),
    }


def write_record(
    record: dict[str, Any],
    result_path: str | os.PathLike,
    record_cache: str | os.PathLike | None,
    checkpoint: CheckpointPolicy,
) -> None:
    """The record into the cache, then into place; the checkpoint goes once both are written."""
    if record_cache is not None:  # first the cache: a kill in between loses nothing
        atomic_write_json(Path(record_cache) / f"{record['trial_key']}.json", record)
    atomic_write_json(result_path, record)
    if checkpoint.path is not None:
        Path(checkpoint.path).unlink(missing_ok=True)


def run_trial(
    data_path: str | os.PathLike,
    result_path: str | os.PathLike,
    address: TrialAddress,
    hyperparameters: dict[str, Any],
    settings: TrialSettings,
    threads: int = 1,
    checkpoint_path: str | os.PathLike | None = None,
    checkpoint_interval_s: float = 0.0,
    record_cache: str | os.PathLike | None = None,
    variant_spec: CellSpec | None = None,
) -> dict[str, Any]:
    """Train one trial and write its JSON record atomically to `result_path`.

    `variant_spec` is what the address's variant name stands for: a study's own variant's
    switches (`study.variant_spec_of`); left out, the built-in cell of that name (the paper's
    nine, GRU). Its switches join the trial's key unless it is one of the paper's nine.

    With `checkpoint_path`, the state after an epoch is saved there (after every epoch, or at
    most every `checkpoint_interval_s` seconds to spare shared file systems) and a run that finds
    a matching checkpoint resumes from it; the checkpoint is removed once the result is written.

    With `record_cache` (a directory), every finished record is also kept there under its
    `trial_key`, and a trial whose record is already there is restored instead of retrained: a
    result file deleted by hand or by Snakemake (e.g. when the prepared data was rebuilt with the
    same content) never costs its training again.
    """
    _check_request(hyperparameters, settings)
    variant = variant_spec if variant_spec is not None else cell_spec(address.variant)
    if variant.name != address.variant:
        raise ValueError(f"{address}: the variant spec is named {variant.name!r}")
    torch.set_num_threads(threads)
    started = dt.datetime.now(dt.UTC)
    device = resolve_device(settings.device)
    data = load_trial_data(data_path, settings, device)
    key = trial_key(address, hyperparameters, settings, data.content_hash, variant)
    cached = restore_from_cache(record_cache, key, address, result_path)
    if cached is not None:
        return cached

    state = initial_state(address, hyperparameters, settings, data, device, variant)
    # The forward pass asks the same function, so the record names what really ran; asking it
    # now also builds the kernel before epoch 1, so a first build never counts as training time.
    implementation = resolve_implementation(settings.implementation, device, torch.float32, variant)
    checkpoint = CheckpointPolicy(
        None if checkpoint_path is None else Path(checkpoint_path), key, checkpoint_interval_s
    )
    log.info(
        "%s starts: %s (at most %d epochs, patience %d, %s on %s)",
        address,
        _hyperparameter_text(_searched(hyperparameters)),
        settings.max_epochs,
        settings.patience,
        implementation,
        device,
    )
    resume_from_checkpoint(state, checkpoint, address)
    status = train_until_stopped(
        state, data, address, hyperparameters, settings, device, checkpoint
    )
    test_metric = evaluate_best_on_test(state, data, device)
    record = trial_record(
        address,
        hyperparameters,
        settings,
        data,
        state,
        key=key,
        status=status,
        test_metric=test_metric,
        provenance=trial_provenance(threads, device, implementation, data, started, variant),
        variant=variant,
    )
    log_trial_end(address, record, _why_it_ended(record, settings.patience))
    write_record(record, result_path, record_cache, checkpoint)
    return record
