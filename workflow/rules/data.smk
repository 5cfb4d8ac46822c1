# Data: generate the embedded synthetic set (when asked), then decode, validate and split once
# (with data.shards > 1: decode in one job per shard, then gather and split in prepare).
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
        spec=synthetic_spec(config),
        code=code("synthesize.py"),
    script:
        "../scripts/synthesize.py"


rule prepare:
    input:
        prepare_input,
        # data.shards > 1: the shard jobs' parts, gathered instead of decoding (none with 1)
        part_pixels=shard_parts("pixels"),
        part_records=shard_parts("records"),
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


if SHARDS > 1:

    # One job per shard: index the source, decode its contiguous share of the candidates and
    # write a part (biomedclf.data.shards); a cluster job each, like prepare.
    rule prepare_shard:
        input:
            prepare_input,
        output:
            **shard_outputs(),
        log:
            LOGS / "prepare_shard{shard}.log",
        wildcard_constraints:
            shard=one_of([str(i) for i in range(SHARDS)]),
        conda:
            ENV
        threads: RES["prepare_threads"]
        resources:
            mem_mb=4000,
            runtime=60,
        params:
            data=shard_spec(),
            shards=SHARDS,
            code=code("prepare_shard.py"),
        script:
            "../scripts/prepare_shard.py"
