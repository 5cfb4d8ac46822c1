# Evaluation: one job per (variant, seed) on the test split.


rule evaluate:
    input:
        data_files("val.pt", "test.pt"),
        model=STUDY / "train" / "{variant}" / "seed{seed}" / "model.pt",
    output:
        metrics=STUDY / "eval" / "{variant}" / "seed{seed}" / "metrics.json",
        predictions=STUDY / "eval" / "{variant}" / "seed{seed}" / "predictions.csv",
    log:
        LOGS / "eval" / "{variant}" / "seed{seed}.log",
    conda:
        ENV
    threads: RES["train_threads"]
    resources:
        mem_mb=RES["train_mem_mb"],
        runtime=30,
        gpu=train_resources_gpu,
    params:
        code=CODE["evaluate"],
        device=lambda w: resolve_variant(config, w.variant)["training"].get(
            "device", "auto"
        ),
    script:
        "../scripts/evaluate.py"
