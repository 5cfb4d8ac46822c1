"""Arrange the decode buffer so that each split is one contiguous block, without a copy.

Decoding writes candidate ``i`` into row ``i`` of one uint8 buffer. Once the splits are known,
:func:`arrange` moves the rows in place (one spare row of memory) so that train, val and test
follow each other, each in path order, and rejected rows trail. Each split is then a view of the
buffer; ``torch.from_numpy`` of such a view spans exactly the view, so ``torch.save`` writes that
split's bytes only (:func:`biomedclf.data.cache.owns_storage`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .sources import SPLITS, Candidate


@dataclass
class Layout:
    """Where each split lies in the arranged buffer."""

    rows: dict[str, np.ndarray]  # candidate indices per split, in path order
    blocks: dict[str, slice]  # the split's rows in the arranged buffer


def permute_rows(buffer: np.ndarray, order: np.ndarray) -> None:
    """Reorder ``buffer``'s rows in place so that new row ``j`` is old row ``order[j]``.

    ``order`` must be a permutation of ``range(len(buffer))``. Follows the permutation's cycles
    with one spare row, so memory does not grow with the buffer.
    """
    order = np.asarray(order, dtype=np.int64)
    n = len(buffer)
    if order.shape != (n,) or not np.array_equal(np.sort(order), np.arange(n)):
        raise ValueError(f"row order: need a permutation of 0..{n - 1}, got {order.shape} values")
    done = order == np.arange(n)
    for start in np.flatnonzero(~done).tolist():
        if done[start]:
            continue
        spare = buffer[start].copy()
        j = start
        while True:
            k = int(order[j])
            done[j] = True
            if k == start:
                buffer[j] = spare
                break
            buffer[j] = buffer[k]
            j = k


def arrange(
    buffer: np.ndarray,
    candidates: Sequence[Candidate],
    rows: np.ndarray,
    split: np.ndarray,
) -> Layout:
    """Put the kept ``rows`` (candidate indices, with their ``split``) in split blocks, in place.

    Within a split, images follow their paths' order; the rows of rejected candidates go last.
    """
    per_split = {
        s: sorted(rows[split == s].tolist(), key=lambda i: candidates[i].path) for s in SPLITS
    }
    kept = np.zeros(len(buffer), dtype=bool)
    kept[rows] = True
    order = np.concatenate(
        [np.array(per_split[s], dtype=np.int64) for s in SPLITS] + [np.flatnonzero(~kept)]
    )
    permute_rows(buffer, order)
    blocks: dict[str, slice] = {}
    start = 0
    for s in SPLITS:
        blocks[s] = slice(start, start + len(per_split[s]))
        start += len(per_split[s])
    return Layout(
        rows={s: np.array(per_split[s], dtype=np.int64) for s in SPLITS},
        blocks=blocks,
    )
