"""Step 2 of prepare: decode every candidate into one preallocated uint8 buffer.

Row i of the buffer is candidate i (images with Pillow, DICOM with pydicom, NIfTI with nibabel,
``.npz`` rows from their arrays); only the pixel hashes are kept per image. Bad files are
rejected with their reason (or stop the run with ``data.on_error: fail``). With
``data.shards`` > 1 shard jobs decode and :mod:`biomedclf.data.shards` gathers their parts into
that buffer; :func:`decoded_images` ends both alike.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .decode import Decoded, DecodeError, DecodeSpec, Row, decode_array, decode_file, decode_into
from .sources import Candidate, SourceIndex

log = logging.getLogger(__name__)


@dataclass
class DecodedImages:
    """Step 2: one buffer row per candidate, the pixel hashes, and what could not be decoded."""

    pixels: np.ndarray  # uint8 candidates x C x H x W; row i is candidate i until arranged
    sha256: list[str | None]  # per candidate; None where it could not be decoded
    not_square: int  # decoded images that were not square (data.resize applied)
    usable: np.ndarray  # int64 indices of the decoded candidates, ascending
    rejected: list[tuple[str, str]]  # index rejections, then decode failures
    seconds: float


def candidate_decoder(index: SourceIndex) -> Any:
    """How one candidate is decoded: its file, or its row of the ``.npz`` arrays."""

    def from_array(cand: Candidate, spec: DecodeSpec) -> Decoded:
        assert cand.given_split is not None and cand.array_index is not None
        return decode_array(index.arrays[cand.given_split][cand.array_index], spec)

    def from_file(cand: Candidate, spec: DecodeSpec) -> Decoded:
        assert cand.file is not None
        return decode_file(cand.file, spec, frame=cand.frame)

    return from_array if index.source == "medmnist" else from_file


def decode_step(index: SourceIndex, spec: DecodeSpec, on_error: str, threads: int) -> DecodedImages:
    """Decode every candidate in parallel into one preallocated buffer; bad files are rejected.

    With ``on_error`` ``fail`` the first bad file (in candidate order) raises instead.
    """
    n = len(index.candidates)
    pixels = np.empty((n, spec.channels, spec.image_size, spec.image_size), dtype=np.uint8)
    t0 = time.perf_counter()
    results = decode_into(index.candidates, spec, pixels, threads, decode=candidate_decoder(index))
    seconds = time.perf_counter() - t0
    log.info(
        "decoded %d images in %.2f s with %d thread(s) (%.0f images/s)",
        n,
        seconds,
        threads,
        n / max(seconds, 1e-9),
    )
    return decoded_images(index, spec, pixels, results, on_error, seconds)


def decoded_images(
    index: SourceIndex,
    spec: DecodeSpec,
    pixels: np.ndarray,
    results: Sequence[Row | DecodeError],
    on_error: str,
    seconds: float,
) -> DecodedImages:
    """Step 2's outcome from the decoded ``pixels`` (row i for candidate i) and each
    candidate's result (:func:`~biomedclf.data.decode.decode_into`): the rejections of the
    index, then the decode failures in candidate order; with ``on_error`` ``fail`` the first
    failure raises instead. Decoding here or gathering shards (biomedclf.data.shards) ends
    here alike."""
    rejected = list(index.rejected)
    sha256: list[str | None] = []
    for cand, res in zip(index.candidates, results):
        if not isinstance(res, DecodeError):
            sha256.append(res.sha256)
            continue
        if on_error == "fail":
            where = cand.file if cand.file is not None else f"{index.root}: {cand.path}"
            raise ValueError(
                f"{where}: {res.reason}. data.on_error is 'fail'; fix or remove the file, "
                "or set data.on_error: skip to list such files in rejected.csv"
            )
        rejected.append((cand.path, res.reason))
        sha256.append(None)
    usable = np.array([i for i, h in enumerate(sha256) if h is not None], dtype=np.int64)
    if len(usable) < len(results):
        log.info("%d unreadable image(s)", len(results) - len(usable))
    not_square = sum(1 for r in results if not isinstance(r, DecodeError) and not r.square)
    if not_square:
        log.info("%d image(s) were not square: data.resize %s", not_square, spec.resize)
    return DecodedImages(pixels, sha256, not_square, usable, rejected, seconds)


#: Step 2 as :func:`prepare_dataset` runs it: (index, spec, data.on_error, threads) -> images.
DecodeStep = Callable[[SourceIndex, DecodeSpec, str, int], DecodedImages]
