# Hyperparameter sweeps (sweeps:, README "Sweeps"). Each point ({sweep}[setting=value,...]) is
# trained and evaluated by the train and evaluate (or crossval) rules like a variant, but
# never compared or ranked. Here: the choice of a point on validation numbers alone, and the
# chosen point's runs as the study variant {sweep}.selected, which the later rules treat like
# any variant. The sweep's table and figure are drawn in report.smk. Library: biomedclf.sweeps.


if SWEEPS:

    localrules:
        sweep_select,

    # One job per sweep: every point's validation numbers, the choice (best or one_se).
    rule sweep_select:
        input:
            unpack(sweep_validation_inputs),
        output:
            selection=sweep_path("selection"),
        log:
            LOGS / "sweeps" / "{sweep}.log",
        conda:
            ENV
        params:
            sweep=lambda w: SWEEPS[w.sweep].params(),
            runs=lambda w: sweep_runs(SWEEPS[w.sweep]),
            specs=sweep_specs,
            primary=config["statistics"]["primary"],
            folds=FOLDS,
            code=code("sweep_select.py"),
        script:
            "../scripts/sweep_select.py"

    # The runs of {sweep}.selected: the chosen point's run of the seed (and fold), copied,
    # or for a study seed the points did not train with (sweep_seeds), trained.
    rule sweep_selected:
        input:
            unpack(selected_inputs),
        output:
            **run_train_files("{sweep}.selected", fold=FOLD),
        log:
            LOGS
            / "train"
            / "{sweep}.selected"
            / ("fold{fold}_seed{seed}.log" if FOLDS else "seed{seed}.log"),
        conda:
            ENV
        threads: lambda w: 1 if selected_copies(w) else RES["train_threads"]
        resources:
            mem_mb=RES["train_mem_mb"],
            runtime=RES["train_runtime"],
            gpu=selected_gpu,
        params:
            points=selected_copies,
            cache_roles=lambda w: [] if selected_copies(w) else list(cache_inputs()),
            fold=train_fold,
            decoding=canonical(decode_settings(config["data"])),
            checkpoint=selected_checkpoint,
            # as for train: whether it is written (tracking:) reaches the job in the environment
            tensorboard=selected_tensorboard,
            code=code("sweep_selected.py"),
        script:
            "../scripts/sweep_selected.py"
