"""Train one variant with one seed: a resumable, deterministic (on CPU) job.

Entry point: :func:`run_training` (called by the workflow's train adapter). It

- maps the uint8 cache (the train and val splits, or a fold's parts of the cross-validation
  pool; :mod:`biomedclf.train.inputs`), shared with the other jobs in the page cache, puts
  it on the GPU when it fits ``training.device_cache`` and else streams it there, and draws
  batches from it by a seeded permutation (:mod:`biomedclf.train.batches`; no DataLoader
  workers, no image decoding in the loop, the same batches either way); batches are
  normalised with the cache's mean/std and optionally augmented on the device
  (:mod:`biomedclf.train.augment`);
- minimises ``BCEWithLogitsLoss`` (two classes, one logit) or ``CrossEntropyLoss`` (K > 2
  classes, K logits), optionally with balanced class weights and label smoothing
  (:mod:`biomedclf.train.losses`; train.json records which as ``loss``), or for a multi-label
  cache a masked BCE with one logit per label (:mod:`biomedclf.train.multilabel`), with Adam
  (``weight_decay`` is L2 regularisation), AdamW or SGD with momentum, with a learning rate
  per epoch (warm-up, constant, cosine or step), epochs that train the head only and a
  learning-rate factor for the other layers (:mod:`biomedclf.train.schedule`); optional
  early stopping on validation loss with a patience;
- on CPU uses ``threads`` threads and channels_last for convolutional models; on CUDA augments
  on the GPU and uses bf16 autocast when ``training.amp``;
- keeps the epoch with the lowest validation loss and saves it as the model file, with the
  history, train.json and the scores (that model's probabilities on the validation and test
  splits, computed once training has ended; the evaluation job turns them into metrics without
  loading torch), each written atomically to the path the rule names (formats in
  ``workflow/CONTRACTS.md``);
- is deterministic on CPU: the same spec, seed, data and thread count give the same history
  (but its seconds) and model;
- tells its ``callbacks`` (:mod:`biomedclf.train.callbacks`) when fitting starts, after each
  epoch and at the end; the loop itself tracks nothing;
- saves a :class:`~biomedclf.train.state.TrainState` checkpoint after every epoch into
  ``checkpoint``. A job started again with the same spec, seed and data resumes after its
  last finished epoch and ends with the same model as a run that was never interrupted; the
  checkpoint is deleted after success.

Host syncs: losses and correct counts are summed on the device and read once per epoch.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from biomedclf.data.decode_settings import decode_settings
from biomedclf.train.augment import normalisation_tensors, to_model_input
from biomedclf.train.backbones import backbone_record
from biomedclf.train.batches import eval_logits, training_batches
from biomedclf.train.callbacks import TrainingCallback, fit_params
from biomedclf.train.devices import select_device
from biomedclf.train.inference import autocast, flat_logits, wants_channels_last
from biomedclf.train.inputs import TrainingData, load_training_data
from biomedclf.train.losses import Objective
from biomedclf.train.models import build_model, count_parameters, output_units
from biomedclf.train.multilabel import training_objective
from biomedclf.train.outputs import check_outputs, run_record, write_outputs
from biomedclf.train.phases import PhaseClock
from biomedclf.train.schedule import fine_tuning
from biomedclf.train.settings import TrainingSettings
from biomedclf.train.speedups import compile_model, keep_freed_memory, skip_uninitialized_fill
from biomedclf.train.state import (
    TrainState,
    data_fingerprint,
    resume_key,
)

log = logging.getLogger(__name__)

__all__ = ["run_training"]


@dataclass(frozen=True)
class Run:
    """What one training job runs: the spec, its settings, the seed and where it runs."""

    spec: dict[str, Any]
    settings: TrainingSettings
    seed: int
    device: torch.device
    threads: int
    decoding: dict[str, Any]  # how files become the cache's pixels (kept in the model file)
    backbone: dict[str, Any] | None = None  # a torchvision/timm model's record (model.pt)
    multilabel: bool = False  # one logit per label (biomedclf.train.multilabel)

    @property
    def name(self) -> str:
        return str(self.spec["name"])

    @property
    def channels_last(self) -> bool:
        return wants_channels_last(self.spec["model"], self.device)

    @property
    def amp(self) -> bool:
        return self.settings.amp and self.device.type == "cuda"


def fresh_state(run: Run, channels: int, image_size: int, n_classes: int) -> TrainState:
    """Model, optimiser and generators as a run that starts at epoch 1 has them."""
    torch.manual_seed(run.seed)
    model = build_model(
        run.spec["model"],
        run.spec["model_args"],
        channels,
        image_size,
        variant=run.name,
        n_classes=n_classes,
        multilabel=run.multilabel,
    )
    model.to(run.device)
    if run.channels_last:
        model.to(memory_format=torch.channels_last)
    if run.settings.compile:
        compile_model(model)  # in place: the state dict keeps its keys
    perm_gen = torch.Generator().manual_seed(run.seed)
    aug_gen = None
    if run.settings.augment:
        aug_gen = torch.Generator(device=run.device).manual_seed(run.seed + 1_000_003)
    optimizer, tuning = fine_tuning(
        model, run.spec, run.settings, channels, output_units(n_classes, run.multilabel)
    )
    return TrainState(model, optimizer, perm_gen, aug_gen, tuning)


def used_images(n_train: int, batch_size: int) -> int:
    """Training images per epoch: a trailing batch of one image is skipped (BatchNorm cannot
    train on one 1x1 feature map, e.g. ResNet-18's last block on small images); the
    permutation changes every epoch, so a different image sits out each time."""
    return n_train - 1 if n_train > 1 and n_train % batch_size == 1 else n_train


def train_one_epoch(
    state: TrainState, data: TrainingData, run: Run, objective: Objective
) -> tuple[float, float]:
    """One pass over the training images in a seeded order; returns (mean loss, accuracy)."""
    model, device = state.model, run.device
    model.train()
    state.tuning.start_epoch(model, state.progress.epoch)  # head only, or every layer
    n_used = used_images(len(data.x_train), run.settings.batch_size)
    perm = torch.randperm(len(data.x_train), generator=state.perm_gen)
    loss_sum = torch.zeros((), device=device)
    correct = torch.zeros((), device=device, dtype=torch.int64)
    counted = torch.zeros((), device=device, dtype=torch.int64)  # calls: images or entries
    batches = training_batches(data.x_train, data.y_train, perm, n_used, run.settings.batch_size)
    for images, y in batches:  # resident on the device or streamed to it: the same batches
        x = to_model_input(
            images,
            data.mean,
            data.std,
            generator=state.aug_gen,
            channels_last=run.channels_last,
        )
        with autocast(device, run.amp):
            logits = flat_logits(model(x))
        loss = objective.loss(logits, y)
        state.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        state.optimizer.step()
        loss_sum += loss.detach() * y.shape[0]
        correct += objective.correct(logits.detach(), y)
        counted += objective.entries(y)
    return loss_sum.item() / n_used, correct.item() / max(1, counted.item())


def validate(
    model: nn.Module, data: TrainingData, run: Run, objective: Objective
) -> tuple[float, float]:
    """Validation (loss, accuracy) of ``model`` in eval mode, with the training loss."""
    logits = eval_logits(
        model, data.x_val, data.mean, data.std, channels_last=run.channels_last, amp=run.amp
    )
    with torch.no_grad():
        loss = objective.loss(logits, data.y_val).item()
    calls = max(1, int(objective.entries(data.y_val)))  # images, or kept label entries
    accuracy = objective.correct(logits, data.y_val).item() / calls
    return loss, accuracy


def fit(
    state: TrainState,
    data: TrainingData,
    run: Run,
    objective: Objective,
    checkpoint: Path,
    key: str,
    callbacks: Sequence[TrainingCallback] = (),
) -> None:
    """Train epoch after epoch until ``epochs`` or early stopping, checkpointing each epoch
    and then calling each callback's ``on_epoch_end``."""
    s, p = run.settings, state.progress
    n_used = used_images(len(data.x_train), s.batch_size)
    loop_seconds, loop_epochs = 0.0, 0
    while p.epoch < s.epochs and not p.stopped_early:
        t0 = time.perf_counter()
        train_loss, train_acc = train_one_epoch(state, data, run, objective)
        t_train = time.perf_counter() - t0
        val_loss, val_acc = validate(state.model, data, run, objective)
        p.epoch += 1
        state.record(val_loss, s.early_stopping)
        p.train_phase_seconds += t_train
        p.images_trained += n_used
        row = {
            "epoch": p.epoch,
            "train_loss": train_loss,
            "train_accuracy": train_acc,
            "val_loss": val_loss,
            "val_accuracy": val_acc,
            "lr": state.optimizer.param_groups[0]["lr"],
            "seconds": time.perf_counter() - t0,
        }
        p.history.append(row)
        state.tuning.end_epoch()  # the next epoch's learning rates (row["lr"]: this one's)
        state.save(checkpoint, key, run.device)
        row["seconds"] = seconds = time.perf_counter() - t0
        for callback in callbacks:
            callback.on_epoch_end({**row, "images_per_second": n_used / max(t_train, 1e-9)})
        loop_seconds, loop_epochs = loop_seconds + seconds, loop_epochs + 1
        eta = loop_seconds / loop_epochs * (s.epochs - p.epoch)
        log.info(
            "epoch %d/%d  train loss %.4f acc %.3f  val loss %.4f acc %.3f  %.1fs  %d img/s  "
            "ETA %s%s",
            p.epoch,
            s.epochs,
            train_loss,
            train_acc,
            val_loss,
            val_acc,
            seconds,
            n_used / max(t_train, 1e-9),
            _format_seconds(eta),
            f"  (early stop: no val improvement for {p.bad_epochs} epochs)"
            if p.stopped_early
            else "",
        )


def _format_seconds(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    if seconds >= 60:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds}s"


def _start(run: Run, data: TrainingData, checkpoint: Path, key: str) -> TrainState:
    """A fresh state, or the checkpoint's when it fits this run."""
    channels, image_size = data.shape
    state = fresh_state(run, channels, image_size, data.n_classes)
    if checkpoint.is_file():
        if state.restore(checkpoint, key, run.device):
            log.info("resumed from %s after epoch %d", checkpoint, state.progress.epoch)
        else:  # the checkpoint may have been half loaded: start clean
            state = fresh_state(run, channels, image_size, data.n_classes)
    return state


def _train(
    run: Run,
    data_files: Mapping[str, Path | str],
    outputs: dict[str, Path],
    checkpoint: Path,
    fold: int | None,
    callbacks: Sequence[TrainingCallback],
    clock: PhaseClock,
) -> dict[str, Any]:
    data = load_training_data(data_files, run.device, fold)
    clock.mark("load_s")
    backbone = backbone_record(run.spec["model"], run.spec["model_args"], data.shape[0])
    run = dataclasses.replace(run, backbone=backbone, multilabel=data.multilabel)
    if run.backbone and run.backbone["mean"]:  # pretrained: the weights' own normalisation
        mean, std = run.backbone["mean"], run.backbone["std"]
        data.mean, data.std = normalisation_tensors(mean, std, run.device)
    key = resume_key(run.spec, run.seed, data_fingerprint(data.train, data.val), run.device.type)
    state = _start(run, data, checkpoint, key)
    s = run.settings
    log.info(
        "training %s seed %d: model %s (%d parameters), %d %s, %d train / %d val images "
        "%dx%dx%d, device %s, threads %d, batch %d, %s lr %g wd %g%s%s",
        run.name,
        run.seed,
        run.spec["model"],
        count_parameters(state.model),
        data.n_classes,
        "labels (multi-label)" if data.multilabel else "classes",
        len(data.train),
        len(data.val),
        data.shape[0],
        data.shape[1],
        data.shape[1],
        run.device,
        run.threads,
        s.batch_size,
        s.optimizer,
        s.lr,
        s.weight_decay,
        ", augment" if s.augment else "",
        ", bf16 autocast" if run.amp else "",
    )
    objective = training_objective(data, s, run.device)
    params = fit_params(run.spec, run.seed, fold, run.device.type, run.threads)
    for callback in callbacks:
        callback.on_fit_start(params, [dict(row) for row in state.progress.history])
    clock.mark("build_s")
    fit(state, data, run, objective, checkpoint, key, callbacks)
    clock.mark("loop_s")
    state.keep_last_if_none_best()
    info = run_record(run, state, data, objective)
    if fold is not None:
        info.update(fold=fold, n_heldout=len(data.heldout or ()))
    write_outputs(outputs, run, state, data, info, clock)
    for callback in callbacks:
        callback.on_fit_end(dict(info))
    checkpoint.unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        checkpoint.parent.rmdir()  # the run's checkpoint folder, only when empty
    p = state.progress
    log.info(
        "done: best epoch %d (val loss %.4f) of %d, %.1fs training, %.0f img/s, peak %.0f MB",
        p.best_epoch,
        p.best_val_loss,
        p.epoch,
        info["train_seconds"],
        info["images_per_second"] or 0,
        info["peak_memory_mb"],
    )
    return info


def _set_up(settings: TrainingSettings, threads: int) -> torch.device:
    """The thread count, the device and its speed-ups (reused freed memory and no NaN fill of
    new tensors on CPU, cuDNN's autotuner on CUDA); returns the device."""
    torch.set_num_threads(threads)
    device = select_device(settings.device)
    if device.type == "cpu" and keep_freed_memory():
        log.debug("glibc malloc keeps freed memory for reuse (biomedclf.train.speedups)")
    if device.type == "cpu":
        skip_uninitialized_fill()
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.cuda.reset_peak_memory_stats(device)
    return device


def run_training(
    spec: dict[str, Any],
    seed: int,
    data: Mapping[str, Path | str],
    outputs: Mapping[str, Path | str],
    checkpoint: Path | str,
    threads: int = 1,
    *,
    decoding: dict[str, Any],
    fold: int | None = None,
    callbacks: Sequence[TrainingCallback] = (),
    clock: PhaseClock | None = None,
) -> dict[str, Any]:
    """Train ``spec`` (a resolved variant, biomedclf.config.specs.resolve_variant) with ``seed``
    (on fold ``fold``'s training part of the cross-validation pool when ``fold`` is an int).

    ``data`` maps the cache files to read by role: ``train``, ``val``, ``test``, or on a fold
    ``pool``, ``folds``, ``test``. ``outputs`` maps ``model``, ``history``, ``info``
    (train.json) and ``scores`` to the paths they are written to, train.json last; returns
    the train.json dict. ``checkpoint`` (a file outside the declared outputs) holds the
    per-epoch state; it is resumed when its spec, seed, data and device type match and deleted
    after success. ``decoding`` (the data step's decoding settings,
    :func:`biomedclf.data.decode_settings.decode_settings`) is stored in the model file for
    ``biomedclf predict``. ``callbacks`` (:mod:`biomedclf.train.callbacks`) hear of the start,
    every epoch and the end; they must not change the training (the tracking backends of
    :mod:`biomedclf.tracking` are such callbacks).

    In train.json, ``train_seconds`` is the sum of the epochs' wall time (training, validation
    and checkpoint; no start-up), ``images_per_second`` counts training images over the
    training phase of the epochs only, and ``peak_memory_mb`` is the peak allocated GPU memory
    on CUDA, else the process's peak resident memory (getrusage). ``phases``: the seconds of
    each phase of the job (:mod:`biomedclf.train.phases`), from ``clock`` when the caller
    started one (the train adapter, on its first line), else from this call's entry.
    """
    clock = clock or PhaseClock.at_entry()
    clock.enter()
    spec = json.loads(json.dumps(spec))  # plain JSON types: model.pt loads with weights_only
    settings = TrainingSettings.from_spec(spec)
    out_files = check_outputs(outputs)
    decoding = decode_settings(decoding)  # checked before minutes of training
    threads = max(1, int(threads))
    device = _set_up(settings, threads)
    run = Run(spec, settings, int(seed), device, threads, decoding)
    # Determinism on CPU: every generator is seeded, the thread count fixed, and the CPU
    # kernels a run uses are deterministic at a fixed thread count, so the same spec, seed,
    # data and threads give byte-identical outputs (tests/test_train.py). Deterministic
    # algorithms are not requested: torch.use_deterministic_algorithms imports torch's
    # compiler package (torch._dynamo, 1.5-1.7 s of a job's set-up), and on the CPU they
    # changed no output (tests/test_optimizers.py runs a model with and without them).
    clock.mark("set_up_s")
    log.info("start-up (s): %s", {k: v for k, v in clock.record().items() if v is not None})
    return _train(run, data, out_files, Path(checkpoint), fold, callbacks, clock)
