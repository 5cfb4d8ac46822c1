"""Preparation on many machines (``data.shards`` > 1): shard jobs decode, one job gathers.

Each shard job (:func:`prepare_shard`, rule ``prepare_shard``) indexes the source as the
prepare job does (the same candidates in the same order), decodes its contiguous share of
them (:func:`shard_rows`) and writes a part (formats in workflow/CONTRACTS.md): the pixels,
``part{i}.npy`` (uint8 rows x C x H x W; the row of a file that could not be decoded is zero),
and its records, ``part{i}.json`` (each candidate's path and pixel hash, or why it was
rejected). The prepare job (:func:`prepare_from_parts`) indexes the source again, checks every
part against its own index and settings, copies the parts into its one buffer and goes on as
:func:`~biomedclf.data.prepare.prepare_dataset` does after decoding: duplicates are found
across shards, and the cache, manifest, rejections and summary (its timings aside) are
byte-identical to those of one job decoding everything.

A shard job depends only on what decides its candidates and their pixels
(:func:`shard_settings`); ``data.on_error`` is applied by the gathering job (``fail`` stops
there, at the first bad file in candidate order, as one job would). The workflow deletes the
parts once gathered; kept (``snakemake --notemp``), a change of the splits, the positive class
or ``data.on_error`` reruns the gathering job alone.
"""

from __future__ import annotations

import copy
import json
import logging
import time
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from ..io import atomic_path, read_json, write_json
from .decode import DecodeError, DecodeSpec, Row, decode_into, decode_spec
from .decode_settings import DECODE_KEYS
from .decode_step import DecodedImages, candidate_decoder, decoded_images
from .prepare import index_step, prepare_dataset
from .sources import SourceIndex

log = logging.getLogger(__name__)

#: The format of a part's records (``part{i}.json``).
PART_FORMAT = "biomedclf-shard/1"
#: Keys of ``data:`` (and of ``data.split``) that decide a shard's candidates and pixels (a
#: manifest's columns and the task decide which rows are images, and of which labels).
SHARD_KEYS = ("source", "path", "classes", "task", "manifest", "multilabel", *DECODE_KEYS)
SHARD_SPLIT_KEYS = ("group", "group_pattern")
#: The roles of a part's two files (biomedclf.layout.SHARD_FILES).
PART_ROLES = ("pixels", "records")


def shard_settings(data_cfg: dict[str, Any]) -> dict[str, Any]:
    """What a shard job depends on, of the ``data:`` section prepare runs with
    (biomedclf.config.specs.data_spec): the source, the classes used, the decoding settings and
    the split settings that group DICOM files (``group``, ``group_pattern``)."""
    missing = [k for k in (*SHARD_KEYS, "split") if k not in data_cfg]
    missing += [f"split.{k}" for k in SHARD_SPLIT_KEYS if k not in data_cfg.get("split", {})]
    if missing:
        raise ValueError(
            f"data.{missing[0]}: missing; a shard job reads a data: section validated by the "
            "schema (biomedclf.config.specs.data_spec)"
        )
    settings = {k: copy.deepcopy(data_cfg[k]) for k in SHARD_KEYS}
    settings["split"] = {k: data_cfg["split"][k] for k in SHARD_SPLIT_KEYS}
    return settings


