# Data: generate the embedded synthetic set (when asked), then decode, validate and split once.


rule synthesize:
    output:
        directory(STUDY / "synthetic"),
    params:
        spec={**config["data"]["synthetic"], "image_size": config["data"]["image_size"]},
        code=CODE["synthetic"],
    log:
        LOGS / "synthesize.log",
    conda:
        ENV
    script:
        "../scripts/synthesize.py"


rule prepare:
    input:
        prepare_input,
    output:
        data_files("train.pt", "val.pt", "test.pt"),
        manifest=STUDY / "data" / "manifest.csv",
        rejected=STUDY / "data" / "rejected.csv",
        summary=STUDY / "data" / "summary.json",
    params:
        data=data_spec(config, synthetic_root=str(STUDY / "synthetic")),
        code=CODE["prepare"],
    threads: RES["prepare_threads"]
    resources:
        mem_mb=4000,
        runtime=60,
    log:
        LOGS / "prepare.log",
    conda:
        ENV
    script:
        "../scripts/prepare.py"
