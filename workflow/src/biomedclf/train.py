"""Train one variant with one seed: a resumable, deterministic (on CPU) job.

Entry point: :func:`run_training` (called by the workflow's train adapter). It

- reads the uint8 cache (``train.pt``, ``val.pt``) once into memory, onto the GPU when
  training there, and slices batches from it by a seeded permutation (no DataLoader workers,
  no image decoding in the loop); batches are normalised with the cache's mean/std and
  optionally augmented on the device (:mod:`biomedclf.augment`);
- minimises ``BCEWithLogitsLoss`` with Adam (default; ``weight_decay`` is the homework's L2),
  AdamW or SGD with momentum; optional early stopping on validation loss with a patience;
- on CPU uses ``threads`` threads and channels_last for convolutional models; on CUDA keeps
  cache and augmentation on the GPU and uses bf16 autocast when ``training.amp``;
- keeps the epoch with the lowest validation loss and saves it as ``model.pt``, with
  ``history.csv``, ``train.json`` and ``scores.csv`` (that model's probabilities on the
  validation and test splits, computed once training has ended; the evaluation job turns
  them into metrics without loading torch), each written atomically (formats in
  ``workflow/CONTRACTS.md``);
- is deterministic on CPU: the same spec, seed, data and thread count give the same history
  (but its seconds) and model;
- writes a checkpoint after every epoch into ``checkpoint_dir`` (model, optimizer, all random
  generator states, history, best state, early-stopping counter). A job started again with
  the same spec, seed and data resumes after its last finished epoch and ends with the same
  model as a run that was never interrupted; the checkpoint is deleted after success.

Host syncs: losses and correct counts are summed on the device and read once per epoch.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import importlib.metadata
import json
import logging
import math
import platform
import resource
import sys
import time
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import torch
from torch import nn

from biomedclf.augment import channel_stats, to_model_input
from biomedclf.data.cache import CachedSplit, load_split
from biomedclf.devices import DEVICE_CHOICES, device_name, select_device
from biomedclf.io import SCORE_COLUMNS, atomic_path, write_json
from biomedclf.models import (
    build_model,
    count_parameters,
    load_model,
    uses_convolutions,
)
from biomedclf.speedups import (
    defer_dynamo_import,
    keep_freed_memory,
    plain_step,
    use_deterministic_algorithms,
)

log = logging.getLogger(__name__)

CHECKPOINT_NAME = "checkpoint.pt"
HISTORY_COLUMNS = (
    "epoch",
    "train_loss",
    "train_accuracy",
    "val_loss",
    "val_accuracy",
    "lr",
    "seconds",
)
OPTIMIZERS = ("adam", "adamw", "sgd")
#: Batch size used for validation/prediction passes (no gradients, so larger is fine).
EVAL_BATCH_SIZE = 256


# --------------------------------------------------------------------------------------------
# settings


@dataclass(frozen=True)
class TrainingSettings:
    """The resolved ``training`` part of a variant spec (defaults as in the config schema)."""

    epochs: int = 10
    batch_size: int = 64
    optimizer: str = "adam"
    lr: float = 1.0e-3
    weight_decay: float = 0.0
    momentum: float = 0.9
    early_stopping: int | None = None
    augment: bool = False
    device: str = "auto"
    amp: bool = True

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> TrainingSettings:
        """Validate ``spec["training"]``; errors name ``variants.<name>.<key>``."""
        name = spec.get("name", "<variant>")
        raw = dict(spec.get("training") or {})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise ValueError(
                f"variants.{name}.{unknown[0]}: not a training setting; allowed: {sorted(known)}"
            )
        s = cls(**raw)

        def bad(key: str, why: str) -> ValueError:
            return ValueError(
                f"variants.{name}.{key} (or training.{key}): {why}, got {getattr(s, key)!r}"
            )

        def is_int(v: Any) -> bool:
            return isinstance(v, int) and not isinstance(v, bool)

        def is_num(v: Any) -> bool:
            return (
                isinstance(v, (int, float))
                and not isinstance(v, bool)
                and math.isfinite(v)
            )

        if not is_int(s.epochs) or s.epochs < 1:
            raise bad("epochs", "must be a positive integer")
        if not is_int(s.batch_size) or s.batch_size < 1:
            raise bad("batch_size", "must be a positive integer")
        if s.optimizer not in OPTIMIZERS:
            raise bad("optimizer", f"must be one of {OPTIMIZERS}")
        if not is_num(s.lr) or s.lr <= 0:
            raise bad("lr", "must be a positive number")
        if not is_num(s.weight_decay) or s.weight_decay < 0:
            raise bad("weight_decay", "must be a number >= 0")
        if not is_num(s.momentum) or not 0 <= s.momentum <= 1:
            raise bad("momentum", "must be a number in [0, 1]")
        if s.early_stopping is not None and (
            not is_int(s.early_stopping) or s.early_stopping < 1
        ):
            raise bad(
                "early_stopping", "must be a patience in epochs (integer >= 1) or null"
            )
        if not isinstance(s.augment, bool):
            raise bad("augment", "must be true or false")
        if s.device not in DEVICE_CHOICES:
            raise bad("device", f"must be one of {DEVICE_CHOICES}")
        if not isinstance(s.amp, bool):
            raise bad("amp", "must be true or false")
        return s


# --------------------------------------------------------------------------------------------
# data


def load_cached_split(data_dir: Path | str, split: str) -> CachedSplit:
    """Load one split of the data cache (biomedclf.data.cache) and check what training needs."""
    data = load_split(Path(data_dir), split)
    path = Path(data_dir) / f"{split}.pt"
    if data.images.dtype != torch.uint8 or data.images.dim() != 4:
        raise ValueError(
            f"{path}: images must be a uint8 N x C x H x W tensor, got {data.images.dtype} "
            f"{tuple(data.images.shape)}; delete it and rerun the prepare step"
        )
    if data.images.shape[0] != data.labels.shape[0]:
        raise ValueError(
            f"{path}: images and labels differ in count; rerun the prepare step"
        )
    return data


def _fingerprint(*splits: CachedSplit) -> str:
    """Cheap identity of the data a run trains on (shapes, labels, paths, normalisation)."""
    h = hashlib.sha256()
    for s in splits:
        h.update(repr((tuple(s.images.shape), s.mean, s.std, s.class_names)).encode())
        h.update(s.labels.to(torch.int64).numpy().tobytes())
        h.update("\n".join(s.paths).encode())
    return h.hexdigest()


# --------------------------------------------------------------------------------------------
# training pieces


def _make_optimizer(model: nn.Module, s: TrainingSettings) -> torch.optim.Optimizer:
    params = model.parameters()
    if s.optimizer == "adam":
        return torch.optim.Adam(params, lr=s.lr, weight_decay=s.weight_decay)
    if s.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=s.lr, weight_decay=s.weight_decay)
    return torch.optim.SGD(
        params, lr=s.lr, momentum=s.momentum, weight_decay=s.weight_decay
    )


def _autocast(device: torch.device, amp: bool) -> contextlib.AbstractContextManager:
    if device.type == "cuda" and amp:
        return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


@torch.no_grad()
def predict_logits(
    model: nn.Module,
    images: torch.Tensor,
    mean: torch.Tensor,
    std: torch.Tensor,
    *,
    channels_last: bool = False,
    amp: bool = False,
    batch_size: int = EVAL_BATCH_SIZE,
) -> torch.Tensor:
    """Logits (float32, on the images' device) of ``model`` in eval mode for a uint8 tensor."""
    model.eval()
    out = []
    for start in range(0, images.shape[0], batch_size):
        x = to_model_input(
            images[start : start + batch_size], mean, std, channels_last=channels_last
        )
        with _autocast(images.device, amp):
            out.append(model(x).float().reshape(-1))
    if not out:
        return torch.zeros(0, device=images.device)
    return torch.cat(out)


def predict_probabilities(
    model_path: Path | str,
    images: torch.Tensor,
    device: str | torch.device = "cpu",
) -> torch.Tensor:
    """Positive-class probabilities (float32, CPU) of the model in ``model_path`` for a uint8
    ``N x C x H x W`` tensor, normalised with the mean/std stored in the model file: the
    numbers ``scores.csv`` holds, from the model file alone."""
    device = torch.device(device) if isinstance(device, str) else device
    model, ckpt = load_model(model_path, map_location=device)
    expected = (int(ckpt["channels"]), int(ckpt["image_size"]), int(ckpt["image_size"]))
    if tuple(images.shape[1:]) != expected:
        raise ValueError(
            f"images are {tuple(images.shape[1:])} but {model_path} was trained on "
            f"{expected}; predict with the data cache the model was trained on"
        )
    channels_last = uses_convolutions(ckpt["spec"]["model"]) and device.type in (
        "cpu",
        "cuda",
    )
    if channels_last:
        model.to(memory_format=torch.channels_last)
    mean, std = channel_stats(ckpt["mean"], ckpt["std"], device)
    logits = predict_logits(
        model, images.to(device), mean, std, channels_last=channels_last
    )
    return torch.sigmoid(logits).cpu()


def _peak_memory_mb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 2**20 if sys.platform == "darwin" else rss / 1024


def _resume_key(
    spec: dict[str, Any], seed: int, fingerprint: str, device_type: str
) -> str:
    """What a checkpoint must match to be resumed (random states do not carry across devices)."""
    text = json.dumps(
        {"spec": spec, "seed": seed, "data": fingerprint, "device": device_type},
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(text.encode()).hexdigest()


def _format_seconds(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    if seconds >= 60:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds}s"


def _write_scores(
    path: Path, splits: dict[str, tuple[list[str], list[int], list[float]]]
) -> None:
    """``split,path,label,probability`` rows (cache order) for each split; probabilities are
    float32 sigmoids of float32 logits (no autocast), written exactly (``repr``)."""
    with atomic_path(path) as tmp, tmp.open("w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(SCORE_COLUMNS)
        for split, (paths, labels, probs) in splits.items():
            for row_path, label, prob in zip(paths, labels, probs, strict=True):
                writer.writerow([split, row_path, int(label), repr(float(prob))])


def _write_history(path: Path, rows: list[dict[str, Any]]) -> None:
    with atomic_path(path) as tmp, tmp.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=HISTORY_COLUMNS, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: row[k] for k in HISTORY_COLUMNS})


def _cpu_state(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu").contiguous().clone() for k, v in state.items()}


@dataclass
class _Progress:
    """Everything that changes from epoch to epoch and must survive a restart."""

    epoch: int = 0
    history: list[dict[str, Any]] | None = None
    best_state: dict[str, torch.Tensor] | None = None
    best_epoch: int = 0
    best_val_loss: float = math.inf
    bad_epochs: int = 0
    stopped_early: bool = False
    train_phase_seconds: float = 0.0
    images_trained: int = 0

    def __post_init__(self) -> None:
        if self.history is None:
            self.history = []


# --------------------------------------------------------------------------------------------
# entry point


def run_training(
    spec: dict[str, Any],
    seed: int,
    data_dir: Path,
    out_dir: Path,
    checkpoint_dir: Path,
    threads: int = 1,
) -> dict[str, Any]:
    """Train ``spec`` (a resolved variant, biomedclf.config.resolve_variant) with ``seed``.

    Writes ``model.pt``, ``history.csv``, ``train.json`` and ``scores.csv`` into
    ``out_dir`` and returns the train.json dict. ``checkpoint_dir`` (outside the declared
    outputs) holds the per-epoch checkpoint; it is resumed when its spec, seed, data and
    device type match and deleted after success.

    In train.json, ``train_seconds`` is the sum of the epochs' wall time (training, validation
    and checkpoint; no start-up), ``images_per_second`` counts training images over the
    training phase of the epochs only, and ``peak_memory_mb`` is the peak allocated GPU memory
    on CUDA, else the process's peak resident memory (getrusage).
    """
    startup = time.perf_counter()
    seed = int(seed)
    data_dir, out_dir, checkpoint_dir = (
        Path(data_dir),
        Path(out_dir),
        Path(checkpoint_dir),
    )
    # plain JSON types only: model.pt must load with weights_only=True anywhere
    spec = json.loads(json.dumps(spec))
    settings = TrainingSettings.from_spec(spec)
    name = str(spec.get("name", "variant"))
    threads = max(1, int(threads))
    torch.set_num_threads(threads)
    device = select_device(settings.device)
    if device.type == "cpu" and keep_freed_memory():
        log.debug("glibc malloc keeps freed memory for reuse (biomedclf.speedups)")
    defer_dynamo_import()
    # Determinism on CPU: every generator is seeded and the thread count fixed; deterministic
    # algorithms are requested too (process-wide, so the previous mode is restored after).
    was_deterministic = torch.are_deterministic_algorithms_enabled()
    was_warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    if device.type == "cpu":
        use_deterministic_algorithms(True, warn_only=True)
    try:
        return _train(
            spec,
            name,
            settings,
            seed,
            data_dir,
            out_dir,
            checkpoint_dir,
            threads,
            device,
            startup,
        )
    finally:
        use_deterministic_algorithms(was_deterministic, warn_only=was_warn_only)


def _train(
    spec: dict[str, Any],
    name: str,
    s: TrainingSettings,
    seed: int,
    data_dir: Path,
    out_dir: Path,
    checkpoint_dir: Path,
    threads: int,
    device: torch.device,
    startup: float,
) -> dict[str, Any]:
    train = load_cached_split(data_dir, "train")
    val = load_cached_split(data_dir, "val")
    # the test split is only predicted, after the best epoch has been chosen on val
    test = load_cached_split(data_dir, "test")
    n_train, channels, height, width = (int(v) for v in train.images.shape)
    n_val = int(val.images.shape[0])
    if height != width:
        raise ValueError(
            f"{data_dir / 'train.pt'}: images must be square, got {height}x{width}"
        )
    if n_train == 0 or n_val == 0:
        raise ValueError(
            f"{data_dir}: the train ({n_train}) or val ({n_val}) split is empty; "
            "give data.split.val a larger fraction or add images"
        )
    for other in (val, test):
        if tuple(other.images.shape[1:]) != (channels, height, width):
            raise ValueError(
                f"{data_dir}: train, val and test images differ in shape; rerun prepare"
            )
    image_size = height

    channels_last = uses_convolutions(spec["model"]) and device.type in ("cpu", "cuda")

    def fresh() -> (
        tuple[nn.Module, torch.optim.Optimizer, torch.Generator, torch.Generator | None]
    ):
        """Model, optimizer and generators as a run that starts at epoch 1 has them."""
        torch.manual_seed(seed)
        net = build_model(
            spec["model"],
            spec.get("model_args") or {},
            channels,
            image_size,
            variant=name,
        )
        net.to(device)
        if channels_last:
            net.to(memory_format=torch.channels_last)
        perm = torch.Generator().manual_seed(seed)
        aug = (
            torch.Generator(device=device).manual_seed(seed + 1_000_003)
            if s.augment
            else None
        )
        return net, _make_optimizer(net, s), perm, aug

    model, optimizer, perm_gen, aug_gen = fresh()
    criterion = nn.BCEWithLogitsLoss(reduction="mean")
    amp = s.amp and device.type == "cuda"
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.cuda.reset_peak_memory_stats(device)

    # the whole cache on the training device, uint8 (4x smaller than float)
    x_train = train.images.to(device)
    y_train = train.labels.to(device=device, dtype=torch.float32)
    x_val = val.images.to(device)
    y_val = val.labels.to(device=device, dtype=torch.float32)
    mean, std = channel_stats(train.mean, train.std, device)

    checkpoint_path = checkpoint_dir / CHECKPOINT_NAME
    key = _resume_key(spec, seed, _fingerprint(train, val), device.type)
    p = _Progress()
    if checkpoint_path.is_file():
        resumed = _resume(
            checkpoint_path, key, model, optimizer, perm_gen, aug_gen, device
        )
        if resumed is None:  # the checkpoint may have been half loaded: start clean
            model, optimizer, perm_gen, aug_gen = fresh()
        else:
            p = resumed

    optimizer_step = plain_step(optimizer)
    bs = s.batch_size
    # a trailing batch of one image is skipped (BatchNorm cannot train on one 1x1 feature
    # map, e.g. ResNet-18's last block on small images); the permutation changes every
    # epoch, so a different image sits out each time
    n_used = n_train - 1 if n_train > 1 and n_train % bs == 1 else n_train
    log.info(
        "training %s seed %d: model %s (%d parameters), %d train / %d val images %dx%dx%d, "
        "device %s, threads %d, batch %d, %s lr %g wd %g%s%s",
        name, seed, spec["model"], count_parameters(model), n_train, n_val, channels,
        image_size, image_size, device, threads, bs, s.optimizer, s.lr, s.weight_decay,
        ", augment" if s.augment else "", ", bf16 autocast" if amp else "",
    )  # fmt: skip
    if p.epoch:
        log.info("resumed from %s after epoch %d", checkpoint_path, p.epoch)
    log.info("start-up %.1fs", time.perf_counter() - startup)

    loop_epochs_done = 0
    loop_seconds = 0.0
    while p.epoch < s.epochs and not p.stopped_early:
        epoch = p.epoch + 1
        t0 = time.perf_counter()
        model.train()
        perm = torch.randperm(n_train, generator=perm_gen).to(device)
        loss_sum = torch.zeros((), device=device)
        correct = torch.zeros((), device=device, dtype=torch.int64)
        for start in range(0, n_used, bs):
            idx = perm[start : min(start + bs, n_used)]
            x = to_model_input(
                x_train[idx], mean, std, generator=aug_gen, channels_last=channels_last
            )
            y = y_train[idx]
            with _autocast(device, amp):
                logits = model(x).float().reshape(-1)
            loss = criterion(logits, y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer_step()
            loss_sum += loss.detach() * idx.numel()
            correct += ((logits.detach() > 0) == (y > 0.5)).sum()
        train_loss = loss_sum.item() / n_used
        train_acc = correct.item() / n_used
        t_train = time.perf_counter() - t0

        val_logits = predict_logits(
            model, x_val, mean, std, channels_last=channels_last, amp=amp
        )
        val_loss = nn.functional.binary_cross_entropy_with_logits(
            val_logits, y_val
        ).item()
        val_acc = ((val_logits > 0) == (y_val > 0.5)).float().mean().item()

        if math.isfinite(val_loss) and val_loss < p.best_val_loss:
            p.best_val_loss, p.best_epoch, p.bad_epochs = val_loss, epoch, 0
            p.best_state = _cpu_state(model.state_dict())
        else:
            p.bad_epochs += 1
        if s.early_stopping is not None and p.bad_epochs >= s.early_stopping:
            p.stopped_early = True
        p.epoch = epoch
        p.train_phase_seconds += t_train
        p.images_trained += n_used
        seconds = time.perf_counter() - t0
        p.history.append(
            {
                "epoch": epoch,
                "train_loss": train_loss,
                "train_accuracy": train_acc,
                "val_loss": val_loss,
                "val_accuracy": val_acc,
                "lr": optimizer.param_groups[0]["lr"],
                "seconds": seconds,
            }
        )
        _save_checkpoint(
            checkpoint_path, key, model, optimizer, perm_gen, aug_gen, device, p
        )
        p.history[-1]["seconds"] = seconds = time.perf_counter() - t0
        loop_epochs_done += 1
        loop_seconds += seconds
        eta = loop_seconds / loop_epochs_done * (s.epochs - epoch)
        log.info(
            "epoch %d/%d  train loss %.4f acc %.3f  val loss %.4f acc %.3f  %.1fs  %d img/s  "
            "ETA %s%s",
            epoch, s.epochs, train_loss, train_acc, val_loss, val_acc, seconds,
            n_used / max(t_train, 1e-9), _format_seconds(eta),
            f"  (early stop: no val improvement for {p.bad_epochs} epochs)" if p.stopped_early else "",
        )  # fmt: skip

    if p.best_state is None:  # every validation loss was NaN/inf
        log.warning(
            "no finite validation loss in any epoch; saving the last epoch's model"
        )
        p.best_state, p.best_epoch = _cpu_state(model.state_dict()), p.epoch

    train_seconds = float(sum(row["seconds"] for row in p.history))
    info = {
        "variant": name,
        "seed": seed,
        "model": spec["model"],
        "train_seconds": train_seconds,
        "best_epoch": p.best_epoch,
        "epochs_run": p.epoch,
        "stopped_early": p.stopped_early,
        "parameters": count_parameters(model),
        "device": device.type,
        "device_name": device_name(device),
        "threads": threads,
        "torch_version": torch.__version__,
        "torchvision_version": _torchvision_version(),
        "python_version": platform.python_version(),
        "platform": platform.platform(),
        "peak_memory_mb": round(_peak_memory_mb(device), 1),
        "images_per_second": (
            p.images_trained / p.train_phase_seconds if p.train_phase_seconds else None
        ),
        "n_train": n_train,
        "n_val": n_val,
        "image_size": image_size,
        "channels": channels,
        "class_names": list(train.class_names),
    }
    model_file = {
        "spec": spec,
        "seed": seed,
        "state_dict": p.best_state,
        "class_names": list(train.class_names),
        "mean": list(train.mean),
        "std": list(train.std),
        "image_size": image_size,
        "channels": channels,
        "best_epoch": p.best_epoch,
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    with atomic_path(out_dir / "model.pt") as tmp:
        torch.save(model_file, tmp)
    _write_history(out_dir / "history.csv", p.history)
    model.load_state_dict(p.best_state)
    _write_scores(
        out_dir / "scores.csv",
        {
            split: (
                data.paths,
                data.labels.tolist(),
                torch.sigmoid(
                    predict_logits(
                        model, data.images.to(device), mean, std,
                        channels_last=channels_last,
                    )
                ).tolist(),
            )
            for split, data in (("val", val), ("test", test))
        },
    )  # fmt: skip
    write_json(out_dir / "train.json", info)
    checkpoint_path.unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        checkpoint_dir.rmdir()  # only when empty
    log.info(
        "done: best epoch %d (val loss %.4f) of %d, %.1fs training, %.0f img/s, peak %.0f MB",
        p.best_epoch, p.best_val_loss, p.epoch, train_seconds, info["images_per_second"] or 0,
        info["peak_memory_mb"],
    )  # fmt: skip
    return info


def _torchvision_version() -> str | None:
    """The installed torchvision's version, read from its metadata: importing torchvision
    (and the compiler it pulls in) would cost a training job seconds of start-up."""
    try:
        return importlib.metadata.version("torchvision")
    except importlib.metadata.PackageNotFoundError:
        return None


# --------------------------------------------------------------------------------------------
# checkpoints


def _save_checkpoint(
    path: Path,
    key: str,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    perm_gen: torch.Generator,
    aug_gen: torch.Generator | None,
    device: torch.device,
    p: _Progress,
) -> None:
    state = {
        "key": key,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "torch_rng": torch.get_rng_state(),
        "cuda_rng": torch.cuda.get_rng_state(device) if device.type == "cuda" else None,
        "perm_rng": perm_gen.get_state(),
        "aug_rng": aug_gen.get_state() if aug_gen is not None else None,
        "progress": {
            f.name: getattr(p, f.name) for f in fields(p) if f.name != "best_state"
        },
        "best_state": p.best_state,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def _resume(
    path: Path,
    key: str,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    perm_gen: torch.Generator,
    aug_gen: torch.Generator | None,
    device: torch.device,
) -> _Progress | None:
    """Restore a checkpoint into the given objects; None (start afresh) when it does not fit."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (
        Exception
    ) as exc:  # a truncated or foreign file: start again rather than fail
        log.warning(
            "%s: unreadable checkpoint (%s); training from the start", path, exc
        )
        return None
    if state.get("key") != key:
        log.warning(
            "%s: checkpoint of a different spec, seed or data; training from the start",
            path,
        )
        return None
    try:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        progress = _Progress(**state["progress"])
        torch.set_rng_state(state["torch_rng"])
        if device.type == "cuda" and state.get("cuda_rng") is not None:
            torch.cuda.set_rng_state(state["cuda_rng"], device)
        perm_gen.set_state(state["perm_rng"])
        if aug_gen is not None:
            aug_gen.set_state(state["aug_rng"])
    except (RuntimeError, KeyError, ValueError, TypeError) as exc:
        log.warning(
            "%s: checkpoint does not fit this run (%s); training from the start",
            path,
            exc,
        )
        return None
    progress.best_state = state.get("best_state")
    return progress
