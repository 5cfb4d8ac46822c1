# Saliency: each explained run's maps (captum) on the test images its comparisons show, their
# sanity check by randomisation and the images its seed ensemble gets wrong. The figures are
# drawn in report.smk. Formats: workflow/CONTRACTS.md ("Saliency maps"). Library:
# biomedclf.explain.


rule explain:
    input:
        # with folds: the first fold's model, on the test images the fold ensemble predicted
        model=run_train_files(fold=0 if FOLDS else None)["model"],
        test=data_outputs()["test"],
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
        # multi-label studies: the label each map explains (null: the most probable positive)
        label=config["explain"]["label"],
        code=code("explain.py"),
    script:
        "../scripts/explain.py"
