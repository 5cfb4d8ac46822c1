# Aggregates: statistics, tables, figures and the summary, from every run's outputs.


rule stats:
    input:
        run_files(),
    output:
        STUDY / "stats" / "stats.json",
    log:
        LOGS / "stats.log",
    conda:
        ENV
    params:
        variants=VARIANTS,
        seeds=SEEDS,
        comparisons=config["comparisons"],
        statistics=config["statistics"],
        # with folds the runs' predictions are out-of-fold, not of the test split
        evaluated_on="out-of-fold" if FOLDS else "test",
        code=code("stats.py"),
    script:
        "../scripts/stats.py"


rule study_tables:
    input:
        run_files(),
        stats=STUDY / "stats" / "stats.json",
    output:
        report(
            multiext(str(STUDY / "tables" / "test_metrics"), ".csv", ".md"),
            caption="../report/test_metrics.rst",
            category="Study",
            labels={"kind": "table", "name": "test metrics"},
        ),
        report(
            multiext(str(STUDY / "tables" / "training_time"), ".csv", ".md"),
            caption="../report/training_time.rst",
            category="Study",
            labels={"kind": "table", "name": "training time"},
        ),
        report(
            multiext(str(STUDY / "tables" / "ranking"), ".csv", ".md"),
            caption="../report/ranking.rst",
            category="Study",
            labels={"kind": "table", "name": "ranking"},
        ),
        report(
            multiext(str(STUDY / "tables" / "per_class"), ".csv", ".md"),
            caption="../report/per_class.rst",
            category="Study",
            labels={"kind": "table", "name": "per class"},
        ),
    log:
        LOGS / "tables" / "study.log",
    conda:
        ENV
    params:
        variants=VARIANTS,
        seeds=SEEDS,
        code=code("study_tables.py"),
    script:
        "../scripts/study_tables.py"


rule comparison_tables:
    input:
        comparison_run_files,
        stats=STUDY / "stats" / "stats.json",
    output:
        report(
            multiext(str(STUDY / "tables" / "comparison_{comparison}"), ".csv", ".md"),
            caption="../report/comparison_table.rst",
            category="{comparison}",
            labels={"kind": "table", "name": "baseline vs variant"},
        ),
        report(
            multiext(str(STUDY / "tables" / "stats_{comparison}"), ".csv", ".md"),
            caption="../report/stats_table.rst",
            category="{comparison}",
            labels={"kind": "table", "name": "statistics"},
        ),
    log:
        LOGS / "tables" / "{comparison}.log",
    conda:
        ENV
    params:
        comparison=lambda w: config["comparisons"][w.comparison],
        variants=lambda w: comparison_variants(config, w.comparison),
        seeds=SEEDS,
        code=code("comparison_tables.py"),
    script:
        "../scripts/comparison_tables.py"


rule architecture:
    output:
        report(
            multiext(str(STUDY / "tables" / "architecture"), ".csv", ".md"),
            caption="../report/architecture.rst",
            category="Study",
            labels={"kind": "table", "name": "architecture"},
        ),
    log:
        LOGS / "tables" / "architecture.log",
    conda:
        ENV
    params:
        specs=model_specs(),
        class_names=CLASS_NAMES,
        image_size=config["data"]["image_size"],
        channels=config["data"]["channels"],
        code=code("architecture.py"),
    script:
        "../scripts/architecture.py"


rule study_figures:
    input:
        run_files(),
        stats=STUDY / "stats" / "stats.json",
    output:
        report(
            STUDY / "figures" / "test_accuracy.png",
            caption="../report/test_accuracy.rst",
            category="Study",
            labels={"kind": "figure", "name": "test accuracy"},
        ),
        report(
            STUDY / "figures" / "accuracy_vs_time.png",
            caption="../report/accuracy_vs_time.rst",
            category="Study",
            labels={"kind": "figure", "name": "accuracy vs training time"},
        ),
        report(
            STUDY / "figures" / "reliability.png",
            caption="../report/reliability.rst",
            category="Study",
            labels={"kind": "figure", "name": "calibration"},
        ),
    log:
        LOGS / "figures" / "study.log",
    conda:
        ENV
    params:
        variants=VARIANTS,
        seeds=SEEDS,
        code=code("study_figures.py"),
    script:
        "../scripts/study_figures.py"


rule comparison_figures:
    input:
        comparison_run_files,
        stats=STUDY / "stats" / "stats.json",
    output:
        report(
            STUDY / "figures" / "curves_{comparison}.png",
            caption="../report/curves.rst",
            category="{comparison}",
            labels={"kind": "figure", "name": "learning curves"},
        ),
        report(
            STUDY / "figures" / "roc_{comparison}.png",
            caption="../report/roc.rst",
            category="{comparison}",
            labels={"kind": "figure", "name": "ROC"},
        ),
        report(
            STUDY / "figures" / "confusion_{comparison}.png",
            caption="../report/confusion.rst",
            category="{comparison}",
            labels={"kind": "figure", "name": "confusion matrices"},
        ),
    log:
        LOGS / "figures" / "{comparison}.log",
    conda:
        ENV
    params:
        comparison=lambda w: config["comparisons"][w.comparison],
        variants=lambda w: comparison_variants(config, w.comparison),
        seeds=SEEDS,
        code=code("comparison_figures.py"),
    script:
        "../scripts/comparison_figures.py"


rule summary:
    input:
        run_files(),
        stats=STUDY / "stats" / "stats.json",
        data_summary=STUDY / "data" / "summary.json",
        # read by biomedclf.explain_summary (flags maps that survive randomisation)
        explain=explain_sanity_files(),
        crossval=crossval_outputs()[:1],
    output:
        report(
            STUDY / "summary.md",
            caption="../report/summary.rst",
            category="Study",
            labels={"kind": "document", "name": "summary"},
        ),
    log:
        LOGS / "summary.log",
    conda:
        ENV
    params:
        name=NAME,
        variants=VARIANTS,
        seeds=SEEDS,
        specs={v: resolve_variant(config, v) for v in VARIANTS},
        comparisons=config["comparisons"],
        folds=FOLDS,
        code=code("summary.py"),
    script:
        "../scripts/summary.py"
