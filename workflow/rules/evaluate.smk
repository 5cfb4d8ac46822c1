# Evaluation: one job per (variant, seed). The training job already wrote the saved model's
# probabilities (scores.csv), so this job needs no torch: it is metrics only.
# Without folds it scores the test split; with data.split.folds the crossval job combines the
# k fold models of the run instead (out-of-fold predictions, the fold ensemble on test).


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
            ordinal=config["data"].get("ordinal", False),
            code=code("evaluate.py"),
        script:
            "../scripts/evaluate.py"


if FOLDS:

    localrules:
        crossval,

    rule crossval:
        input:
            unpack(fold_run_files),
        output:
            **run_crossval_files(),
        log:
            LOGS / "eval" / "{variant}" / "seed{seed}.log",
        conda:
            ENV
        threads: 1
        resources:
            mem_mb=500,
            runtime=5,
        params:
            ordinal=config["data"].get("ordinal", False),
            code=code("crossval.py"),
        script:
            "../scripts/crossval.py"
