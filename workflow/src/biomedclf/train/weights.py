"""Pretrained weights fetched once, where ``snakemake`` runs, and recorded for the training jobs.

Each variant with ``pretrained`` set has a *source* (:func:`weights_source`, computed when the
workflow plans its jobs, without looking at any file): the library, the weights' name, their
URL and where they live, either a file of torch hub's folder (``<cache>/hub/checkpoints/``,
relative to the weights cache) or a Hugging Face repository (timm's, in
``<cache>/huggingface/hub``), or for ``pretrained: /path/file.pth`` that file.

The local ``weights`` rule (``workflow/rules/train.smk``) calls :func:`write_record`: it finds
the file, downloads it into the cache when it is missing (a connect timeout of
:data:`TIMEOUT_S` seconds; offline it stops at once with one message naming the file, its URL
and where to copy it) and writes the variant's record
(:func:`biomedclf.layout.pretrained_record`): the file, its SHA-256 and size, the URL, the
library and its version. The variant's training jobs take the record as an input. When the
workflow plans its jobs, :func:`refresh_record` rewrites a record whose file has other
contents now (another SHA-256), and only then: replacing the weights reruns exactly the jobs
that use them, and a warm cache (or a file touched without change) reruns nothing. Nothing
here imports torch.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import tempfile
from pathlib import Path
from typing import Any

from biomedclf.layout import HF_HUB_CACHE, WEIGHTS_CACHE_ENV

log = logging.getLogger(__name__)

__all__ = [
    "TIMEOUT_S",
    "WeightsUnavailable",
    "cache_from_env",
    "fetch_weights",
    "find_weights",
    "refresh_record",
    "weights_record",
    "weights_source",
    "write_record",
]

#: Seconds a download may wait to connect (and for each read): offline, it fails at once.
TIMEOUT_S = 5.0
#: torch hub's file names end in the first hex digits of the file's SHA-256 (``-f37072fd.pth``).
_HASH_PREFIX = re.compile(r"-([a-f0-9]{6,})\.")


class WeightsUnavailable(ValueError):
    """Pretrained weights that are neither in the cache nor downloadable from here."""


def weights_source(model: str, pretrained: str) -> dict[str, Any]:
    """Where the weights of a variant with ``model`` and ``pretrained`` come from (see the
    module docstring); ``pretrained`` is ``imagenet`` or the path of a weights file (which must
    exist: ValueError naming ``pretrained`` otherwise)."""
    if pretrained != "imagenet":
        path = Path(pretrained).expanduser()
        if not path.is_file():
            raise ValueError(f"pretrained: {path} does not exist; give an existing weights file")
        return {"library": "file", "weights": str(path), "url": None, "file": str(path)}
    from biomedclf.train.backbones import imagenet_weights

    return imagenet_weights(model)


def cache_from_env() -> Path:
    """The weights cache the workflow hands its jobs in :data:`WEIGHTS_CACHE_ENV`."""
    folder = os.environ.get(WEIGHTS_CACHE_ENV)
    if not folder:
        raise ValueError(
            f"{WEIGHTS_CACHE_ENV} is not set: run through the workflow (weights_cache)"
        )
    return Path(folder).expanduser()


def _target(source: dict[str, Any], cache: Path) -> Path:
    """Where the weights belong: the file, or the Hugging Face cache entry of the repository."""
    if "hf_repo" in source:
        return cache / HF_HUB_CACHE / f"models--{source['hf_repo'].replace('/', '--')}"
    return cache / source["file"] if source["library"] != "file" else Path(source["file"])


def find_weights(source: dict[str, Any], cache: Path) -> Path | None:
    """The weights file of ``source`` in ``cache`` (or the local file), None when missing.
    Looks at files only."""
    if "hf_repo" not in source:
        path = _target(source, cache)
        return path if path.is_file() else None
    from huggingface_hub import try_to_load_from_cache

    for filename in source["hf_filenames"]:
        found = try_to_load_from_cache(source["hf_repo"], filename, cache_dir=cache / HF_HUB_CACHE)
        if isinstance(found, str):
            return Path(found)
    return None


def _unavailable(source: dict[str, Any], cache: Path, reason: str) -> WeightsUnavailable:
    where, url = _target(source, cache), source["url"]
    if source["library"] == "file":
        return WeightsUnavailable(
            f"pretrained: {where} does not exist; give an existing weights file"
        )
    if "hf_repo" in source:
        how = (
            f'on a machine with internet run HF_HOME=DIR python -c "import huggingface_hub; '
            f"huggingface_hub.hf_hub_download('{source['hf_repo']}', "
            f"'{source['hf_filenames'][0]}')\" and copy DIR/hub/{where.name} to {where}"
        )
    else:
        how = (
            f"copy {where.name} from a machine that has it (torch keeps it in "
            f"$TORCH_HOME/{source['file']}, by default under ~/.cache/torch/) or download {url} "
            f"on a machine with internet, to {where}"
        )
    return WeightsUnavailable(
        f"pretrained weights {source['weights']}: {where} is not in the weights cache and "
        f"could not be downloaded from {url} ({reason}); {how}"
    )


def _download_file(url: str, dest: Path, timeout: float) -> None:
    """``url`` into ``dest`` through a temporary file beside it (no partial file is left);
    a torch hub name's SHA-256 prefix is checked."""
    import urllib.request

    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, suffix=".partial")
    try:
        digest = hashlib.sha256()
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:
            while chunk := response.read(1 << 20):
                out.write(chunk)
                digest.update(chunk)
        prefix = _HASH_PREFIX.search(dest.name)
        if prefix and not digest.hexdigest().startswith(prefix.group(1)):
            raise OSError(f"SHA-256 {digest.hexdigest()} does not start with {prefix.group(1)}")
        os.replace(tmp, dest)
    finally:
        Path(tmp).unlink(missing_ok=True)


