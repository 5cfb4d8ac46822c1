# Evaluation: one job per (variant, seed) on the test split. The training job already wrote
# the saved model's probabilities (scores.csv), so this job needs no torch: it is metrics only.
# With data.split.folds the crossval job (crossval.smk) evaluates a run instead.
# Library: biomedclf.evaluate.


if not FOLDS:

    localrules:
        evaluate,

    rule evaluate:
        input:
            scores=run_train_files()["scores"],
            info=run_train_files()["info"],
        output:
            **run_eval_files(),
        log:
            LOGS / "eval" / "{variant}" / "seed{seed}.log",
        conda:
            ENV
        threads: 1
        resources:
            mem_mb=500,
            runtime=5,
        params:
            ordinal=config["data"]["ordinal"],
            code=code("evaluate.py"),
        script:
            "../scripts/evaluate.py"
