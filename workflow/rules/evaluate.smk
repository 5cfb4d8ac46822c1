# Evaluation: one job per (variant, seed) on the test split. The training job already wrote
# the saved model's probabilities (scores.csv), so this job needs no torch: it is metrics only.


rule evaluate:
    input:
        scores=STUDY / "train" / "{variant}" / "seed{seed}" / "scores.csv",
        info=STUDY / "train" / "{variant}" / "seed{seed}" / "train.json",
    output:
        metrics=STUDY / "eval" / "{variant}" / "seed{seed}" / "metrics.json",
        predictions=STUDY / "eval" / "{variant}" / "seed{seed}" / "predictions.csv",
    log:
        LOGS / "eval" / "{variant}" / "seed{seed}.log",
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    params:
        code=CODE["evaluate"],
    script:
        "../scripts/evaluate.py"
