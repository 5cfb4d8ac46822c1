"""What a finished training job leaves behind, at the paths the rule names by role: the model
(``model``), the history (``history``), the scores (``scores``) and train.json (``info``)
(formats in ``workflow/CONTRACTS.md``), each written atomically, train.json last so that its
presence means the run is complete. A multi-label run's model.pt and train.json add
``task: multilabel`` and ``thresholds`` (one per label, chosen on validation), and its scores
have a target and a probability column per label (:mod:`biomedclf.train.scores`).
"""

from __future__ import annotations

import importlib.metadata
import platform
import resource
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from biomedclf.io import atomic_path, write_json
from biomedclf.train.batches import eval_logits, streamed
from biomedclf.train.devices import device_name
from biomedclf.train.history import write_history
from biomedclf.train.losses import probabilities
from biomedclf.train.models import count_parameters
from biomedclf.train.multilabel import TASK, label_probabilities, split_thresholds
from biomedclf.train.scores import write_multilabel_scores, write_scores
from biomedclf.train.threshold import youden_threshold

if TYPE_CHECKING:
    from biomedclf.train.inputs import TrainingData
    from biomedclf.train.loop import Run
    from biomedclf.train.losses import Objective
    from biomedclf.train.phases import PhaseClock
    from biomedclf.train.state import TrainState

#: What a training job writes, by role, in the order it writes them (train.json last).
OUTPUT_ROLES = ("model", "history", "scores", "info")


def torchvision_version() -> str | None:
    """The installed torchvision's version, read from its metadata: importing torchvision
    (and the compiler it pulls in) would cost a training job seconds of start-up."""
    try:
        return importlib.metadata.version("torchvision")
    except importlib.metadata.PackageNotFoundError:
        return None


def peak_memory_mb(device: torch.device) -> float:
    """Peak allocated GPU memory on CUDA, else the process's peak resident memory."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 2**20 if sys.platform == "darwin" else rss / 1024


def check_outputs(outputs: Mapping[str, Path | str]) -> dict[str, Path]:
    """The paths to write, by role; ``ValueError`` unless ``outputs`` names exactly the roles
    of :data:`OUTPUT_ROLES`."""
    if sorted(outputs) != sorted(OUTPUT_ROLES):
        raise ValueError(
            f"a training job writes {', '.join(OUTPUT_ROLES)}, but was given "
            f"{', '.join(outputs) or 'none'}; name one path for each of those roles"
        )
    return {role: Path(outputs[role]) for role in OUTPUT_ROLES}


def run_record(
    run: Run, state: TrainState, data: TrainingData, objective: Objective
) -> dict[str, Any]:
    """The ``train.json`` dict: what ran (with the loss it minimised), how long, where, with
    which versions."""
    p = state.progress
    channels, image_size = data.shape
    return {
        "variant": run.name,
        "seed": run.seed,
        "model": run.spec["model"],
        "train_seconds": float(sum(row["seconds"] for row in p.history)),
        "best_epoch": p.best_epoch,
        "epochs_run": p.epoch,
        "stopped_early": p.stopped_early,
        "parameters": count_parameters(state.model),
        "device": run.device.type,
        "device_name": device_name(run.device),
        "threads": run.threads,
        "torch_version": torch.__version__,
        "torchvision_version": torchvision_version(),
        "python_version": platform.python_version(),
        "platform": platform.platform(),
        "peak_memory_mb": round(peak_memory_mb(run.device), 1),
        "images_per_second": (
            p.images_trained / p.train_phase_seconds if p.train_phase_seconds else None
        ),
        "n_train": len(data.train),
        "n_val": len(data.val),
        "image_size": image_size,
        "channels": channels,
        "class_names": list(data.train.class_names),
        "n_classes": data.n_classes,
        "loss": objective.name,
        **_task(data),
    }


def _task(data: TrainingData) -> dict[str, Any]:
    """``task`` of a multi-label run (its ``thresholds`` are added once scored); nothing for a
    single-label one (its files keep their keys)."""
    return {"task": TASK} if data.multilabel else {}


def _scores(state: TrainState, data: TrainingData, run: Run) -> dict[str, tuple]:
    """The saved (best) model's probabilities on the validation, held-out (cross-validation)
    and test splits, each streamed to the device (biomedclf.train.batches)."""
    state.model.load_state_dict(state.best_state)
    out = {}
    splits = [("val", data.val), ("heldout", data.heldout), ("test", data.test)]
    for split, cached in ((s, c) for s, c in splits if c is not None):
        logits = eval_logits(
            state.model,
            streamed(cached.images, run.device),
            data.mean,
            data.std,
            channels_last=run.channels_last,
        )
        if cached.multilabel:
            probs = label_probabilities(logits, data.n_classes).tolist()
            out[split] = (cached.paths, cached.labels.tolist(), probs, cached.mask.tolist())
        else:
            out[split] = (cached.paths, cached.labels.tolist(), probabilities(logits).tolist())
    return out


def _threshold(scores: dict[str, tuple]) -> float | None:
    """Two classes: the threshold on the probability of class 1 that maximises Youden's J on
    the validation split (the evaluation's ``threshold_youden``); None for more classes and
    for a multi-label run (its thresholds: one per label)."""
    paths, labels, probs = scores["val"][:3]
    if len(probs[0]) != 2 or len(scores["val"]) == 4:
        return None
    return youden_threshold(labels, [row[1] for row in probs])


def write_outputs(
    files: dict[str, Path],
    run: Run,
    state: TrainState,
    data: TrainingData,
    info: dict[str, Any],
    clock: PhaseClock,
) -> None:
    """Write the run's files to ``files`` (role -> path, :func:`check_outputs`): the best
    epoch's model, the history, its scores, then train.json, which adds (as ``phases``) the
    seconds of each phase of the job, these writes included."""
    channels, image_size = data.shape
    scores = _scores(state, data, run)
    clock.mark("score_s")
    task = _task(data)
    if task:  # multi-label: a threshold per label, from the validation scores
        paths, labels, probs, mask = scores["val"]
        task["thresholds"] = split_thresholds(labels, probs, mask)
        info.update(task)
    pretrained = run.backbone if run.backbone and run.backbone["mean"] else None
    model_file = {
        "spec": run.spec,
        "seed": run.seed,
        "state_dict": state.best_state,
        "class_names": list(data.train.class_names),
        # the normalisation the model was trained with (pretrained: the weights' own)
        "mean": list(pretrained["mean"] if pretrained else data.train.mean),
        "std": list(pretrained["std"] if pretrained else data.train.std),
        "image_size": image_size,
        "channels": channels,
        "best_epoch": state.progress.best_epoch,
        "n_classes": data.n_classes,
        "threshold": _threshold(scores),
        "data": run.decoding,
        "backbone": run.backbone,
        **task,
    }
    with atomic_path(files["model"]) as tmp:
        torch.save(model_file, tmp)
    write_history(files["history"], state.progress.history)
    (write_multilabel_scores if task else write_scores)(files["scores"], scores)
    clock.mark("write_s")
    info["phases"] = clock.record()
    write_json(files["info"], info)
