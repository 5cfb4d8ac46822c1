# Training: one job per (variant, seed). The job's params hold its own resolved variant only.


rule train:
    input:
        # test.pt: the saved model's test probabilities (scores.csv) are written once
        # training has ended; nothing from the test split feeds back into training
        data_files("train.pt", "val.pt", "test.pt"),
    output:
        model=STUDY / "train" / "{variant}" / "seed{seed}" / "model.pt",
        history=STUDY / "train" / "{variant}" / "seed{seed}" / "history.csv",
        info=STUDY / "train" / "{variant}" / "seed{seed}" / "train.json",
        scores=STUDY / "train" / "{variant}" / "seed{seed}" / "scores.csv",
    log:
        LOGS / "train" / "{variant}" / "seed{seed}.log",
    conda:
        ENV
    threads: RES["train_threads"]
    resources:
        mem_mb=RES["train_mem_mb"],
        runtime=RES["train_runtime"],
        gpu=train_resources_gpu,
    params:
        spec=variant_spec,
        code=CODE["train"],
        # Resumable per-epoch checkpoint, outside the declared outputs (kept on failure).
        checkpoint=lambda w: str(STUDY / ".checkpoints" / w.variant / f"seed{w.seed}"),
    script:
        "../scripts/train.py"
