"""`python -m lstm_odyssey` / `lstm-odyssey`: run one step of the study by hand.

The commands read the same config as the workflow, so `train` runs exactly the trial the
workflow would run for that address (same hyperparameters, seed and settings).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from dataclasses import replace
from pathlib import Path

from lstm_odyssey.data.errors import CorpusError
from lstm_odyssey.paths import checkpoint_path_for, study_paths
from lstm_odyssey.study import (
    ConfigError,
    hyperparameters_of,
    load_config,
    seed_of,
    trial_settings,
    variant_spec_of,
)


def _address_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--task", required=True, help="task key in the config, e.g. jsb")
    parser.add_argument(
        "--variant",
        required=True,
        help="one of the config's variants: the paper's abbreviation (V, NP, ...), GRU, or a "
        "name the config's custom_variants defines",
    )
    parser.add_argument("--index", required=True, type=int, help="trial index (0-based)")


DEFAULT_CONFIG = "config/config.yaml"


def _config_argument(parser: argparse.ArgumentParser, default: str | None) -> None:
    """`--config` before or after the command (`status --config X`, as people type it)."""
    parser.add_argument(
        "--config",
        default=default if default is not None else argparse.SUPPRESS,
        help=f"the study config, the file Snakemake runs with --configfile (default "
        f"{DEFAULT_CONFIG})",
    )


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text}")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lstm-odyssey", description=__doc__)
    _config_argument(parser, DEFAULT_CONFIG)
    commands = parser.add_subparsers(dest="command", required=True)

    def command(name: str, help: str) -> argparse.ArgumentParser:
        subparser = commands.add_parser(name, help=help)
        _config_argument(subparser, None)
        return subparser

    show = command("hyperparameters", "print a trial's seed and hyperparameters")
    _address_arguments(show)

    command("study-directory", "print the study's results folder, results/<study_name>")

    export = command(
        "export-records", "copy the study's finished trial records to a folder (to move them)"
    )
    export.add_argument("destination", help="folder; keeps <task>/<variant>/<index>.json")
    publish = command(
        "publish",
        "copy the finished study's findings, tables, figures and records to a folder, with "
        "run.md (how it ran, read off the records)",
    )
    publish.add_argument("destination", help="folder, e.g. docs/reproduction/jsb")
    imported = command(
        "import-records",
        "put finished trial records (e.g. an export) into the record cache: the next snakemake "
        "run restores every trial they match instead of training it",
    )
    imported.add_argument("source", help="folder searched for *.json records")

    prepare = command("prepare", "prepare a task's data (HDF5)")
    prepare.add_argument("--task", required=True)
    prepare.add_argument("--out", help="default: results/<study_name>/data/<task>.h5")
    prepare.add_argument(
        "--workers", type=int, default=1, help="processes extracting features (default 1)"
    )

    status = command(
        "status",
        "done / running / stale / diverged / failed / missing trials, best metric, CPU-hours, ETA",
    )
    status.add_argument(
        "--results", help="the study's results folder (default: results/<study_name>)"
    )
    status.add_argument(
        "--jobs",
        type=_positive_int,
        help="trials run at once, for the ETA (default: this machine's cores / threads_per_trial)",
    )
    status.add_argument(
        "--stale-after",
        type=float,
        metavar="SECONDS",
        help="a trial whose checkpoint and log nobody wrote for this long is stale (default: "
        "twice the task's longest measured epoch, an hour before any is measured)",
    )
    status.add_argument(
        "--watch", action="store_true", help="redraw the table every --interval seconds"
    )
    status.add_argument(
        "--interval", type=float, default=10.0, help="seconds between redraws (default 10)"
    )
    status.add_argument(
        "--max-refreshes",
        type=_positive_int,
        metavar="N",
        help="with --watch: stop after N drawings (default: until Ctrl-C)",
    )

    train = command("train", "train one trial and write its JSON record")
    _address_arguments(train)
    train.add_argument("--data", help="prepared data; default: results/<study_name>/data/<task>.h5")
    train.add_argument(
        "--out", help="default: results/<study_name>/trials/<task>/<variant>/<index>.json"
    )
    train.add_argument("--threads", type=int, help="torch threads (default: threads_per_trial)")
    train.add_argument(
        "--implementation",
        choices=["reference", "fast", "auto"],
        help="override the config's LSTM implementation",
    )
    train.add_argument("--max-epochs", type=int, help="override the task's max_epochs")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; bad input (a corpus or prepared file) is one line naming the file."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        return _run(args)
    except CorpusError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


def _status(args: argparse.Namespace, config: dict, directory: str) -> int:
    """The status table once, or redrawn (`--watch`) until Ctrl-C or `--max-refreshes`."""
    from rich.console import Console

    from lstm_odyssey.analysis.status import (
        format_status,
        status_renderable,
        study_status,
        watch_status,
    )

    def cells() -> list:
        return study_status(config, directory, stale_after=args.stale_after)

    if not args.watch:
        print(format_status(cells(), config, args.jobs))
        return 0
    watch_status(
        lambda: status_renderable(cells(), config, args.jobs),
        Console(width=None if sys.stdout.isatty() else 120),  # a pipe or file: as `status` prints
        interval=args.interval,
        refreshes=args.max_refreshes,
    )
    return 0


def _run(args: argparse.Namespace) -> int:
    if args.command == "import-records":  # into the cache every study shares: no config needed
        return _import_records(args.source)
    try:
        config = load_config(args.config)
    except ConfigError as error:
        print(error, file=sys.stderr)
        return 2
    paths = study_paths(config)
    if args.command == "study-directory":
        print(paths.directory)
        return 0
    if args.command == "export-records":
        from lstm_odyssey.record_transfer import export_records

        print(export_records(paths.directory, args.destination).summary("exported"))
        return 0
    if args.command == "publish":
        return _publish(paths.directory, args.destination)
    if args.command == "status":
        return _status(args, config, args.results or paths.directory)
    task = args.task
    if task not in config["tasks"]:
        print(
            f"{args.config}: no task {task!r} (configured: {sorted(config['tasks'])})",
            file=sys.stderr,
        )
        return 2

    if args.command == "prepare":
        from lstm_odyssey.data import registry
        from lstm_odyssey.data.prepare import prepare_task

        data = config["tasks"][task]["data"]
        stand_in = None
        if registry.uses_stand_in(task, data):
            stand_in = Path(paths.corpus(registry.task(task).stand_in))
            if not stand_in.exists():
                registry.generate_stand_in(task, data["synthetic"], stand_in)
        out = args.out or paths.prepared_data(task)
        prepare_task(task, data, out, workers=args.workers, stand_in=stand_in)
        print(out)
        return 0

    if args.variant not in config["variants"]:
        print(
            f"{args.config}: variant {args.variant!r} is not among {config['variants']}",
            file=sys.stderr,
        )
        return 2
    hyperparameters = hyperparameters_of(config, task, args.variant, args.index)
    seed = seed_of(config, task, args.variant, args.index)
    if args.command == "hyperparameters":
        print(json.dumps({"seed": seed, "hyperparameters": hyperparameters}, indent=2))
        return 0

    from lstm_odyssey.training.trial import TrialAddress, run_trial

    settings = trial_settings(config, task)
    if args.implementation:
        settings = replace(settings, implementation=args.implementation)
    if args.max_epochs is not None:
        if args.max_epochs < 1:
            print("--max-epochs must be at least 1", file=sys.stderr)
            return 2
        settings = replace(settings, max_epochs=args.max_epochs)
    data = args.data or paths.prepared_data(task)
    if not Path(data).exists():
        print(
            f"{data}: prepared data not found; run `lstm-odyssey prepare --task {task}` "
            f"or `snakemake {data}` first",
            file=sys.stderr,
        )
        return 2
    out = args.out or paths.trial_record(task, args.variant, args.index)
    record = run_trial(
        data,
        out,
        TrialAddress(task, args.variant, args.index, int(config["study_seed"]), seed),
        hyperparameters,
        settings,
        threads=args.threads or int(config["threads_per_trial"]),
        checkpoint_path=checkpoint_path_for(out),
        variant_spec=variant_spec_of(config, args.variant),
    )
    print(
        json.dumps(
            {
                k: record[k]
                for k in (
                    "status",
                    "best_valid_epoch",
                    "best_valid_metric",
                    "test_metric",
                    "train_seconds",
                )
            },
            indent=2,
        )
    )
    print(out)
    return 0


def _publish(study_directory: str, destination: str) -> int:
    from lstm_odyssey.publication import RUN_REPORT_FILE, publish_study

    try:
        summary = publish_study(study_directory, destination)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    trials = sum(sum(counts.values()) for counts in summary.trials.values())
    print(f"{trials} trials published to {destination} (see {Path(destination) / RUN_REPORT_FILE})")
    return 0


def _import_records(source: str) -> int:
    from lstm_odyssey.record_transfer import import_records

    if not Path(source).exists():
        print(f"nothing to import: {source} does not exist")
        return 0
    report = import_records(source)
    print(report.summary("imported into the record cache"))
    return 1 if report.refused else 0


if __name__ == "__main__":
    sys.exit(main())
