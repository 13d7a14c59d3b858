"""Snakemake script: train one pack of trials (one task, one variant) and write each record.

The pack's own log gets every line; each member's trial log (the one `train_trial` would write,
which `lstm-odyssey status` reads) gets that member's lines.
"""

import logging

from lstm_odyssey.joblog import FORMAT, job_logging
from lstm_odyssey.paths import RECORD_CACHE
from lstm_odyssey.study import trial_settings, variant_spec_of
from lstm_odyssey.training.packed import PackRequest, run_pack
from lstm_odyssey.trial_spec import TrialAddress


class MemberLines(logging.Filter):
    """Only the lines about one trial (they start with its address, e.g. `jsb/V/3 `)."""

    def __init__(self, address: TrialAddress) -> None:
        super().__init__()
        self.prefix = f"{address} "

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage().startswith(self.prefix)


task, variant = snakemake.params.task, snakemake.params.variant
requests = [
    PackRequest(
        TrialAddress(
            task=task,
            variant=variant,
            index=int(member["index"]),
            study_seed=int(snakemake.params.study_seed),
            seed=int(member["seed"]),
        ),
        dict(member["hyperparameters"]),
        result_path,
    )
    for member, result_path in zip(snakemake.params.members, snakemake.output, strict=True)
]
with job_logging(snakemake.log[0]):
    for request, member_log in zip(requests, snakemake.log[1:], strict=True):
        handler = logging.FileHandler(member_log, mode="w", encoding="utf-8")
        handler.setFormatter(logging.Formatter(FORMAT))
        handler.addFilter(MemberLines(request.address))
        logging.getLogger().addHandler(handler)
    run_pack(
        snakemake.input.data,
        requests,
        trial_settings(snakemake.config, task),
        threads=snakemake.threads,
        record_cache=RECORD_CACHE,
        variant_spec=variant_spec_of(snakemake.config, variant),
    )
