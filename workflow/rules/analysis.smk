# Trials -> the tidy table -> Welch's t-tests, box plots, learning curves, fANOVA.
# Every analysis reads the table, never the raw per-trial files.


rule collect_task:
    input:
        get_trial_results,
    output:
        trials="results/{task}/trials.tsv",
        epochs="results/{task}/epochs.tsv",
    log:
        "logs/collect/{task}.log",
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
            "results/trials.tsv",
            caption="../report/trials.rst",
            category="Trials",
        ),
    log:
        "logs/collect/study.log",
    threads: 1
    conda:
        "../../envs/lstm-odyssey.yaml"
    script:
        "../scripts/concatenate_tables.py"


rule compare_variants:
    input:
        trials="results/{task}/trials.tsv",
        epochs="results/{task}/epochs.tsv",
    output:
        welch=report(
            "results/{task}/welch.tsv",
            caption="../report/welch.rst",
            category="{task}",
            subcategory="Variant comparison",
        ),
        boxplot=report(
            "results/{task}/variant_boxplot.png",
            caption="../report/variant_boxplot.rst",
            category="{task}",
            subcategory="Variant comparison",
        ),
        learning_curves=report(
            "results/{task}/learning_curves.png",
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
        "logs/compare/{task}.log",
    threads: 1
    conda:
        "../../envs/lstm-odyssey.yaml"
    script:
        "../scripts/compare_variants.py"


rule fanova:
    input:
        trials="results/{task}/trials.tsv",
    output:
        importance=report(
            "results/{task}/fanova_importance.tsv",
            caption="../report/fanova_importance.rst",
            category="{task}",
            subcategory="Hyperparameter importance",
        ),
        marginals=report(
            "results/{task}/fanova_marginals.png",
            caption="../report/fanova_marginals.rst",
            category="{task}",
            subcategory="Hyperparameter importance",
        ),
        pies=report(
            "results/{task}/fanova_pies.png",
            caption="../report/fanova_pies.rst",
            category="{task}",
            subcategory="Hyperparameter importance",
        ),
        pairs=report(
            "results/{task}/fanova_pairs.png",
            caption="../report/fanova_pairs.rst",
            category="{task}",
            subcategory="Hyperparameter importance",
        ),
    params:
        search=get_search_config,
        baseline=config["analysis"]["baseline"],
        forest=canonical(config["analysis"]["fanova"]),
    log:
        "logs/fanova/{task}.log",
    threads: 1
    conda:
        "../../envs/lstm-odyssey.yaml"
    script:
        "../scripts/fanova.py"


# `snakemake status`: where the study stands (the table of `lstm-odyssey status`), read from the
# results tree alone. No output, so it runs whenever asked and is never part of the study's DAG.
rule status:
    localrule: True
    log:
        "logs/status.log",
    run:
        from lstm_odyssey.analysis.status import format_status, study_status
        from lstm_odyssey.io import atomic_write_text

        table = format_status(study_status(config, "results"), config)
        atomic_write_text(log[0], table + "\n")
        print(table)
