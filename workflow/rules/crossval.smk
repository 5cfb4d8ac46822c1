# Cross-validation (data.split.folds): statistics across folds, their tables and figures.
# The per-run statistics, tables and figures of report.smk read the out-of-fold predictions.


if FOLDS:

    localrules:
        crossval_stats,
        crossval_figures,

    rule crossval_stats:
        input:
            unpack(crossval_summaries),
        output:
            stats=STUDY / "stats" / "crossval.json",
            tables=report(
                multiext(str(STUDY / "tables" / "crossval"), ".csv", ".md"),
                caption="../report/crossval.rst",
                category="Study",
                labels={"kind": "table", "name": "cross-validation"},
            ),
            tests=report(
                multiext(str(STUDY / "tables" / "crossval_tests"), ".csv", ".md"),
                caption="../report/crossval_tests.rst",
                category="Study",
                labels={"kind": "table", "name": "tests across folds"},
            ),
        log:
            LOGS / "crossval_stats.log",
        conda:
            ENV
        params:
            comparisons=comparison_sets(),
            primary=config["statistics"]["primary"],
            confidence=config["statistics"]["confidence"],
            code=code("crossval_stats.py"),
        script:
            "../scripts/crossval_stats.py"

    rule crossval_figures:
        input:
            stats=STUDY / "stats" / "crossval.json",
            histories=fold_histories(),
        output:
            folds=report(
                STUDY / "figures" / "folds.png",
                caption="../report/folds.rst",
                category="Study",
                labels={"kind": "figure", "name": "metric per fold"},
            ),
            curves=report(
                STUDY / "figures" / "fold_curves.png",
                caption="../report/fold_curves.rst",
                category="Study",
                labels={"kind": "figure", "name": "learning curves per fold"},
            ),
        log:
            LOGS / "figures" / "crossval.log",
        conda:
            ENV
        params:
            variants=VARIANTS,
            folds=FOLDS,
            code=code("crossval_figures.py"),
        script:
            "../scripts/crossval_figures.py"
