"""Memory of two training jobs running at once on one cache, against one cache plus their base.

    python tests/benchmarks/train_memory.py [--sizes 5000,20000,50000] [--work DIR] [--also-read]

For each size N it writes a cache of N generated 224 px one-channel images (80 % train, 10 %
val, 10 % test; the split files written directly with ``biomedclf.data.cache.save_split``, no
prepare step), then starts two training processes at once, each running
``biomedclf.train.loop.run_training`` on it for one epoch (model ``linear``, batch 64, one
thread, CPU: every image is drawn once, validated or scored, so every page of the cache is
touched). While they run, this process samples both children's memory from
``/proc/<pid>/smaps_rollup`` every 10 ms; once both have trained, each waits, still holding
its data, until both are there, and the PSS of the cache files' mappings is read from
``/proc/<pid>/smaps``.

What the two jobs add to the machine's memory in use ("used") is the peak of their summed
own (anonymous) memory plus the PSS of the cache's mapped pages. PSS (proportional set
size) counts a page two processes share half in each, so the sum counts the cache once; RSS
counts it twice, and the system's "used" memory (/proc/meminfo) leaves out the page cache
the mapped files sit in. The libraries' pages are left out: every Python process on the
machine shares them, so their PSS moves with whatever else runs (the peak PSS sum, shown
too, includes them). The base is the median over ``--base-runs`` runs of the same pair's
peak own memory on a cache of 2,560 images (:data:`BASE_SPLITS`: several training and
evaluation batches): Python, torch, the model, the largest batches and their activations,
and the heap they leave behind. The target: used stays within 1.2x one cache plus the base.
The jobs keep freed heap (biomedclf.train.speedups.keep_freed_memory); evaluation writes
its batches into one reused buffer, so the own memory no longer grows with the number of
evaluation batches (before, batch-sized blocks fragmented: about 50 MB more per job with each
few thousand images scored). ``--also-read`` measures the same with the splits read into
each process (``load_split(mmap=False)``, what training did before it mapped them): two
private copies.

Prints a Markdown table. ``run.py --parts train_memory`` runs it as part of the suite
(``--quick``: 5,000 images only).
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

SIZES = (5000, 20000, 50000)
#: The base run's splits: several training (64) and evaluation (256) batches each, so its
#: peak holds the largest batches the jobs build and the heap they leave behind (glibc keeps
#: freed memory in training jobs, biomedclf.train.speedups.keep_freed_memory, and the
#: evaluation's temporaries spread the heap over the first few batches, then no further).
BASE_SPLITS = {"train": 512, "val": 1024, "test": 1024}
IMAGE_SIZE = 224
TARGET_RATIO = 1.2
SAMPLE_S = 0.01
_TESTS = Path(__file__).resolve().parents[1]


def split_sizes(n_images: int) -> dict[str, int]:
    """Images per split of a cache of ``n_images``: 80/10/10."""
    n_val = n_test = max(2, n_images // 10)
    return {"train": n_images - n_val - n_test, "val": n_val, "test": n_test}


def write_cache(folder: Path, sizes: dict[str, int], seed: int = 0) -> int:
    """Write train/val/test split files of random 224 px one-channel images (``sizes``: images
    per split) into ``folder``; returns the bytes of their images."""
    import torch

    from biomedclf.data.cache import CachedSplit, save_split

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for split, n in sizes.items():
        images = np.empty((n, 1, IMAGE_SIZE, IMAGE_SIZE), dtype=np.uint8)
        for start in range(0, n, 1000):  # the generator's own buffer stays small
            block = images[start : start + 1000]
            block[...] = rng.integers(0, 256, block.shape, dtype=np.uint8)
        save_split(
            folder / f"{split}.pt",
            CachedSplit(
                images=torch.from_numpy(images),
                labels=torch.arange(n) % 2,
                paths=[f"{split}/img{i:06d}.png" for i in range(n)],
                class_names=["normal", "opacity"],
                mean=[0.5],
                std=[0.29],
            ),
        )
        del images
    return sum(sizes.values()) * IMAGE_SIZE * IMAGE_SIZE


def smaps_rollup(pid: int) -> dict[str, int] | None:
    """The kB fields of /proc/<pid>/smaps_rollup (Pss, Rss, Private_*, ...), or None once the
    process has gone."""
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    fields = {}
    for line in text.splitlines()[1:]:
        parts = line.split()
        if len(parts) >= 2 and parts[1].isdigit():
            fields[parts[0].rstrip(":")] = int(parts[1])
    return fields


class _Barrier:
    """A training callback: at the end of fitting (the data still held) it says so in
    ``folder`` and waits until the parent releases it."""

    def __init__(self, folder: Path, name: str) -> None:
        self.folder, self.name = folder, name

    def on_fit_start(self, params: Any, history: Any) -> None:
        return None

    def on_epoch_end(self, row: Any) -> None:
        return None

    def on_fit_end(self, info: Any) -> None:
        (self.folder / f"{self.name}.held").write_text("")
        deadline = time.monotonic() + 300
        while not (self.folder / "release").exists() and time.monotonic() < deadline:
            time.sleep(0.02)


def child(cache: Path, out: Path, barrier: Path, name: str, read: bool) -> dict[str, Any]:
    """In a fresh process: one epoch of run_training on ``cache``; returns what it measured."""
    sys.path.insert(0, str(_TESTS))  # config_helpers
    from config_helpers import cache_files, decoding, train_files, variant_spec

    import biomedclf.train.inputs as inputs
    from biomedclf.data.cache import load_split
    from biomedclf.train.loop import run_training

    if read:  # the splits read into the process, as training did before it mapped them
        inputs.load_split = lambda path, mmap=False: load_split(path, mmap=False)
    spec = variant_spec("linear", {"hidden": [16]}, epochs=1, batch_size=64, device="cpu")
    t0 = time.perf_counter()
    info = run_training(
        spec,
        0,
        cache_files(cache),
        train_files(out),
        out / "ckpt",
        1,
        decoding=decoding(image_size=IMAGE_SIZE, channels=1),
        callbacks=[_Barrier(barrier, name)],
    )
    return {
        "seconds": round(time.perf_counter() - t0, 2),
        "n_train": info["n_train"],
        "images_per_second": info["images_per_second"],
    }


def _sample(pids: list[int]) -> dict[str, int] | None:
    """The summed smaps_rollup fields (kB) of ``pids``; None unless every one is alive."""
    rolls = [smaps_rollup(pid) for pid in pids]
    if any(r is None for r in rolls):
        return None
    keys = ("Pss", "Pss_Anon", "Pss_File", "Rss")
    return {k: sum(r.get(k, 0) for r in rolls) for k in keys}  # type: ignore[union-attr]


def mapped_pss_kb(pid: int, folder: Path) -> int:
    """PSS (kB) of the mappings of files under ``folder`` in process ``pid`` (/proc/<pid>/smaps):
    the cache's pages this process maps, counted in proportion to their sharers."""
    total, inside = 0, False
    prefix = str(folder.resolve())
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        first = line.split(maxsplit=1)[0]
        if "-" in first and not first.endswith(":"):  # a mapping's header line
            inside = line.split()[-1].startswith(prefix)
        elif inside and first == "Pss:":
            total += int(line.split()[1])
    return total


