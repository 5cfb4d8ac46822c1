# Data: generate the embedded synthetic set (when asked), then decode, validate and split once.
# Library: biomedclf.data.


localrules:
    synthesize,


rule synthesize:
    output:
        images=directory(synthetic_dir()),
    log:
        LOGS / "synthesize.log",
    conda:
        ENV
    params:
        spec={**config["data"]["synthetic"], "image_size": config["data"]["image_size"]},
        code=code("synthesize.py"),
    script:
        "../scripts/synthesize.py"


rule prepare:
    input:
        prepare_input,
    output:
        **data_outputs(),
    log:
        LOGS / "prepare.log",
    conda:
        ENV
    threads: RES["prepare_threads"]
    resources:
        mem_mb=4000,
        runtime=60,
    params:
        data=data_spec(config, synthetic_root=synthetic_dir()),
        code=code("prepare.py"),
    script:
        "../scripts/prepare.py"
