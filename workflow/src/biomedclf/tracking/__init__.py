"""Tracking: the jobs also report their runs to MLflow and TensorBoard as they happen.

Off by default (config ``tracking:``). The workflow hands the settings to its jobs in an
environment variable (:mod:`biomedclf.tracking.settings`), never in their params, so turning
tracking on or off reruns nothing. Training reports through the loop's callbacks
(:mod:`biomedclf.tracking.training`); the evaluation, crossval, statistics, figure and summary
jobs add their results (:mod:`biomedclf.tracking.jobs`). A backend that fails logs one
warning and is off for the rest of the job (:mod:`biomedclf.tracking.guard`): tracking never
changes a result and never fails a job. What is logged: workflow/CONTRACTS.md.

Used by ``workflow/rules/{train,evaluate,crossval,sweeps,stats,report}.smk`` and ``common.smk``;
imports no stage (the bottom layer, beside ``data``). ``mlflow`` and ``tensorboard`` (the
``tracking`` extra) are imported only when enabled.
"""
