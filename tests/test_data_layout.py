"""Arranging the decode buffer in place: each split one contiguous block, in path order."""

from __future__ import annotations

import numpy as np
import pytest

from biomedclf.data.layout import arrange, permute_rows
from biomedclf.data.sources import Candidate


def _buffer(n: int) -> np.ndarray:
    """Row i holds the value i everywhere, so a row's origin is visible after moving."""
    return np.broadcast_to(np.arange(n, dtype=np.uint8)[:, None, None, None], (n, 2, 3, 3)).copy()


@pytest.mark.parametrize("seed", range(5))
def test_permute_rows_equals_fancy_indexing(seed: int) -> None:
    rng = np.random.default_rng(seed)
    buf = rng.integers(0, 256, (37, 1, 4, 4), dtype=np.uint8)
    order = rng.permutation(37)
    expected = buf[order]
    data_before = buf.ctypes.data
    permute_rows(buf, order)
    assert np.array_equal(buf, expected)
    assert buf.ctypes.data == data_before  # in place


def test_permute_rows_identity_and_bad_orders() -> None:
    buf = _buffer(5)
    permute_rows(buf, np.arange(5))
    assert np.array_equal(buf[:, 0, 0, 0], np.arange(5))
    with pytest.raises(ValueError, match="permutation of 0..4"):
        permute_rows(buf, np.array([0, 1, 2, 3, 3]))
    with pytest.raises(ValueError, match="permutation"):
        permute_rows(buf, np.arange(4))


def test_arrange_makes_path_ordered_split_blocks() -> None:
    names = ["e.png", "b.png", "bad.png", "a.png", "d.png", "c.png", "f.png", "dup.png"]
    cands = [Candidate(path=p, class_name="x") for p in names]
    buf = _buffer(len(names))
    rows = np.array([0, 1, 3, 4, 5, 6], dtype=np.int64)  # 2 and 7 were rejected
    split = np.array(["test", "train", "train", "val", "train", "test"], dtype=object)
    layout = arrange(buf, cands, rows, split)
    assert layout.rows["train"].tolist() == [3, 1, 5]  # a, b, c
    assert layout.rows["val"].tolist() == [4]
    assert layout.rows["test"].tolist() == [0, 6]  # e, f
    assert layout.blocks == {"train": slice(0, 3), "val": slice(3, 4), "test": slice(4, 6)}
    for s in ("train", "val", "test"):
        assert buf[layout.blocks[s], 0, 0, 0].tolist() == layout.rows[s].tolist()
    assert sorted(buf[6:, 0, 0, 0].tolist()) == [2, 7]  # rejected rows trail