def measure(cache: Path, work: Path, read: bool = False) -> dict[str, Any]:
    """Two children training on ``cache`` at once (MB): the peak of their summed own
    (anonymous) memory and of their summed PSS while both are alive, and, once both hold all
    they touched (the barrier), the PSS of the cache's mapped pages. ``used_mb``: the first
    plus the last, what the two jobs add to the machine's memory in use."""
    barrier = Path(tempfile.mkdtemp(prefix="barrier", dir=work))
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", str(cache)]
    procs = {
        name: subprocess.Popen(
            [*cmd, str(work / f"out_{name}"), str(barrier), name, *(["--read"] if read else [])],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("a", "b")
    }
    pids = [p.pid for p in procs.values()]
    peak = {"Pss": 0, "Pss_Anon": 0, "Rss": 0}
    cache_kb = 0
    while any(p.poll() is None for p in procs.values()):
        sample = _sample(pids)
        if sample:
            peak = {k: max(v, sample[k]) for k, v in peak.items()}
        if sample and not cache_kb and all((barrier / f"{n}.held").exists() for n in procs):
            cache_kb = max(1, sum(mapped_pss_kb(pid, cache) for pid in pids))
            (barrier / "release").write_text("")
        time.sleep(SAMPLE_S)
    results = {}
    for name, p in procs.items():
        stdout, stderr = p.communicate()
        if p.returncode != 0:
            raise RuntimeError(f"training child {name} failed ({p.returncode}):\n{stderr[-3000:]}")
        results[name] = json.loads(stdout.strip().splitlines()[-1])
    shutil.rmtree(barrier, ignore_errors=True)
    cache_mb = 0.0 if cache_kb <= 1 else cache_kb / 1024
    return {
        "used_mb": peak["Pss_Anon"] / 1024 + cache_mb,
        "own_mb": peak["Pss_Anon"] / 1024,  # the processes' own memory: heap, tensors
        "cache_pss_mb": cache_mb,  # the cache's mapped pages, both jobs together
        "peak_pss_mb": peak["Pss"] / 1024,  # with the libraries' shares
        "peak_rss_mb": peak["Rss"] / 1024,
        "children": results,
    }


def _median(values: list[float]) -> float:
    v = sorted(values)
    return v[len(v) // 2] if len(v) % 2 else (v[len(v) // 2 - 1] + v[len(v) // 2]) / 2


def measure_base(work: Path, runs: int) -> dict[str, Any]:
    """The base: the median over ``runs`` of the two jobs' peak own memory on a cache of
    :data:`BASE_SPLITS` (its mapped pages are not own memory)."""
    cache = work / "cache_base"
    write_cache(cache, BASE_SPLITS)
    own = [measure(cache, work)["own_mb"] for _ in range(runs)]
    shutil.rmtree(cache, ignore_errors=True)
    log.info("base runs: peak own memory %s MB", [round(v) for v in own])
    return {"runs_mb": own, "base_mb": _median(own)}


def run(
    work: Path, sizes: tuple[int, ...] = SIZES, also_read: bool = False, base_runs: int = 3
) -> dict[str, Any]:
    """The suite part: the base, then every size; evaluates the bound."""
    work.mkdir(parents=True, exist_ok=True)
    base = measure_base(work, base_runs)
    rows = []
    for n in sorted(sizes):
        cache = work / f"cache_{n}"
        cache_mb = write_cache(cache, split_sizes(n)) / 2**20
        row = {"images": n, "cache_mb": cache_mb, **measure(cache, work)}
        if also_read:
            row["read_used_mb"] = measure(cache, work, read=True)["used_mb"]
        shutil.rmtree(cache, ignore_errors=True)
        row["bound_mb"] = TARGET_RATIO * cache_mb + base["base_mb"]
        row["ratio"] = (row["used_mb"] - base["base_mb"]) / cache_mb
        row["status"] = "PASS" if row["used_mb"] <= row["bound_mb"] else "FAIL"
        log.info("%d images: %s", n, {k: v for k, v in row.items() if k != "children"})
        rows.append(row)
    return {
        "base": base,
        "rows": rows,
        "passed": all(r["status"] == "PASS" for r in rows),
        "markdown": markdown(base, rows),
    }


def markdown(base: dict[str, Any], rows: list[dict[str, Any]]) -> str:
    """The Markdown table of :func:`run`'s rows."""
    read = any("read_used_mb" in r for r in rows)
    head = (
        "| images | cache MB | used by 2 jobs MB | (used - base) / cache | bound MB "
        "| cache pages MB | own memory MB | peak PSS sum MB | peak RSS sum MB |"
    )
    lines = [
        head + (" read: used MB |" if read else "") + f" <= {TARGET_RATIO}x cache + base |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|" + ("---:|" if read else "") + ":---|",
    ]
    for r in rows:
        extra = f" {r['read_used_mb']:,.0f} |" if read else ""
        lines.append(
            f"| {r['images']:,} | {r['cache_mb']:,.0f} | {r['used_mb']:,.0f} "
            f"| {r['ratio']:.2f}x | {r['bound_mb']:,.0f} | {r['cache_pss_mb']:,.0f} "
            f"| {r['own_mb']:,.0f} | {r['peak_pss_mb']:,.0f} | {r['peak_rss_mb']:,.0f} "
            f"|{extra} {r['status']} |"
        )
    seconds = ", ".join(
        f"{r['images']:,}: {max(c['seconds'] for c in r['children'].values()):.0f} s" for r in rows
    )
    runs = ", ".join(f"{v:.0f}" for v in base["runs_mb"])
    lines += [
        "",
        f"Used: the two jobs' peak own (anonymous) memory plus the PSS of the cache's mapped "
        f"pages once both hold all they touched. Base: {base['base_mb']:.0f} MB, the median "
        f"of the two jobs' peak own memory on a cache of {sum(BASE_SPLITS.values())} images "
        f"({runs} MB in {len(base['runs_mb'])} runs). Model linear (hidden 16), batch 64, 1 "
        f"epoch, 1 thread each, CPU; {IMAGE_SIZE} px, 1 channel. Seconds per job: {seconds}.",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--sizes",
        default=",".join(map(str, SIZES)),
        help="comma-separated image counts of the cache (default 5000,20000,50000)",
    )
    p.add_argument(
        "--work", type=Path, default=None, help="folder for the caches (default: a temporary one)"
    )
    p.add_argument(
        "--also-read",
        action="store_true",
        help="also measure the jobs with their splits read into memory, not mapped",
    )
    p.add_argument(
        "--base-runs", type=int, default=3, help="runs of the base, median taken (default 3)"
    )
    p.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    p.add_argument("--read", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        logging.basicConfig(level=logging.WARNING)
        cache, out, barrier, name = args.child
        result = child(Path(cache), Path(out), Path(barrier), name, args.read)
        sys.stdout.write(json.dumps(result) + "\n")
        return 0
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    sizes = tuple(int(s) for s in args.sizes.split(",") if s.strip())
    if args.work is None:
        with tempfile.TemporaryDirectory(prefix="biomedclf-trainmem-") as tmp:
            result = run(Path(tmp), sizes, args.also_read, args.base_runs)
    else:
        result = run(args.work, sizes, args.also_read, args.base_runs)
    sys.stdout.write(result["markdown"])
    return 0 if result["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
