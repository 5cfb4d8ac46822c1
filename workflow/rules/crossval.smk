# Cross-validation (data.split.folds): the k fold models of each run combined (out-of-fold
# predictions and metrics, the fold ensemble on the test split), and the statistics across
# folds. Their tables and figures are in report.smk. Library: biomedclf.crossval.


if FOLDS:

    localrules:
        crossval,
        crossval_stats,

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
            ordinal=config["data"]["ordinal"],
            code=code("crossval.py"),
        script:
            "../scripts/crossval.py"

    rule crossval_stats:
        input:
            crossval=crossval_summaries(),
        output:
            stats=stats_path("crossval"),
        log:
            LOGS / "crossval_stats.log",
        conda:
            ENV
        params:
            runs=crossval_keys(),
            comparisons=comparison_sets(),
            primary=config["statistics"]["primary"],
            confidence=config["statistics"]["confidence"],
            code=code("crossval_stats.py"),
        script:
            "../scripts/crossval_stats.py"
