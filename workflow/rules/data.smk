# Corpus -> prepared HDF5 (features + targets per split), one file per task.


rule prepare_data:
    input:
        get_local_corpus,
    output:
        "results/data/{task}.h5",
    params:
        data=get_data_params,
    log:
        "logs/prepare_data/{task}.log",
    threads: 1
    resources:
        mem_mb=2000,
    conda:
        "../../envs/lstm-odyssey.yaml"
    script:
        "../scripts/prepare_data.py"
