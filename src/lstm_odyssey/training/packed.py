"""Many trials of one task and variant in one process: packed online SGD, exact per trial.

A pack trains K trials in lockstep over updates. Each member is the trial `run_trial` would
train: the same network, shuffler and noise generator from its seed (`trial.initial_state`),
the same sequence order, the same noise, the same optimiser arithmetic with its own learning
rate and momentum, the same epoch bookkeeping (`trial.record_epoch`), evaluation
(`trial.evaluate` on the member's own `SequenceNetwork`), test metric at the best epoch and
record (`trial.trial_record`, `trial.write_record`: same path, key, cache). What differs is how
an update is computed: the members' weights are stacked (`models.packed.PackedNetwork`) and
one forward/backward pass serves all K; results agree with solo runs to float round-off
(tests/test_packed.py).

One update of the pack: each member draws its next sequence (and noise); the sequences are
padded to the longest (masked steps change neither state nor loss); each member's summed loss
is computed; a member whose loss is not finite is marked diverged before any update and its
loss is left out of the backward pass (its slot's NaN never reaches another slot: every
product is batched per member); the others step. A member that reaches the end of its epoch
is evaluated and bookkept; one that stops (early stopping, `max_epochs`, divergence) writes its
record at once and leaves; its slot takes the next trial waiting, if any (refill). Members are
restacked when the pack changes: each member's weights and momentum go back to its own network
and optimiser (a copy, no arithmetic) and the pack is built again.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import os
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from lstm_odyssey.models.packed import PackedNetwork
from lstm_odyssey.tasks import CTC, FRAMEWISE, NEXT_STEP
from lstm_odyssey.training.batching import SequenceExample, make_batch
from lstm_odyssey.training.objectives import Batch
from lstm_odyssey.training.optim import GRADIENT_CLIP_VALUE
from lstm_odyssey.training.trial import (
    CheckpointPolicy,
    TrainingState,
    TrialData,
    _check_request,
    _hyperparameter_text,
    _searched,
    _why_it_ended,
    evaluate,
    evaluate_best_on_test,
    initial_state,
    load_trial_data,
    log_trial_end,
    record_epoch,
    resolve_device,
    restore_from_cache,
    trial_provenance,
    trial_record,
    write_record,
)
from lstm_odyssey.trial_spec import TrialAddress, TrialSettings, trial_key
from lstm_odyssey.variant_specs import CellSpec

log = logging.getLogger(__name__)

PACK_IMPLEMENTATION = "packed"
"""What a packed trial's record names as its implementation (the pack's own step)."""


@dataclass(frozen=True)
class PackRequest:
    """One trial to train in a pack, and where its record goes."""

    address: TrialAddress
    hyperparameters: dict[str, Any]
    result_path: Path | str


# --- per-member losses -----------------------------------------------------------------------


def member_losses(kind_name: str, logits: torch.Tensor, batch: Batch) -> torch.Tensor:
    """Each member's summed loss over its own valid steps, (K,): what `objective.loss` gives
    for that member's sequence alone (a batch of one), computed for all K at once."""
    mask = batch.frame_mask  # (T, K)
    if kind_name == NEXT_STEP.name:
        assert isinstance(batch.targets, torch.Tensor)
        per_key = F.binary_cross_entropy_with_logits(logits, batch.targets, reduction="none")
        return torch.where(mask, per_key.sum(dim=-1), 0.0).sum(dim=0)
    if kind_name == FRAMEWISE.name:
        assert isinstance(batch.targets, torch.Tensor)
        steps, members, classes = logits.shape
        per_frame = F.cross_entropy(
            logits.reshape(-1, classes), batch.targets.reshape(-1), reduction="none"
        ).view(steps, members)
        return torch.where(mask, per_frame, 0.0).sum(dim=0)
    if kind_name == CTC.name:
        assert isinstance(batch.targets, list)
        target_lengths = torch.tensor([len(t) for t in batch.targets])
        return F.ctc_loss(
            F.log_softmax(logits, dim=-1),
            torch.cat(batch.targets),
            batch.lengths,
            target_lengths,
            blank=0,
            reduction="none",
            zero_infinity=False,
        )
    raise ValueError(f"packed training has no loss for task kind {kind_name!r}")