def _reachable(url: str, timeout: float) -> None:
    """OSError at once unless the host of ``url`` (or the proxy the environment names for it)
    accepts a connection within ``timeout`` seconds (huggingface_hub would retry an
    unreachable host for most of a minute)."""
    import socket
    from urllib.parse import urlsplit
    from urllib.request import getproxies, proxy_bypass

    parts = urlsplit(url)
    proxy = getproxies().get(parts.scheme)
    if proxy and not proxy_bypass(parts.hostname or ""):
        parts = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    with socket.create_connection((parts.hostname, port), timeout=timeout):
        pass


def _download_hf(source: dict[str, Any], cache: Path, timeout: float) -> None:
    os.environ.setdefault("HF_HUB_DOWNLOAD_TIMEOUT", str(timeout))
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import RemoteEntryNotFoundError

    for filename in source["hf_filenames"]:
        try:
            hf_hub_download(
                source["hf_repo"], filename, cache_dir=cache / HF_HUB_CACHE, etag_timeout=timeout
            )
            return
        except RemoteEntryNotFoundError:  # not in the repository: timm's next file name
            continue
    raise OSError(f"none of {source['hf_filenames']} in {source['hf_repo']}")


def fetch_weights(source: dict[str, Any], cache: Path, timeout: float = TIMEOUT_S) -> Path:
    """The weights file of ``source``, downloaded into ``cache`` first when it is missing;
    :class:`WeightsUnavailable` naming the file, its URL and where to copy it when that fails
    (no network: within about ``timeout`` seconds)."""
    found = find_weights(source, cache)
    if found is not None:
        return found
    if source["library"] == "file":
        raise _unavailable(source, cache, "missing")
    log.info("downloading %s into %s", source["url"], _target(source, cache))
    try:
        _reachable(source["url"], timeout)
        if "hf_repo" in source:
            _download_hf(source, cache, timeout)
        else:
            _download_file(source["url"], _target(source, cache), timeout)
    except Exception as err:  # any failure of the network or the server: one message
        raise _unavailable(source, cache, f"{type(err).__name__}: {err}") from None
    found = find_weights(source, cache)
    if found is None:
        raise _unavailable(source, cache, "the download left no file")
    return found


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _version(library: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(library)
    except PackageNotFoundError:
        return None


def weights_record(source: dict[str, Any], path: Path, cache: Path) -> dict[str, Any]:
    """The record of weights file ``path`` of ``source``: its name (relative to the cache for
    cached weights, so that moving the cache changes nothing), SHA-256, size, URL, weights'
    name, library and the library's version."""
    library = source["library"]
    name = path if library == "file" else Path(os.path.relpath(path, cache))
    return {
        "file": name.as_posix(),
        "sha256": _sha256(path),
        "size": path.stat().st_size,
        "url": source["url"],
        "weights": source["weights"],
        "library": library,
        "version": None if library == "file" else _version(library),
    }


def _write(record_path: Path, record: dict[str, Any]) -> None:
    record_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = record_path.with_name(record_path.name + ".tmp")
    tmp.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, record_path)


def write_record(record_path: Path | str, source: dict[str, Any], cache: Path | None) -> dict:
    """The ``weights`` rule: fetch the weights of ``source`` into ``cache`` if needed and write
    their record to ``record_path``; returns it."""
    cache = cache_from_env() if cache is None else Path(cache)
    path = fetch_weights(source, cache)
    record = weights_record(source, path, cache)
    _write(Path(record_path), record)
    log.info("%s: %s sha256 %s", record_path, path, record["sha256"])
    return record


def refresh_record(record_path: Path | str, source: dict[str, Any], cache: Path) -> str:
    """Bring an existing record up to date with the file it names, when the workflow plans its
    jobs; rewrites it only when the file's contents differ (its SHA-256), so its modification
    time says when the weights last changed. Hashes only a file newer than the record or of
    another size. Returns ``"missing record"``, ``"missing weights"`` (the record kept: a job
    that needs the file stops naming it), ``"unchanged"`` or ``"rewritten"``."""
    record_path = Path(record_path)
    if not record_path.is_file():
        return "missing record"
    path = find_weights(source, cache)
    if path is None:
        return "missing weights"
    old = json.loads(record_path.read_text())
    stat, written = path.stat(), record_path.stat().st_mtime_ns
    if stat.st_mtime_ns <= written and stat.st_size == old.get("size"):
        return "unchanged"
    new = weights_record(source, path, cache)
    if (new["file"], new["sha256"], new["url"]) == (
        old.get("file"),
        old.get("sha256"),
        old.get("url"),
    ):
        return "unchanged"
    _write(record_path, new)
    log.info("%s: the weights changed (sha256 %s)", record_path, new["sha256"])
    return "rewritten"