def shard_rows(n: int, shard: int, shards: int) -> range:
    """The candidates shard ``shard`` of ``shards`` decodes: a contiguous, balanced range of
    the ``n`` candidates in index order (empty when there are more shards than images)."""
    if not 0 <= shard < shards:
        raise ValueError(f"data.shards: shard {shard} is not one of 0..{shards - 1}")
    return range(n * shard // shards, n * (shard + 1) // shards)


def _index(settings: dict[str, Any], threads: int) -> SourceIndex:
    """The source's index as prepare builds it: the positive class and ordinal grades only
    order the labels, so a shard indexes without them (the gathering job checks them)."""
    cfg = {**settings, "ordinal": False, "positive_class": None}
    return index_step(cfg, threads).index


def _record(path: str, result: Row | DecodeError) -> dict[str, Any]:
    if isinstance(result, DecodeError):
        return {"path": path, "reason": result.reason}
    return {"path": path, "sha256": result.sha256, "square": result.square}


def prepare_shard(
    settings: dict[str, Any],
    shard: int,
    shards: int,
    files: dict[str, Path | str],
    threads: int = 1,
) -> dict[str, Any]:
    """Decode shard ``shard`` of ``shards`` of the source :func:`shard_settings` describes and
    write its part to ``files`` (``pixels``, then ``records``); return the records."""
    if sorted(files) != sorted(PART_ROLES):
        raise ValueError(f"a shard job writes {', '.join(PART_ROLES)}; was given {sorted(files)}")
    spec = decode_spec(settings)
    index = _index(settings, threads)
    rows = shard_rows(len(index.candidates), shard, shards)
    cands = index.candidates[rows.start : rows.stop]
    pixels = np.empty((len(cands), spec.channels, spec.image_size, spec.image_size), np.uint8)
    t0 = time.perf_counter()
    results = decode_into(cands, spec, pixels, threads, decode=candidate_decoder(index))
    seconds = time.perf_counter() - t0
    for j, res in enumerate(results):
        if isinstance(res, DecodeError):
            pixels[j] = 0  # never used; zero so that a part is the same bytes every time
    records = {
        "format": PART_FORMAT,
        "shard": shard,
        "shards": shards,
        "candidates": len(index.candidates),
        "start": rows.start,
        "stop": rows.stop,
        "shape": list(pixels.shape[1:]),
        "settings": settings,
        "threads": threads,
        "decode_seconds": round(seconds, 3),
        "images": [_record(c.path, r) for c, r in zip(cands, results)],
    }
    with atomic_path(files["pixels"]) as tmp, tmp.open("wb") as fh:
        np.save(fh, pixels)
    write_json(files["records"], records)
    failed = sum(isinstance(r, DecodeError) for r in results)
    log.info(
        "shard %d of %d: candidates %d..%d of %d decoded in %.2f s with %d thread(s) "
        "(%.0f images/s), %d unreadable; part written to %s",
        shard,
        shards,
        rows.start,
        rows.stop - 1,
        len(index.candidates),
        seconds,
        threads,
        len(cands) / max(seconds, 1e-9),
        failed,
        files["pixels"],
    )
    return records


def _stale(where: Path, what: str) -> ValueError:
    return ValueError(
        f"{where}: {what}. The source (data.path) or the data settings changed after the shard "
        "jobs ran; delete the part files (results/<name>/data/shards/) or rerun them with "
        "snakemake --forcerun prepare_shard"
    )


def read_part(
    part: dict[str, Path | str], shard: int, shards: int, index: SourceIndex, settings: Any
) -> tuple[dict[str, Any], np.ndarray]:
    """A part's records and its pixels (memory-mapped), checked against the gathering job's
    own index and shard settings; ``ValueError`` names the file when they disagree."""
    where = Path(part["records"])
    records = read_json(where)
    if not isinstance(records, dict) or records.get("format") != PART_FORMAT:
        raise _stale(where, f"not a shard part of format {PART_FORMAT}")
    if (records["shard"], records["shards"]) != (shard, shards):
        raise _stale(
            where, f"part {records['shard']} of {records['shards']}, not {shard} of {shards}"
        )
    if records["settings"] != settings:
        raise _stale(where, "decoded with other data settings than this job's")
    rows = shard_rows(len(index.candidates), shard, shards)
    paths = [c.path for c in index.candidates[rows.start : rows.stop]]
    if (
        records["candidates"] != len(index.candidates)
        or [r["path"] for r in records["images"]] != paths
    ):
        raise _stale(where, f"written for {records['candidates']} candidate images, not these")
    pixels = np.load(Path(part["pixels"]), mmap_mode="r")
    if pixels.dtype != np.uint8 or pixels.shape != (len(rows), *records["shape"]):
        raise _stale(Path(part["pixels"]), f"pixels {pixels.dtype} {pixels.shape} do not match")
    return records, pixels


def gather_parts(
    parts: Sequence[dict[str, Path | str]],
    index: SourceIndex,
    spec: DecodeSpec,
    on_error: str,
    threads: int,
    *,
    settings: dict[str, Any],
) -> DecodedImages:
    """Step 2 from the shard jobs' ``parts`` (in shard order): their pixels copied into one
    buffer, row i for candidate i, as :func:`~biomedclf.data.decode_step.decode_step` fills it."""
    n, shards = len(index.candidates), len(parts)
    pixels = np.empty((n, spec.channels, spec.image_size, spec.image_size), dtype=np.uint8)
    results: list[Row | DecodeError] = []
    seconds = 0.0
    plain = json.loads(json.dumps(settings))  # as the records hold them
    t0 = time.perf_counter()
    for shard, part in enumerate(parts):
        records, stored = read_part(part, shard, shards, index, plain)
        rows = shard_rows(n, shard, shards)
        pixels[rows.start : rows.stop] = stored
        results += [
            DecodeError(r["reason"]) if "reason" in r else Row(r["sha256"], r["square"])
            for r in records["images"]
        ]
        seconds += float(records["decode_seconds"])
    log.info(
        "gathered %d images from %d shard parts in %.2f s (decoded in %.2f s over the shards)",
        n,
        shards,
        time.perf_counter() - t0,
        seconds,
    )
    return decoded_images(index, spec, pixels, results, on_error, seconds)


def prepare_from_parts(
    data_cfg: dict[str, Any],
    files: dict[str, Path | str],
    parts: Sequence[dict[str, Path | str]],
    threads: int = 1,
) -> dict[str, Any]:
    """:func:`~biomedclf.data.prepare.prepare_dataset` with step 2 taken from the shard jobs'
    ``parts`` (each ``{"pixels": ..., "records": ...}``, in shard order; none: decode here)."""
    if not parts:
        return prepare_dataset(data_cfg, files, threads)
    gather = partial(gather_parts, parts, settings=shard_settings(data_cfg))
    return prepare_dataset(data_cfg, files, threads, decode=gather)