# --- the optimiser, vectorised over members --------------------------------------------------


class PackedMomentumSGD:
    """`optim.MomentumSGD`'s update for K members at once, each with its own step size,
    momentum, Nesterov flag and gradient clipping, in the same arithmetic order:

    v <- m v + g;  w <- w - lr (g + m v)  (Nesterov)  or  w <- w - lr v  (classical)

    Velocities start at zero, which makes the first step v = g exactly (0 m + g = g), as
    `MomentumSGD` does by cloning g; momentum 0 gives plain SGD (v = g). `addcmul` computes
    `a + b c` as `add(alpha=)` does (tests compare bit for bit).
    """

    def __init__(
        self,
        parameters: dict[str, torch.Tensor],
        velocities: dict[str, torch.Tensor],
        step_sizes: Sequence[float],
        momenta: Sequence[float],
        nesterov: Sequence[bool],
        clipping: Sequence[bool],
    ) -> None:
        first = next(iter(parameters.values()))
        like = {"dtype": first.dtype, "device": first.device}
        self.parameters, self.velocities = parameters, velocities
        self.negative_step = torch.tensor([-s for s in step_sizes], **like)
        self.momentum = torch.tensor(list(momenta), **like)
        self.nesterov = torch.tensor(list(nesterov), device=first.device)
        self.all_nesterov, self.none_nesterov = all(nesterov), not any(nesterov)
        self.clipping = torch.tensor(list(clipping), device=first.device)
        self.any_clipping = any(clipping)

    @staticmethod
    def _per_member(values: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        return values.view(-1, *([1] * (like.dim() - 1)))

    @torch.no_grad()
    def step(self) -> None:
        for name, parameter in self.parameters.items():
            gradient = parameter.grad
            if gradient is None:
                continue
            if self.any_clipping:
                clip = self._per_member(self.clipping, gradient)
                clipped = gradient.clamp(-GRADIENT_CLIP_VALUE, GRADIENT_CLIP_VALUE)
                gradient = torch.where(clip, clipped, gradient)
            momentum = self._per_member(self.momentum, gradient)
            velocity = self.velocities[name]
            velocity.mul_(momentum).add_(gradient)
            if self.none_nesterov:
                update = velocity
            else:
                update = torch.addcmul(gradient, velocity, momentum)
                if not self.all_nesterov:
                    update = torch.where(
                        self._per_member(self.nesterov, gradient), update, velocity
                    )
            parameter.addcmul_(update, self._per_member(self.negative_step, parameter))


# --- members ---------------------------------------------------------------------------------


@dataclass
class PackMember:
    """One trial in a pack: its solo training state plus where it stands in its epoch."""

    request: PackRequest
    key: str
    state: TrainingState
    started: dt.datetime
    input_noise: float
    gradient_clipping: bool
    order: list[int] = field(default_factory=list)
    position: int = 0
    loss_sum: float = 0.0
    frames: int = 0
    epoch_start: float = 0.0
    updates: int = 0
    status: str | None = None  # "ok" or "diverged" once it has left the pack

    @property
    def address(self) -> TrialAddress:
        return self.request.address

    @property
    def epoch(self) -> int:
        return len(self.state.epochs) + 1

    def start_epoch(self, train_size: int) -> None:
        """As `train_one_epoch` begins: the epoch's order from the member's own shuffler."""
        self.order = [int(i) for i in self.state.shuffler.permutation(train_size)]
        self.position, self.loss_sum, self.frames = 0, 0.0, 0
        self.epoch_start = time.perf_counter()


def data_in_dtype(data: TrialData, dtype: torch.dtype) -> TrialData:
    """The trial data with float inputs (and next-step targets) in `dtype` (float32 as read)."""
    if dtype == torch.float32:
        return data

    def convert(tensor: torch.Tensor) -> torch.Tensor:
        return tensor.to(dtype) if tensor.is_floating_point() else tensor

    def batch(b: Batch) -> Batch:
        targets = b.targets if isinstance(b.targets, list) else convert(b.targets)
        return Batch(convert(b.inputs), b.lengths, targets)

    return replace(
        data,
        train=[SequenceExample(convert(e.inputs), convert(e.targets)) for e in data.train],
        valid_batches=[batch(b) for b in data.valid_batches],
        test_batches=[batch(b) for b in data.test_batches],
    )


def new_member(
    request: PackRequest,
    settings: TrialSettings,
    data: TrialData,
    device: torch.device,
    dtype: torch.dtype,
    key: str,
    variant_spec: CellSpec | None = None,
) -> PackMember:
    """The member's solo state (`trial.initial_state`: same seed, same network and streams)."""
    state = initial_state(
        request.address, request.hyperparameters, settings, data, device, variant_spec
    )
    state.model.to(dtype)  # in place: the optimiser keeps the same parameter objects
    searched = _searched(request.hyperparameters)
    return PackMember(
        request,
        key,
        state,
        dt.datetime.now(dt.UTC),
        float(request.hyperparameters["input_noise"]),
        bool(searched["gradient_clipping"]),
    )


MemberEnd = Callable[[PackMember], None]


class PackTrainer:
    """Steps the members in slots; refills a freed slot from the queue; calls `on_end` for
    every member that leaves (finished or diverged), at the update where it leaves."""

    def __init__(
        self,
        data: TrialData,
        settings: TrialSettings,
        device: torch.device,
        dtype: torch.dtype,
        make_member: Callable[[PackRequest], PackMember],
        on_end: MemberEnd,
    ) -> None:
        self.data, self.settings, self.device, self.dtype = data, settings, device, dtype
        self.make_member, self.on_end = make_member, on_end
        self.members: list[PackMember] = []
        self.network: PackedNetwork | None = None
        self.optimizer: PackedMomentumSGD | None = None
        self.updates = 0

    # -- building and unbuilding the pack --

    def _unstack(self) -> None:
        """Every member's weights and momentum back into its own network and optimiser."""
        if self.network is None or self.optimizer is None:
            return
        for k, member in enumerate(self.members):
            self.network.write_member(k, member.state.model)
            if member.updates == 0:
                continue
            velocities = self.network.member_tensors(k, self.optimizer.velocities)
            names = [name for name, _ in member.state.model.named_parameters()]
            member.state.optimizer.velocities = [velocities[name].clone() for name in names]

    def _stack(self) -> None:
        """The pack of the current members, from their own networks and optimisers."""
        if not self.members:
            self.network = self.optimizer = None
            return
        networks = [member.state.model for member in self.members]
        self.network = PackedNetwork(networks, self.dtype, self.device)
        velocities = {
            name: torch.zeros_like(tensor) for name, tensor in self.network.parameters.items()
        }
        for k, member in enumerate(self.members):
            optimizer = member.state.optimizer
            named = zip(member.state.model.named_parameters(), optimizer.velocities, strict=True)
            for (name, _), velocity in named:
                if velocity is not None:
                    self.network.placements[k][name][1].write(velocities[name][k], velocity)
        optimizers = [member.state.optimizer for member in self.members]
        self.optimizer = PackedMomentumSGD(
            self.network.parameters,
            velocities,
            [o.lr for o in optimizers],
            [o.momentum for o in optimizers],
            [o.nesterov for o in optimizers],
            [member.gradient_clipping for member in self.members],
        )

    def _admit(self, request: PackRequest) -> None:
        member = self.make_member(request)
        member.start_epoch(len(self.data.train))
        log.info(
            "%s starts: %s (at most %d epochs, patience %d, %s in slot %d of a pack on %s)",
            member.address,
            _hyperparameter_text(_searched(member.request.hyperparameters)),
            self.settings.max_epochs,
            self.settings.patience,
            PACK_IMPLEMENTATION,
            len(self.members) + 1,
            self.device,
        )
        self.members.append(member)

    # -- one update of every member --

    def _next_batch(self) -> Batch:
        examples = []
        for member in self.members:
            example = self.data.train[member.order[member.position]]
            inputs = example.inputs
            if member.input_noise > 0.0:  # exactly as train_one_epoch draws and adds it
                noise = torch.randn(inputs.shape, generator=member.state.noise_generator)
                inputs = inputs + member.input_noise * noise.to(self.device)
            examples.append(SequenceExample(inputs, example.targets))
        return make_batch(examples, self.data.kind)

    def _update(self) -> list[int]:
        """One online-SGD update of every member; the slots whose member diverged."""
        assert self.network is not None and self.optimizer is not None
        batch = self._next_batch()
        logits = self.network(batch.inputs, batch.lengths)
        losses = member_losses(self.data.kind.name, logits, batch)
        finite = torch.isfinite(losses)
        values = losses.detach().tolist()
        diverged = [k for k, ok in enumerate(finite.tolist()) if not ok]
        self.network.zero_grad()
        # A non-finite member is out before any update: its loss never enters the backward.
        total = losses.sum() if not diverged else losses[finite].sum()
        if len(diverged) < len(self.members):
            total.backward()
            self.network.mask_gradients()
            self.optimizer.step()
        self.updates += 1
        for k, member in enumerate(self.members):
            if k in diverged:
                continue
            member.loss_sum += values[k]
            member.frames += int(batch.lengths[k])
            member.position += 1
            member.updates += 1
        return diverged

    def _end_epoch(self, k: int, member: PackMember) -> str | None:
        """`train_until_stopped`'s end of an epoch for one member; its status if it is done."""
        assert self.network is not None
        self.network.write_member(k, member.state.model)
        valid_metric = evaluate(
            member.state.model, self.data.valid_batches, self.data.objective, self.device
        )
        if not math.isfinite(valid_metric):
            log.warning(
                "%s epoch %d/%d: diverged", member.address, member.epoch, self.settings.max_epochs
            )
            return "diverged"
        train_loss = member.loss_sum / max(member.frames, 1)
        seconds = time.perf_counter() - member.epoch_start
        epoch = member.epoch
        record_epoch(
            member.state, self.data, member.address, self.settings, epoch, train_loss,
            valid_metric, seconds,
        )  # fmt: skip
        if member.state.stopper.should_stop or epoch >= self.settings.max_epochs:
            return "ok"
        member.start_epoch(len(self.data.train))
        return None

    def train(self, requests: Sequence[PackRequest], slots: int) -> None:
        """Train every request, at most `slots` at once, refilling freed slots in order."""
        if slots < 1:
            raise ValueError(f"a pack needs at least one slot, got {slots}")
        waiting = deque(requests)
        while waiting and len(self.members) < slots:
            self._admit(waiting.popleft())
        self._stack()
        train_size = len(self.data.train)
        while self.members:
            diverged = self._update()
            leaving: dict[int, str] = {}
            for k in diverged:
                member = self.members[k]
                log.warning(
                    "%s epoch %d/%d: diverged",
                    member.address,
                    member.epoch,
                    self.settings.max_epochs,
                )
                leaving[k] = "diverged"
            for k, member in enumerate(self.members):
                if k not in leaving and member.position == train_size:
                    status = self._end_epoch(k, member)
                    if status is not None:
                        leaving[k] = status
            if not leaving:
                continue
            self._unstack()
            staying = []
            for k, member in enumerate(self.members):
                if k in leaving:
                    member.status = leaving[k]
                    self.on_end(member)
                else:
                    staying.append(member)
            self.members = staying
            while waiting and len(self.members) < slots:
                self._admit(waiting.popleft())
            self._stack()


def finish_member(
    member: PackMember,
    data: TrialData,
    settings: TrialSettings,
    device: torch.device,
    threads: int,
    record_cache: str | os.PathLike | None,
    pack_size: int,
    variant_spec: CellSpec | None = None,
) -> dict[str, Any]:
    """A member that left the pack: its test metric at the best epoch, its record written
    (`trial.write_record`: the cache, then the result path), as `run_trial` ends a trial."""
    test_metric = evaluate_best_on_test(member.state, data, device)
    provenance = trial_provenance(threads, device, PACK_IMPLEMENTATION, data, member.started)
    provenance["pack_size"] = pack_size
    assert member.status is not None
    record = trial_record(
        member.address,
        member.request.hyperparameters,
        settings,
        data,
        member.state,
        key=member.key,
        status=member.status,
        test_metric=test_metric,
        provenance=provenance,
        variant=variant_spec,
    )
    log_trial_end(member.address, record, _why_it_ended(record, settings.patience))
    write_record(
        record, member.request.result_path, record_cache, CheckpointPolicy(None, member.key)
    )
    return record


def run_pack(
    data_path: str | os.PathLike,
    requests: Sequence[PackRequest],
    settings: TrialSettings,
    threads: int = 1,
    record_cache: str | os.PathLike | None = None,
    slots: int | None = None,
    dtype: torch.dtype = torch.float32,
    variant_spec: CellSpec | None = None,
) -> list[dict[str, Any]]:
    """Train the trials of `requests` (one task, one variant) as a pack, at most `slots` at
    once (default: all), and write each one's record where `run_trial` would: the same
    record, key and cache. A trial whose record is in the cache is restored, not trained.

    Computes in float32 as a solo trial does (its data and network are float32); `dtype`
    (float64) is for the exactness tests. Packs keep no checkpoint: a killed pack retrains
    the members whose records were not yet written.
    """
    if not requests:
        return []
    variants = {request.address.variant for request in requests}
    tasks = {request.address.task for request in requests}
    if len(variants) != 1 or len(tasks) != 1:
        raise ValueError(
            f"a pack trains one task and one variant; got tasks {sorted(tasks)} and variants "
            f"{sorted(variants)}"
        )
    for request in requests:
        _check_request(request.hyperparameters, settings)
    torch.set_num_threads(threads)
    device = resolve_device(settings.device)
    data = data_in_dtype(load_trial_data(data_path, settings, device), dtype)
    records: dict[TrialAddress, dict[str, Any]] = {}
    keys: dict[TrialAddress, str] = {}
    to_train = []
    for request in requests:
        key = trial_key(request.address, request.hyperparameters, settings, data.content_hash)
        cached = restore_from_cache(record_cache, key, request.address, request.result_path)
        if cached is not None:
            records[request.address] = cached
        else:
            keys[request.address] = key
            to_train.append(request)
    pack_size = min(slots or len(to_train), len(to_train)) if to_train else 0

    def on_end(member: PackMember) -> None:
        records[member.address] = finish_member(
            member, data, settings, device, threads, record_cache, pack_size, variant_spec
        )

    trainer = PackTrainer(
        data,
        settings,
        device,
        dtype,
        lambda request: new_member(
            request, settings, data, device, dtype, keys[request.address], variant_spec
        ),
        on_end,
    )
    if to_train:
        trainer.train(to_train, pack_size)
    return [records[request.address] for request in requests]


__all__ = [
    "PACK_IMPLEMENTATION",
    "PackMember",
    "PackedMomentumSGD",
    "PackRequest",
    "PackTrainer",
    "data_in_dtype",
    "member_losses",
    "run_pack",
]
