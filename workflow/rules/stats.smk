# Statistics over seeds and test images, and the paired comparisons: stats/stats.json.
# Library: biomedclf.stats.


localrules:
    stats,


rule stats:
    input:
        metrics=run_metrics(),
    output:
        stats=stats_path(),
    log:
        LOGS / "stats.log",
    conda:
        ENV
    params:
        runs=run_keys(),
        comparisons=config["comparisons"],
        statistics=config["statistics"],
        # with folds the runs' predictions are out-of-fold, not of the test split
        evaluated_on="out-of-fold" if FOLDS else "test",
        code=code("stats.py"),
    script:
        "../scripts/stats.py"


if MULTILABEL:

    localrules:
        multilabel_stats,

    # The mean AUROC over labels per variant and the paired comparisons, per label with
    # Holm's adjustment: stats/multilabel.json (biomedclf.stats.multilabel).
    rule multilabel_stats:
        input:
            metrics=run_metrics(),
        output:
            stats=stats_path("multilabel"),
        log:
            LOGS / "multilabel_stats.log",
        conda:
            ENV
        params:
            runs=run_keys(),
            comparisons=config["comparisons"],
            statistics=config["statistics"],
            # with folds the runs' predictions are out-of-fold, not of the test split
            evaluated_on="out-of-fold" if FOLDS else "test",
            code=code("multilabel_stats.py"),
        script:
            "../scripts/multilabel_stats.py"
