"""What an explain job reads from the predictions, checked against the test split of the data
cache: each baseline's selection of images (:func:`selections`) and the images of the error
gallery (:func:`error_images`), for single-label and multi-label studies alike
(:mod:`biomedclf.explain.selection`, :mod:`biomedclf.explain.multilabel`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch

from biomedclf.data.cache import CachedSplit
from biomedclf.evaluate.multilabel_predictions import read_multilabel_predictions
from biomedclf.evaluate.run_results import load_predictions
from biomedclf.explain.files import ERRORS_FORMAT, ErrorImages
from biomedclf.explain.multilabel import multilabel_errors, select_multilabel
from biomedclf.explain.selection import GALLERY_MAX, Pick, ensemble_errors, select_images


def _target(split: CachedSplit, row: int, label: int) -> bool:
    """Whether ``label`` is the image's class (single-label) or a kept positive target."""
    if split.multilabel:
        return bool(split.mask[row, label]) and int(split.labels[row, label]) == 1
    return int(split.labels[row]) == label


def selections(
    baselines: Mapping[str, Path | str], n_images: int, test: CachedSplit
) -> dict[str, list[Pick]]:
    """Each baseline's selection from its predictions.csv (``baselines``: name -> path),
    checked against the test split."""
    index = {p: i for i, p in enumerate(test.paths)}
    out = {}
    for name, predictions in sorted(baselines.items()):
        if test.multilabel:
            picks = select_multilabel(read_multilabel_predictions(predictions), n_images)
        else:
            picks = select_images(load_predictions(predictions), n_images)
        for pick in picks:
            if pick.path not in index or not _target(test, index[pick.path], pick.label):
                raise ValueError(
                    f"{predictions}: image {pick.path!r} is not in the test split of the data "
                    "cache with this label; rerun the training and evaluation of "
                    f"{name} on the current cache"
                )
        out[name] = picks
    return out


def _multilabel_errors(ensemble: Mapping[int, Path | str], variant: str) -> dict:
    """The fields of a multi-label errors.npz but the images (all errors' paths)."""
    err = multilabel_errors(ensemble, variant)
    shown = slice(0, GALLERY_MAX)
    return {
        "seeds": err.seeds,
        "n_test": err.n_test,
        "class_names": err.names,
        "all_paths": err.paths,
        "labels": err.labels[shown],
        "predicted": err.calls[shown],
        "confidence": err.probabilities[shown],
        "confusions": err.confusions(),
    }


def _single_label_errors(ensemble: Mapping[int, Path | str], variant: str) -> dict:
    """The fields of a single-label errors.npz but the images (all errors' paths)."""
    err = ensemble_errors(ensemble, variant)
    shown = slice(0, GALLERY_MAX)
    return {
        "seeds": err.seeds,
        "n_test": err.n_test,
        "class_names": err.class_names,
        "all_paths": err.paths,
        "labels": err.labels[shown],
        "predicted": err.predicted[shown],
        "confidence": err.confidence[shown],
        "confusions": err.confusions(),
    }


def error_images(
    ensemble: Mapping[int, Path | str], variant: str, test: CachedSplit
) -> ErrorImages:
    """The errors of ``variant``'s seed ensemble (``ensemble``: seed -> its predictions.csv),
    the first :data:`~biomedclf.explain.selection.GALLERY_MAX` with their images from the test
    split."""
    found = (_multilabel_errors if test.multilabel else _single_label_errors)(ensemble, variant)
    index = {p: i for i, p in enumerate(test.paths)}
    shown = found["all_paths"][:GALLERY_MAX]
    missing = [p for p in shown if p not in index]
    if missing:
        raise ValueError(
            f"test images {missing[:3]} of the predictions of {variant} are not in the data "
            "cache; rerun its training and evaluation on the current cache"
        )
    rows = torch.tensor([index[p] for p in shown], dtype=torch.int64)
    return ErrorImages(
        format=ERRORS_FORMAT,
        variant=variant,
        seeds=np.array(found["seeds"], np.int64),
        n_test=found["n_test"],
        n_errors=len(found["all_paths"]),
        class_names=np.array(found["class_names"], str),
        paths=np.array(shown, dtype=str),
        labels=np.asarray(found["labels"]).astype(np.int64),
        predicted=np.asarray(found["predicted"]).astype(np.int64),
        confidence=np.asarray(found["confidence"]).astype(np.float64),
        images=test.images[rows].numpy(),
        confusions=np.array(found["confusions"], dtype=np.int64).reshape(-1, 3),
    )
