# Packed training (`pack_size` K > 1): one job per pack of K trials of one task and variant
# trains them together in one process (lstm_odyssey.training.packed) and writes each member's
# usual record: the same paths, keys and cache as train_trial, whose params it carries per
# member. One rule per pack (a rule's outputs share its wildcards; a pack's do not), named
# train_pack_<task>_<variant>_<n>.


for _task in TASKS:
    for _variant, _number, _indices in trial_packs(_task):

        rule:
            name:
                f"train_pack_{_task}_{_variant}_{_number}"
            input:
                data=PATHS.prepared_data(_task),
            output:
                [PATHS.trial_record(_task, _variant, index) for index in _indices],
            params:
                task=_task,
                variant=_variant,
                members=pack_members(_task, _variant, _indices),
                study_seed=config["study_seed"],
                settings=trial_identity_settings(config, _task, _variant),
            log:
                PATHS.log("train", f"{_task}/{_variant}/pack-{_number}"),
                [PATHS.trial_log(_task, _variant, index) for index in _indices],
            threads: config["threads_per_trial"]
            resources:
                **PACK_RESOURCES,
            conda:
                "../../envs/lstm-odyssey.yaml"
            script:
                "../scripts/train_pack.py"
