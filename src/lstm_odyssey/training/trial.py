"""One trial end to end: build the network, train with online SGD, early-stop, evaluate, record.

The paper's protocol: weights from N(0, 0.1); one sequence per update, sequences shuffled each
epoch; Nesterov momentum with the learning rate rescaled by (1 - momentum); Gaussian input noise
during training only; early stopping after `patience` epochs without a better validation metric;
the reported test metric is the one at the best validation epoch. A non-finite loss ends the
trial as `diverged` -- a result, not a crash.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import importlib.metadata
import json
import logging
import math
import os
import platform
import socket
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lstm_odyssey.config_schema import schema_default, search_dimension_names
from lstm_odyssey.data.store import read_prepared
from lstm_odyssey.io import atomic_write_json
from lstm_odyssey.models.implementations import resolve_implementation
from lstm_odyssey.models.networks import SequenceNetwork
from lstm_odyssey.tasks import TaskKind, task_kind
from lstm_odyssey.training.batching import SequenceExample, evaluation_batches, split_examples
from lstm_odyssey.training.checkpoint import load_checkpoint, save_checkpoint
from lstm_odyssey.training.conventions import LOSS_CONVENTION, RESULT_NEUTRAL_SETTINGS
from lstm_odyssey.training.early_stopping import EarlyStopping
from lstm_odyssey.training.objectives import Batch, Objective
from lstm_odyssey.training.optim import clip_gradients, make_optimizer
from lstm_odyssey.trial_record import RECORD_VERSION, record_problems

log = logging.getLogger(__name__)

KNOWN_HYPERPARAMETERS = search_dimension_names()
# The paper searched these two booleans on TIMIT only; unsearched, a trial uses these.
OPTIONAL_HYPERPARAMETER_DEFAULTS = {"nesterov": True, "gradient_clipping": False}


@dataclass(frozen=True)
class TrialSettings:
    """Everything about a trial that is not searched over (per task, from the config).

    The defaults are the config schema's (`config_schema`), the one place they are stated.
    """

    max_epochs: int
    patience: int
    bidirectional: bool = schema_default("$defs", "network", "bidirectional")
    layers: int = schema_default("$defs", "network", "layers")
    init_std: float = schema_default("$defs", "training", "init_std")
    eval_batch_size: int = schema_default("$defs", "training", "eval_batch_size")
    implementation: str = schema_default("implementation")
    device: str = schema_default("device")
    # Not configurable: recorded so results trained under another convention are never mixed.
    loss_convention: str = LOSS_CONVENTION


@dataclass(frozen=True)
class TrialAddress:
    """Where a trial sits in the study: (task, variant, index) plus the study seed."""

    task: str
    variant: str
    index: int
    study_seed: int
    seed: int


def resolve_device(requested: str) -> torch.device:
    """`auto` picks CUDA when present; an explicit `cuda` without a GPU is an error."""
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if requested.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError("device 'cuda' was requested but torch sees no CUDA device")
    return torch.device(requested)


def _git_output(*arguments: str) -> str | None:
    """stdout of a git command run in the package's checkout; None outside one."""
    try:
        result = subprocess.run(
            ["git", *arguments],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip()


def git_commit() -> str | None:
    """The project's commit, from $LSTM_ODYSSEY_GIT_COMMIT or `git rev-parse` (None if unknown)."""
    if os.environ.get("LSTM_ODYSSEY_GIT_COMMIT"):
        return os.environ["LSTM_ODYSSEY_GIT_COMMIT"]
    return _git_output("rev-parse", "HEAD") or None


def git_dirty() -> bool | None:
    """Whether the project's checkout has uncommitted changes (None if unknown)."""
    status = _git_output("status", "--porcelain", "--untracked-files=no")
    return None if status is None else bool(status)


def _version_of(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


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


def _training_batch(example: SequenceExample, inputs: torch.Tensor, kind: TaskKind) -> Batch:
    """A batch of one sequence (online SGD), inputs already noised and on the device."""
    lengths = torch.tensor([inputs.shape[0]])
    if kind.label_sequences:
        return Batch(inputs[:, None], lengths, [example.targets.to(inputs.device)])
    return Batch(inputs[:, None], lengths, example.targets.to(inputs.device)[:, None])


def trial_key(
    address: TrialAddress, hyperparameters: dict[str, Any], settings: TrialSettings, data_hash: str
) -> str:
    """What identifies a trial's result: address, hyperparameters, settings and data content."""
    identity = {k: v for k, v in asdict(settings).items() if k not in RESULT_NEUTRAL_SETTINGS}
    text = json.dumps([asdict(address), hyperparameters, identity, data_hash], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


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
) -> dict[str, Any]:
    """Train one trial and write its JSON record atomically to `result_path`.

    With `checkpoint_path`, the state after an epoch is saved there (after every epoch, or at
    most every `checkpoint_interval_s` seconds to spare shared file systems) and a run that finds
    a matching checkpoint resumes from it; the checkpoint is removed once the result is written.

    With `record_cache` (a directory), every finished record is also kept there under its
    `trial_key`, and a trial whose record is already there is restored instead of retrained: a
    result file deleted by hand or by Snakemake (e.g. when the prepared data was rebuilt with the
    same content) never costs its training again.
    """
    unknown = sorted(set(hyperparameters) - set(KNOWN_HYPERPARAMETERS))
    if unknown:
        raise ValueError(f"unknown hyperparameters {unknown}; known: {KNOWN_HYPERPARAMETERS}")
    if settings.loss_convention != LOSS_CONVENTION:
        raise ValueError(
            f"loss convention {settings.loss_convention!r} is not supported; this version "
            f"trains with {LOSS_CONVENTION!r}"
        )
    torch.set_num_threads(threads)
    started = dt.datetime.now(dt.UTC)
    device = resolve_device(settings.device)
    prepared = read_prepared(data_path)
    metadata = prepared.metadata
    kind = task_kind(metadata["task_kind"])
    if settings.bidirectional and not kind.bidirectional_allowed:
        raise ValueError(
            f"{data_path}: a bidirectional network on a {kind.name} task would see the future"
        )
    data_hash = str(metadata.get("content_hash", ""))
    key = trial_key(address, hyperparameters, settings, data_hash)
    if record_cache is not None:
        cached = _cached_record(Path(record_cache), key)
        if cached is not None:
            log.info(
                "%s restored from %s (delete that file to retrain)",
                address,
                Path(record_cache) / f"{key}.json",
            )
            atomic_write_json(result_path, cached)
            return cached
    objective = kind.objective()
    # Everything goes to the device once, not every epoch or step.
    train = [
        SequenceExample(e.inputs.to(device), e.targets.to(device))
        for e in split_examples(prepared.splits["train"], kind)
    ]
    valid_batches, test_batches = (
        [
            batch.to(device)
            for batch in evaluation_batches(
                split_examples(prepared.splits[split], kind),
                kind,
                settings.eval_batch_size,
            )
        ]
        for split in ("valid", "test")
    )

    torch.manual_seed(address.seed)
    model = SequenceNetwork(
        address.variant,
        input_size=int(metadata["input_size"]),
        hidden_size=int(hyperparameters["hidden_size"]),
        output_size=int(metadata["n_classes"]),
        bidirectional=settings.bidirectional,
        layers=settings.layers,
        init_std=settings.init_std,
        implementation=settings.implementation,
    ).to(device)
    searched = {**OPTIONAL_HYPERPARAMETER_DEFAULTS, **hyperparameters}
    optimizer = make_optimizer(
        model.parameters(),
        float(hyperparameters["learning_rate"]),
        float(hyperparameters["momentum"]),
        nesterov=bool(searched["nesterov"]),
    )
    gradient_clipping = bool(searched["gradient_clipping"])
    # The forward pass asks the same function, so the record names what really ran; asking it
    # now also builds the kernel before epoch 1, so a first build never counts as training time.
    implementation = resolve_implementation(settings.implementation, device, torch.float32)
    input_noise = float(hyperparameters["input_noise"])
    shuffler = np.random.default_rng(address.seed)
    # Noise is drawn on the CPU and moved: the same stream on every device, and a checkpoint's
    # generator state restores on a CPU or a CUDA machine alike.
    noise_generator = torch.Generator().manual_seed(address.seed)
    stopper = EarlyStopping(settings.patience)
    epochs: list[dict[str, float]] = []
    best_state: dict[str, torch.Tensor] | None = None
    status = "ok"
    first_epoch = 1

    if checkpoint_path is not None:
        state = load_checkpoint(checkpoint_path, key)
        if state is not None:
            model.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
            shuffler.bit_generator.state = state["shuffler"]
            noise_generator.set_state(state["noise_generator"])
            stopper = state["stopper"]
            epochs = state["epochs"]
            best_state = state["best_state"]
            first_epoch = len(epochs) + 1
            log.info("resuming %s from checkpoint after epoch %d", address, len(epochs))

    last_checkpoint = time.monotonic()
    for epoch in range(first_epoch, settings.max_epochs + 1):
        if stopper.should_stop:
            break
        epoch_start = time.perf_counter()
        model.train()
        loss_sum, frames = 0.0, 0
        for i in shuffler.permutation(len(train)):
            example = train[i]
            inputs = example.inputs
            if input_noise > 0.0:
                noise = torch.randn(inputs.shape, generator=noise_generator).to(device)
                inputs = inputs + input_noise * noise
            batch = _training_batch(example, inputs, kind)
            loss = objective.loss(model(batch.inputs), batch)
            if not torch.isfinite(loss):
                status = "diverged"
                break
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if gradient_clipping:
                clip_gradients(model.parameters())
            optimizer.step()
            loss_sum += loss.item()  # the sequence's summed loss
            frames += len(example.inputs)
        if status == "ok":
            valid_metric = evaluate(model, valid_batches, objective, device)
            if not math.isfinite(valid_metric):
                status = "diverged"
        if status == "diverged":
            log.warning("%s diverged in epoch %d", address, epoch)
            break
        seconds = time.perf_counter() - epoch_start
        epochs.append(
            {
                "epoch": epoch,
                # Per frame, so epochs and tasks read on one scale (the loss itself is a sum).
                "train_loss": loss_sum / max(frames, 1),
                "valid_metric": valid_metric,
                "seconds": seconds,
            }
        )
        if stopper.update(epoch, valid_metric):
            best_state = copy.deepcopy(model.state_dict())
        log.info(
            "epoch %d: train loss %.4f, valid %s %.4f (%.1f s)%s",
            epoch,
            epochs[-1]["train_loss"],
            kind.metric_name,
            valid_metric,
            seconds,
            " *" if stopper.best_valid_epoch == epoch else "",
        )
        if (
            checkpoint_path is not None
            and time.monotonic() - last_checkpoint >= checkpoint_interval_s
        ):
            last_checkpoint = time.monotonic()
            save_checkpoint(
                checkpoint_path,
                {
                    "key": key,
                    "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "shuffler": shuffler.bit_generator.state,
                    "noise_generator": noise_generator.get_state(),
                    "stopper": stopper,
                    "epochs": epochs,
                    "best_state": best_state,
                },
            )

    if status == "diverged":
        stop_reason = "diverged"
    elif stopper.should_stop:
        stop_reason = "early_stopping"
    else:
        stop_reason = "max_epochs"
    test_metric = None
    if best_state is not None:
        model.load_state_dict(best_state)
        test_metric = evaluate(model, test_batches, objective, device)
    finished = dt.datetime.now(dt.UTC)
    record = {
        "record_version": RECORD_VERSION,
        "task": address.task,
        "variant": address.variant,
        "index": address.index,
        "study_seed": address.study_seed,
        "seed": address.seed,
        "trial_key": key,
        "task_kind": kind.name,
        "metric": kind.metric_name,
        "hyperparameters": hyperparameters,
        "settings": asdict(settings),
        "parameter_count": sum(p.numel() for p in model.parameters()),
        "status": status,
        "stop_reason": stop_reason,
        "epochs": epochs,
        "best_valid_epoch": stopper.best_valid_epoch,
        "best_valid_metric": stopper.best_valid_metric if best_state is not None else None,
        "test_metric": test_metric,
        "train_seconds": sum(e["seconds"] for e in epochs),
        "provenance": {
            "host": socket.gethostname(),
            "threads": threads,
            "device": str(device),
            "implementation": implementation,
            "git_commit": git_commit(),
            "git_dirty": git_dirty(),
            "python": platform.python_version(),
            "torch": torch.__version__,
            "numpy": np.__version__,
            "configspace": _version_of("ConfigSpace"),
            "data_hash": data_hash,
            "data_source": metadata.get("source"),
            "started": started.isoformat(),
            "finished": finished.isoformat(),
        },
    }
    problems = record_problems(json.loads(json.dumps(record, default=str)))
    if problems:  # the writer broke the contract the tables read: fail here, not in collect
        raise RuntimeError(f"{address}: the trial record breaks its contract: {problems}")
    if record_cache is not None:  # first the cache: a kill in between loses nothing
        atomic_write_json(Path(record_cache) / f"{key}.json", record)
    atomic_write_json(result_path, record)
    if checkpoint_path is not None:
        Path(checkpoint_path).unlink(missing_ok=True)
    return record
