# lstm-odyssey: "LSTM: A Search Space Odyssey" (Greff et al., 2017) as a Snakemake workflow.
# Read the whole pipeline from here: data -> one training job per trial -> tables -> analysis.
from snakemake.utils import min_version

min_version("9.0")


# A config given with --configfile is the whole study: nothing of the default is merged in
# (`--config key=value` overrides either). Jobs re-run with the same --configfile, so they agree.
if not workflow.config_settings.configfiles:

    configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
# One training job per trial, or (pack_size > 1) one per pack of trials (docs/packed-trials.md).
if PACK_SIZE == 1:

    include: "workflow/rules/train.smk"

else:

    include: "workflow/rules/pack.smk"

include: "workflow/rules/analysis.smk"


rule all:
    input:
        study_outputs(),
    default_target: True
