"""Vanilla LSTM on the Boulanger-Lewandowski JSB split, with torch's `nn.LSTM` as the anchor.

Both networks are trained the same way, epoch by epoch and interleaved, with the library's
objective (the loss summed over a chorale's steps), optimiser (Nesterov momentum, learning rate
rescaled by 1 - momentum), online SGD over shuffled chorales, and evaluation. Only the recurrent
layer differs: our vanilla variant (peepholes, forget gate) or `nn.LSTM` (no peepholes). Every
epoch prints validation and test NLL per time step and seconds for both, and the summary gives
each model's test NLL at its best validation epoch, which is the paper's protocol.

Fixed hyperparameters (documented, not searched): H = 100, learning rate 1e-2, momentum 0.9, no
input noise, weights from N(0, 0.1), 60 epochs. The music-modelling literature reports a test
NLL of about 8.5 for models of this size on this split.

    python benchmarks/jsb_reference.py ../shared/data/jsb-chorales-quarter.json
    python benchmarks/jsb_reference.py FILE --epochs 20 --hidden 50
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from lstm_odyssey.conventions import LOSS_CONVENTION
from lstm_odyssey.data.jsb.chorales import prepare_jsb
from lstm_odyssey.data.store import read_prepared
from lstm_odyssey.models import fast_lstm
from lstm_odyssey.models.networks import SequenceNetwork
from lstm_odyssey.provenance import cpu_model
from lstm_odyssey.tasks import NEXT_STEP
from lstm_odyssey.training.batching import evaluation_batches, split_examples
from lstm_odyssey.training.objectives import Batch, NextStepObjective
from lstm_odyssey.training.optim import make_optimizer
from lstm_odyssey.training.trial import evaluate

KIND = NEXT_STEP


class AnchorNetwork(nn.Module):
    """torch's fused `nn.LSTM` plus the same linear read-out, initialised like ours."""

    def __init__(self, inputs: int, hidden: int, outputs: int, init_std: float) -> None:
        super().__init__()
        self.lstm = nn.LSTM(inputs, hidden)
        self.output = nn.Linear(hidden, outputs)
        for parameter in self.parameters():
            nn.init.normal_(parameter, mean=0.0, std=init_std)

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        # Unidirectional: padding after a sequence's end cannot reach its valid frames.
        return self.output(self.lstm(x)[0])


@dataclass
class Run:
    """One model's training state and its per-epoch curve."""

    name: str
    model: nn.Module
    optimizer: torch.optim.Optimizer
    shuffler: np.random.Generator
    curve: list[tuple[float, float, float]] = field(default_factory=list)  # valid, test, s

    def best(self) -> tuple[int, float, float]:
        """(epoch, valid, test) at the best validation epoch (the paper's protocol)."""
        epoch = min(range(len(self.curve)), key=lambda e: self.curve[e][0])
        return epoch + 1, self.curve[epoch][0], self.curve[epoch][1]


def train_epoch(run: Run, train: list, objective: NextStepObjective) -> None:
    """Online SGD over the shuffled training chorales, one update per chorale."""
    run.model.train()
    for i in run.shuffler.permutation(len(train)):
        example = train[i]
        batch = Batch(
            example.inputs[:, None], torch.tensor([len(example.inputs)]), example.targets[:, None]
        )
        loss = objective.loss(run.model(batch.inputs), batch)
        run.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        run.optimizer.step()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", help="Boulanger-Lewandowski JSB file (JSON or pickle)")
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--hidden", type=int, default=100)
    parser.add_argument("--learning-rate", type=float, default=1e-2)
    parser.add_argument("--momentum", type=float, default=0.9)
    parser.add_argument("--init-std", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--implementation", default="auto", choices=["auto", "fast", "reference"])
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    with tempfile.TemporaryDirectory() as scratch:
        prepared_path = Path(scratch) / "jsb.h5"
        prepare_jsb("boulanger", prepared_path, path=args.corpus)
        prepared = read_prepared(prepared_path)
    train = split_examples(prepared.splits["train"], KIND)
    valid, test = (
        evaluation_batches(split_examples(prepared.splits[s], KIND), KIND, 32)
        for s in ("valid", "test")
    )
    inputs, outputs = int(prepared.metadata["input_size"]), int(prepared.metadata["n_classes"])
    objective = NextStepObjective()

    if args.implementation != "reference":
        fast_lstm.fast_available()  # build the kernel now, so a first build is never timed
    torch.manual_seed(args.seed)
    ours = SequenceNetwork(
        "V",
        inputs,
        args.hidden,
        outputs,
        init_std=args.init_std,
        implementation=args.implementation,
    )
    torch.manual_seed(args.seed)
    anchor = AnchorNetwork(inputs, args.hidden, outputs, args.init_std)
    runs = [
        Run(
            name,
            model,
            make_optimizer(model.parameters(), args.learning_rate, args.momentum),
            np.random.default_rng(args.seed),
        )
        for name, model in (("vanilla (ours)", ours), ("nn.LSTM", anchor))
    ]

    print(
        f"CPU: {cpu_model()}; torch {torch.__version__} CPU capability "
        f"{torch.backends.cpu.get_cpu_capability()}; our layer: {args.implementation}"
    )
    print(
        f"JSB {args.corpus}: {len(train)}/{prepared.splits['valid'].n_sequences}/"
        f"{prepared.splits['test'].n_sequences} chorales; H={args.hidden}, "
        f"lr={args.learning_rate}, momentum={args.momentum}, noise 0, init N(0, {args.init_std}),"
        f" loss {LOSS_CONVENTION}"
    )
    print(
        f"{'epoch':>5} | {'ours valid':>10} {'test':>7} {'s':>6} | {'nn.LSTM valid':>13} "
        f"{'test':>7} {'s':>6}"
    )
    for epoch in range(1, args.epochs + 1):
        for run in runs:
            start = time.perf_counter()
            train_epoch(run, train, objective)
            seconds = time.perf_counter() - start
            run.curve.append(
                (
                    evaluate(run.model, valid, objective, torch.device("cpu")),
                    evaluate(run.model, test, objective, torch.device("cpu")),
                    seconds,
                )
            )
        (ov, ot, os_), (av, at, as_) = (run.curve[-1] for run in runs)
        print(
            f"{epoch:>5} | {ov:>10.3f} {ot:>7.3f} {os_:>6.2f} | {av:>13.3f} {at:>7.3f} {as_:>6.2f}",
            flush=True,
        )

    print()
    for run in runs:
        epoch, valid_nll, test_nll = run.best()
        seconds = float(np.median([c[2] for c in run.curve]))
        print(
            f"{run.name:>15}: best validation epoch {epoch}, valid NLL {valid_nll:.3f}, "
            f"test NLL {test_nll:.3f}, median {seconds:.2f} s/epoch"
        )
    (_, _, ours_test), (_, _, anchor_test) = (run.best() for run in runs)
    ratio = np.median([c[2] for c in runs[0].curve]) / np.median([c[2] for c in runs[1].curve])
    print(
        f"test NLL ours - nn.LSTM: {ours_test - anchor_test:+.3f}; "
        f"seconds per epoch ours / nn.LSTM: {ratio:.2f}x"
    )
    return 0 if math.isfinite(ours_test) else 1


if __name__ == "__main__":
    sys.exit(main())
