"""What the training loop tells others while it runs: the callback interface.

:func:`biomedclf.train.loop.run_training` takes a sequence of callbacks and calls, in order,

- ``on_fit_start(params, history)`` once, before the first epoch it trains: ``params`` are
  the run's settings (:func:`fit_params`), ``history`` the rows of the epochs a resumed job
  already has (empty for a fresh start);
- ``on_epoch_end(row)`` after each epoch, once its checkpoint is saved: ``row`` is the
  epoch's ``history.csv`` row (workflow/CONTRACTS.md) plus ``images_per_second``;
- ``on_fit_end(info)`` once every output file is written: ``info`` is the train.json dict.

The loop knows nothing else about them; what a callback does (the tracking backends of
:mod:`biomedclf.tracking`) must not change the training: callbacks get copies, and the
time they take falls between epochs, outside every epoch's ``seconds``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

__all__ = ["TrainingCallback", "fit_params"]


@runtime_checkable
class TrainingCallback(Protocol):
    """Something the training loop calls at the start of fitting, after every epoch and at
    the end."""

    def on_fit_start(
        self, params: Mapping[str, Any], history: Sequence[Mapping[str, float]]
    ) -> None: ...

    def on_epoch_end(self, row: Mapping[str, float]) -> None: ...

    def on_fit_end(self, info: Mapping[str, Any]) -> None: ...


def fit_params(
    spec: Mapping[str, Any], seed: int, fold: int | None, device: str, threads: int
) -> dict[str, Any]:
    """A run's settings as callbacks get them: the resolved variant (its ``name`` as
    ``variant``, ``model``, ``model_args``, ``training``), the seed, the fold (None without
    folds), the device type and the thread count."""
    settings = {("variant" if k == "name" else k): v for k, v in spec.items()}
    return {**settings, "seed": seed, "fold": fold, "device": device, "threads": threads}
