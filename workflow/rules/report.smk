# What a reader sees: tables, figures and summary.md, from the runs' files and the statistics.
# Every file name comes from biomedclf.layout (common.smk); captions: workflow/report/*.rst.
# Library: biomedclf.report.


localrules:
    study_tables,
    comparison_tables,
    architecture,
    study_figures,
    comparison_figures,
    explain_figures,
    summary,


rule study_tables:
    input:
        metrics=run_metrics(),
        stats=stats_path(),
    output:
        **{
            t: study_report(table_output(t), "table", t)
            for t in layout.STUDY_TABLES
            if t != "architecture"
        },
    log:
        LOGS / "tables" / "study.log",
    conda:
        ENV
    params:
        runs=run_keys(),
        code=code("study_tables.py"),
    script:
        "../scripts/study_tables.py"


rule comparison_tables:
    input:
        metrics=comparison_metrics,
        stats=stats_path(),
    output:
        **{
            t: comparison_report(table_output(t, "{comparison}"), "table", t)
            for t in layout.COMPARISON_TABLES
        },
    log:
        LOGS / "tables" / "{comparison}.log",
    conda:
        ENV
    params:
        comparison=lambda w: config["comparisons"][w.comparison],
        runs=comparison_keys,
        code=code("comparison_tables.py"),
    script:
        "../scripts/comparison_tables.py"


rule architecture:
    output:
        architecture=study_report(table_output("architecture"), "table", "architecture"),
    log:
        LOGS / "tables" / "architecture.log",
    conda:
        ENV
    params:
        specs=model_specs(),
        n_classes=len(CLASS_NAMES),
        image_size=config["data"]["image_size"],
        channels=config["data"]["channels"],
        code=code("architecture.py"),
    script:
        "../scripts/architecture.py"


rule study_figures:
    input:
        metrics=run_metrics(),
        stats=stats_path(),
    output:
        **{f: study_report(figure_output(f), "figure", f) for f in layout.STUDY_FIGURES},
    log:
        LOGS / "figures" / "study.log",
    conda:
        ENV
    params:
        runs=run_keys(),
        code=code("study_figures.py"),
    script:
        "../scripts/study_figures.py"


rule comparison_figures:
    input:
        metrics=comparison_metrics,
        stats=stats_path(),
    output:
        **{
            f: comparison_report(figure_output(f, "{comparison}"), "figure", f)
            for f in ("curves", "roc", "confusion")
        },
    log:
        LOGS / "figures" / "{comparison}.log",
    conda:
        ENV
    params:
        comparison=lambda w: config["comparisons"][w.comparison],
        runs=comparison_keys,
        code=code("comparison_figures.py"),
    script:
        "../scripts/comparison_figures.py"


# One job draws every comparison's saliency figure and error gallery: each takes a fraction
# of a second, a job's start (Python, matplotlib) about one. The images come with the maps.
rule explain_figures:
    input:
        maps=gallery_files("maps"),
        errors=gallery_files("errors"),
    output:
        [
            report(
                figure_output(kind, c),
                caption=f"../report/{kind}.rst",
                category=c,
                labels={"kind": "figure", "name": REPORT_LABELS[kind]},
            )
            for c, kind in explain_figure_keys()
        ],
    log:
        LOGS / "figures" / "explain.log",
    conda:
        ENV
    params:
        comparisons=comparison_sets(),
        variants=gallery_variants(),
        figures=explain_figure_keys(),
        code=code("explain_figures.py"),
    script:
        "../scripts/explain_figures.py"


if FOLDS:

    localrules:
        crossval_report,

    rule crossval_report:
        input:
            stats=stats_path("crossval"),
            histories=fold_histories(),
        output:
            **{
                t: study_report(table_output(t), "table", t)
                for t in layout.CROSSVAL_TABLES
            },
            **{
                f: study_report(figure_output(f), "figure", f)
                for f in layout.CROSSVAL_FIGURES
            },
        log:
            LOGS / "figures" / "crossval.log",
        conda:
            ENV
        params:
            histories=fold_history_keys(),
            comparisons=comparison_sets(),
            confidence=config["statistics"]["confidence"],
            code=code("crossval_report.py"),
        script:
            "../scripts/crossval_report.py"


if SWEEPS:

    localrules:
        sweep_report,

    # A sweep's table and figure: the validation numbers of its selection file and, read
    # after the choice, each point's test metric (the curve's shape, never an estimate).
    rule sweep_report:
        input:
            selection=sweep_path("selection"),
            scores=sweep_scores,
        output:
            table=sweep_entry(sweep_path("table"), "table", "sweep_table"),
            figure=sweep_entry(
                figure_output(layout.SWEEP_FIGURE, "{sweep}"), "figure", "sweep"
            ),
        log:
            LOGS / "figures" / "sweep_{sweep}.log",
        conda:
            ENV
        params:
            runs=lambda w: sweep_runs(SWEEPS[w.sweep]),
            code=code("sweep_report.py"),
        script:
            "../scripts/sweep_report.py"


rule summary:
    input:
        metrics=run_metrics(),
        stats=stats_path(),
        data_summary=data_outputs()["summary"],
        sanity=explain_sanity_files(),
        crossval=crossval_outputs()[:1],
        # each sweep's choice (its chosen point's settings and validation numbers)
        sweeps=sweep_selections(),
    output:
        summary=study_report(str(layout.summary_file(STUDY)), "document", "summary"),
    log:
        LOGS / "summary.log",
    conda:
        ENV
    params:
        name=NAME,
        runs=run_keys(),
        explained=explained_runs(),
        # a sweep's chosen point: its spec is in the sweep's selection file
        specs={v: resolve_variant(config, v) for v in config["variants"]},
        sweeps=list(SWEEPS),
        comparisons=config["comparisons"],
        folds=FOLDS,
        links=summary_links(),
        code=code("summary.py"),
    script:
        "../scripts/summary.py"


if MULTILABEL:

    localrules:
        multilabel_report,

    ruleorder: multilabel_report > summary

    # A multi-label study's tables, figures and summary.md in one job (biomedclf.report.multilabel).
    rule multilabel_report:
        input:
            metrics=run_metrics(),
            stats=stats_path("multilabel"),
            data_summary=data_outputs()["summary"],
            manifest=data_outputs()["manifest"],
            sanity=explain_sanity_files(),
        output:
            summary=study_report(str(layout.summary_file(STUDY)), "document", "summary"),
            tables=[
                study_report(table_output(t), "table", t)
                for t in layout.MULTILABEL_TABLES
            ],
            comparison_tables=[
                report(
                    table_output(t, c),
                    caption=f"../report/{t}.rst",
                    category=c,
                    labels={"kind": "table", "name": REPORT_LABELS[t]},
                )
                for c in COMPARISONS
                for t in layout.MULTILABEL_COMPARISON_TABLES
            ],
            figures=[
                study_report(figure_output(f), "figure", f)
                for f in layout.MULTILABEL_FIGURES
            ],
        log:
            LOGS / "multilabel_report.log",
        conda:
            ENV
        params:
            name=NAME,
            runs=run_keys(),
            outputs={k: v for k, v in multilabel_outputs().items() if k != "stats"},
            explained=explained_runs(),
            saliency_links=explain_links(),
            code=code("multilabel_report.py"),
        script:
            "../scripts/multilabel_report.py"
