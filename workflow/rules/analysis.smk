# Trials -> the tidy table -> Welch's t-tests, box plots, learning curves, fANOVA, the paper's
# findings beside the study's.
# Every analysis reads the table, never the raw per-trial files.


rule collect_task:
    input:
        trials=get_trial_results,
        # Only its number of outputs is read: it sets the task's trivial ceiling, beyond which a
        # trial counts as exploded (lstm_odyssey.analysis.table).
        data=PATHS.prepared_data(),
    output:
        trials=PATHS.task_output("trials"),
        epochs=PATHS.task_output("epochs"),
    log:
        PATHS.log("collect", "{task}"),
    threads: 1
    conda:
        "../../envs/lstm-odyssey.yaml"
    script:
        "../scripts/collect_trials.py"


rule collect_study:
    input:
        get_all_task_tables,
    output:
        report(
            PATHS.study_table,
            caption="../report/trials.rst",
            category="Trials",
        ),
    log:
        PATHS.log("collect", "study"),
    threads: 1
    conda:
        "../../envs/lstm-odyssey.yaml"
    script:
        "../scripts/concatenate_tables.py"


rule compare_variants:
    input:
        trials=PATHS.task_output("trials"),
        epochs=PATHS.task_output("epochs"),
    output:
        welch=report(
            PATHS.task_output("welch"),
            caption="../report/welch.rst",
            category="{task}",
            subcategory="Variant comparison",
        ),
        boxplot=report(
            PATHS.task_output("boxplot"),
            caption="../report/variant_boxplot.rst",
            category="{task}",
            subcategory="Variant comparison",
        ),
        learning_curves=report(
            PATHS.task_output("learning_curves"),
            caption="../report/learning_curves.rst",
            category="{task}",
            subcategory="Variant comparison",
        ),
    params:
        baseline=config["analysis"]["baseline"],
        fraction=config["analysis"]["best_fraction"],
        minimum=config["analysis"]["minimum_best"],
        alpha=config["analysis"]["alpha"],
    log:
        PATHS.log("compare", "{task}"),
    threads: 1
    conda:
        "../../envs/lstm-odyssey.yaml"
    script:
        "../scripts/compare_variants.py"


rule fanova:
    input:
        trials=PATHS.task_output("trials"),
    output:
        importance=report(
            PATHS.task_output("fanova_importance"),
            caption="../report/fanova_importance.rst",
            category="{task}",
            subcategory="Hyperparameter importance",
        ),
        marginals=report(
            PATHS.task_output("fanova_marginals"),
            caption="../report/fanova_marginals.rst",
            category="{task}",
            subcategory="Hyperparameter importance",
        ),
        pies=report(
            PATHS.task_output("fanova_pies"),
            caption="../report/fanova_pies.rst",
            category="{task}",
            subcategory="Hyperparameter importance",
        ),
        pairs=report(
            PATHS.task_output("fanova_pairs"),
            caption="../report/fanova_pairs.rst",
            category="{task}",
            subcategory="Hyperparameter importance",
        ),
    params:
        search=get_search_config,
        baseline=config["analysis"]["baseline"],
        forest=canonical(config["analysis"]["fanova"]),
    log:
        PATHS.log("fanova", "{task}"),
    threads: 1
    conda:
        "../../envs/lstm-odyssey.yaml"
    script:
        "../scripts/fanova.py"


rule findings:
    input:
        trials=PATHS.task_output("trials"),
    output:
        findings=report(
            PATHS.task_output("findings"),
            caption="../report/findings.rst",
            category="{task}",
            subcategory="The paper's findings",
        ),
    params:
        search=get_search_config,
        analysis=canonical(config["analysis"]),
    log:
        PATHS.log("findings", "{task}"),
    threads: 1
    conda:
        "../../envs/lstm-odyssey.yaml"
    script:
        "../scripts/findings.py"


# `snakemake status --cores 1`: where the study stands (the table of `lstm-odyssey status`), read
# from the results tree and the job logs. No output, so it runs whenever asked and is never part
# of the study's DAG. (Snakemake asks for --cores with any target; `lstm-odyssey status` doesn't.)
rule status:
    localrule: True
    log:
        PATHS.log("status", "status"),
    run:
        from lstm_odyssey.analysis.status import format_status, study_status
        from lstm_odyssey.io import atomic_write_text

        table = format_status(study_status(config, PATHS.directory), config)
        atomic_write_text(log[0], f"{table}\n")
        print(table)


# `snakemake interim --cores 1`: results before the end. The tables, Welch's tests, fANOVA, their
# figures and a report from the trials finished so far, into results/<study>/interim/, each
# marked `interim: n of N trials` (lstm_odyssey.plots.interim). No input and no output: it reads
# the records there are, so it is never a parent of a training job and never touches the final
# outputs, and it runs whenever asked, also beside a running `snakemake` in the same folder.
rule interim:
    localrule: True
    log:
        PATHS.log("interim", "interim"),
    threads: 1
    conda:
        "../../envs/lstm-odyssey.yaml"
    script:
        "../scripts/interim.py"
