# Saliency: each variant's maps (captum) on the test images its comparisons show and their
# sanity check by randomisation; per comparison a figure of the maps, and an error gallery.
# The formats are in workflow/CONTRACTS.md ("Saliency maps").

# The figures of each comparison, by file name prefix (captions: workflow/report/{kind}.rst).
EXPLAIN_FIGURES = {"saliency": "saliency maps", "errors": "error gallery"}


localrules:
    explain_figures,


rule explain:
    input:
        # with folds: the first fold's model, on the test images the fold ensemble predicted
        model=run_train_files(fold=0 if FOLDS else None)["model"],
        test=STUDY / "data" / "test.pt",
        # the selection: the same seed's predictions of the baselines of its comparisons
        predictions=explain_predictions,
        # the errors of its seed ensemble: its predictions of every seed
        ensemble=explain_ensemble,
    output:
        **explain_files(),
    log:
        LOGS / "explain" / "{variant}" / "seed{seed}.log",
    # as soon as a first seed is trained: the job then fills gaps between training jobs
    # instead of lengthening the end of the run
    priority: 1
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        baselines=explain_baselines,
        seeds=SEEDS,
        n_images=config["explain"]["n_images"],
        crossval=bool(FOLDS),
        code=code("explain.py"),
    script:
        "../scripts/explain.py"


# One job draws every comparison's figures: each takes a fraction of a second, a job's start
# (Python, matplotlib) about one. The images come with the maps (maps.npz, errors.npz).
rule explain_figures:
    input:
        maps=gallery_files("maps"),
        errors=gallery_files("errors"),
    output:
        [
            report(
                STUDY / "figures" / f"{kind}_{c}.png",
                caption=f"../report/{kind}.rst",
                category=c,
                labels={"kind": "figure", "name": label},
            )
            for c in COMPARISONS
            for kind, label in EXPLAIN_FIGURES.items()
        ],
    log:
        LOGS / "figures" / "explain.log",
    conda:
        ENV
    params:
        comparisons=comparison_sets(),
        variants=gallery_variants(),
        code=code("explain_figures.py"),
    script:
        "../scripts/explain_figures.py"
