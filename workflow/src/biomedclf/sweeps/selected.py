"""The runs of the study variant ``{sweep}.selected``: the chosen point's, under the name
comparisons use.

For a seed the point trained with (the sweep's seeds) the job copies the point's training
files (``model.pt``, ``history.csv``, ``scores.csv`` byte for byte; ``train.json`` with
``variant`` set to ``{sweep}.selected`` and ``sweep_point`` naming the point). For another
study seed it trains the chosen point's spec with that seed, as a training job would
(:func:`biomedclf.train.loop.run_training`). The evaluation, cross-validation, explanation and
statistics jobs then treat the variant like any other.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from biomedclf.io import atomic_path, read_json, write_json
from biomedclf.sweeps.record import read_selection

log = logging.getLogger(__name__)

#: The training files of a run, in the order they are written (train.json last, as a
#: training job writes it: a run with train.json is complete).
ROLES = ("model", "history", "scores", "info")


def copy_point_run(
    point: str, variant: str, files: Mapping[str, Path | str], outputs: Mapping[str, Path | str]
) -> None:
    """Copy one run's training ``files`` (by role) of ``point`` to ``outputs``, naming the
    run ``variant`` in its train.json."""
    for role in ROLES:
        if role == "info":
            info = read_json(files[role])
            write_json(outputs[role], {**info, "variant": variant, "sweep_point": point})
            continue
        with atomic_path(outputs[role]) as tmp:
            shutil.copyfile(files[role], tmp)


def write_selected_run(
    selection: Path | str,
    seed: int,
    outputs: Mapping[str, Path | str],
    points: Mapping[str, Mapping[str, Path | str]] | None = None,
    training: Mapping[str, Any] | None = None,
) -> None:
    """Write the run of ``seed`` of the variant a sweep's ``selection`` file chose.

    ``points`` (a seed the points trained with): every point's training files by role, of
    this seed (and fold); the chosen point's are copied. ``training`` (another seed): the
    keyword arguments of :func:`biomedclf.train.loop.run_training` but the spec and seed
    (``data``, ``checkpoint``, ``threads``, ``decoding``, ``fold``). Give one of the two.
    """
    chosen = read_selection(selection)
    if (points is None) == (training is None):
        raise ValueError("write_selected_run: give the points' files or the training inputs")
    if points is not None:
        if chosen.selected not in points:
            raise ValueError(
                f"{selection}: chose {chosen.selected!r}, but the rule handed the "
                f"files of {sorted(points)[:3]}...; rerun the selection job"
            )
        copy_point_run(chosen.selected, chosen.variant, points[chosen.selected], outputs)
        log.info("%s seed %d: the run of %s", chosen.variant, seed, chosen.selected)
        return
    from biomedclf.train.loop import run_training

    log.info("%s seed %d: training %s with this seed", chosen.variant, seed, chosen.selected)
    run_training(chosen.spec, seed=seed, outputs=outputs, **training)
