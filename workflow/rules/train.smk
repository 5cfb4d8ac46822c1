# Training: one job per (variant, seed), or per (variant, fold, seed) with data.split.folds.
# The job's params hold its own resolved variant only. Library: biomedclf.train.
# Variants with pretrained weights first get them into the weights cache (rule weights).


rule train:
    input:
        # test: the saved model's test probabilities (scores.csv) are written once training
        # has ended; nothing from the test split feeds back into training
        **cache_inputs(),
        # the record of the variant's pretrained weights (rule weights, below), if it has any
        pretrained=pretrained_input,
    output:
        **run_train_files(fold=FOLD),
    log:
        LOGS
        / "train"
        / "{variant}"
        / ("fold{fold}_seed{seed}.log" if FOLDS else "seed{seed}.log"),
    # every defined variant and sweep point; a sweep's chosen point ({sweep}.selected) is
    # copied or trained by sweep_selected (sweeps.smk)
    wildcard_constraints:
        variant=variant_pattern(config["variants"]),
    conda:
        ENV
    threads: RES["train_threads"]
    resources:
        mem_mb=RES["train_mem_mb"],
        runtime=RES["train_runtime"],
        gpu=train_resources_gpu,
    params:
        spec=variant_spec,
        fold=train_fold,
        # how files become pixels: kept in model.pt for `biomedclf predict`
        decoding=canonical(decode_settings(config["data"])),
        code=code("train.py"),
        # Resumable per-epoch checkpoint file, outside the declared outputs (kept on failure).
        checkpoint=train_checkpoint,
        # TensorBoard's folder; whether it is written (tracking:) reaches the job in the
        # environment, not here, so turning tracking on or off reruns nothing
        tensorboard=train_tensorboard,
    script:
        "../scripts/train.py"


if PRETRAINED:

    localrules:
        weights,

    # One job per variant with pretrained weights, where snakemake runs (on a cluster, the
    # login node): the weights into the weights cache when they are missing (a short connect
    # timeout; offline it stops naming the file, its URL and where to copy it), then their
    # record (SHA-256, URL, library). It runs when the record is missing; a record whose file
    # changed is rewritten when the jobs are planned (common.smk), only then. The cache's
    # folder reaches the job in the environment: moving it reruns nothing.
    rule weights:
        output:
            record=pretrained_record(),
        log:
            LOGS / "weights" / "{variant}.log",
        wildcard_constraints:
            variant=one_of(PRETRAINED),
        conda:
            ENV
        params:
            source=lambda w: PRETRAINED[w.variant],
        script:
            "../scripts/weights.py"
