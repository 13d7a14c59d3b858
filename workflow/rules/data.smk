# Corpus -> prepared HDF5 (features + targets per split), one file per task. Tasks without their
# licensed corpus use a stand-in generated in the real corpus's layout and formats.


rule synthesize_corpus:
    output:
        directory(PATHS.corpus()),
    params:
        options=get_synthetic_options,
    log:
        PATHS.log("synthesize_corpus", "{corpus}"),
    threads: 1
    conda:
        "../../envs/lstm-odyssey.yaml"
    script:
        "../scripts/synthesize_corpus.py"


rule prepare_data:
    input:
        get_corpus_input,
    output:
        PATHS.prepared_data(),
    params:
        data=get_data_params,
        corpus_fingerprint=get_corpus_fingerprint,
        stand_in=get_stand_in,
        recipe=get_preparation_recipe,
    log:
        PATHS.log("prepare_data", "{task}"),
    threads: 2
    conda:
        "../../envs/lstm-odyssey.yaml"
    script:
        "../scripts/prepare_data.py"
