"""Wall time of the stats job (biomedclf.stats.study.study_statistics) on fake run files.

    python tests/benchmarks/stats_benchmark.py [--cases binary,k9] [--n-bootstrap 2000]
        [--repeats 1] [--ref HEAD] [--work DIR]

Cases (6 variants x 3 seeds, the default study's four comparisons, 2,000 resamples):

* ``binary``: the default study's size, 600 images x 25% = 150 test images, two classes;
  target: no slower than the code at ``--ref`` (default ``HEAD``; a commit with this package
  layout), which is measured too
  (``git archive {ref} workflow/src`` into a temporary folder, run in a child process with it
  first on ``PYTHONPATH``) unless ``--ref ''``;
* ``k9``: 5,000 test images of 9 classes; target: under 60 s on 2 cores.

The run files (history.csv, train.json, scores.csv, then metrics.json and predictions.csv from
the library's own ``run_evaluation``) are written in the formats of the ``biomedclf`` imported
(a code before multi-class support writes and reads the two-class formats; it cannot run
``k9``). Only ``study_statistics`` is timed (wall and CPU seconds of this process, best of
``--repeats``). Prints a Markdown table; ``run.py --parts stats`` runs it as part of the suite.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[2]

#: name -> (test images, classes, target text)
CASES = {
    "binary": (150, 2, "no slower than --ref"),
    "k9": (5000, 9, "< 60 s on 2 cores"),
}
VARIANTS = {
    "ann": 0.8,
    "cnn": 1.4,
    "cnn_dropout": 1.5,
    "cnn_l2": 1.45,
    "gap": 1.2,
    "gap_improved": 1.8,
}  # name -> signal strength of the fake logits
SEEDS = [0, 1, 2]
COMPARISONS = {
    "dropout": {"baseline": "cnn", "variants": ["cnn_dropout"]},
    "l2": {"baseline": "cnn", "variants": ["cnn_l2"]},
    "ann_vs_cnn": {"baseline": "ann", "variants": ["cnn"]},
    "gap": {"baseline": "gap", "variants": ["gap_improved"]},
}


def _new_formats() -> bool:
    """Whether the imported biomedclf writes the multi-class formats (stats format /2+)."""
    from biomedclf.stats.records import STATS_FORMAT

    return not STATS_FORMAT.endswith("/1")


def _probabilities(
    labels: np.ndarray, k: int, signal: float, rng: np.random.Generator
) -> np.ndarray:
    """float32 class probabilities (n, k): sigmoid of one logit for k = 2, else a softmax."""
    if k == 2:
        logit = (signal * (2 * labels - 1) + rng.normal(size=labels.size)).astype(np.float32)
        p1 = 1 / (1 + np.exp(-logit))
        return np.stack([1 - p1, p1], axis=1).astype(np.float32)
    logits = (signal * np.eye(k)[labels] + rng.normal(size=(labels.size, k))).astype(np.float32)
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)


def _write_scores(
    path: Path, splits: dict[str, tuple[list[str], np.ndarray, np.ndarray]], k: int, new: bool
) -> None:
    """scores.csv in the imported library's format."""
    header = ["split", "path", "label"] + (
        [f"prob_{c}" for c in range(k)] if new else ["probability"]
    )
    with path.open("w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(header)
        for split, (paths, labels, probs) in splits.items():
            for p, y, row in zip(paths, labels.tolist(), probs.tolist()):
                values = row if new else row[1:]
                w.writerow([split, p, y, *(repr(float(q)) for q in values)])


def _write_train_files(run: Any, k: int, seconds: float) -> None:
    """history.csv and train.json of one fake run."""
    run.history.parent.mkdir(parents=True, exist_ok=True)
    with run.history.open("w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(
            ["epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "lr", "seconds"]
        )
        for e in range(1, 6):
            w.writerow([e, 1 / e, 0.6 + 0.07 * e, 1.1 / e, 0.6 + 0.05 * e, 0.001, seconds / 5])
    names = ["NORMAL", "PNEUMONIA"] if k == 2 else [f"class_{c}" for c in range(k)]
    run.train_json.write_text(
        json.dumps(
            {
                "variant": run.variant,
                "seed": run.seed,
                "model": "conv",
                "train_seconds": seconds,
                "parameters": 1000,
                "device": "cpu",
                "device_name": None,
                "peak_memory_mb": None,
                "images_per_second": 100.0,
                "class_names": names,
                "n_classes": k,
            }
        )
    )


def make_runs(root: Path, n_test: int, k: int) -> list[Any]:
    """Fake run files for 6 variants x 3 seeds, evaluated by the library's run_evaluation."""
    from biomedclf.evaluate.evaluation import run_evaluation
    from biomedclf.layout import study_runs, train_files

    new = _new_formats()
    labels = np.arange(n_test) % k
    val_labels = np.arange(max(60, n_test // 4)) % k
    runs = study_runs(root, list(VARIANTS), SEEDS)
    for i, run in enumerate(runs):
        rng = np.random.default_rng(i)
        signal = VARIANTS[run.variant]
        splits = {
            "val": (
                [f"val/{j}.png" for j in range(val_labels.size)],
                val_labels,
                _probabilities(val_labels, k, signal, rng),
            ),
            "test": (
                [f"test/{j}.png" for j in range(n_test)],
                labels,
                _probabilities(labels, k, signal, rng),
            ),
        }
        _write_train_files(run, k, 10.0 + i)
        scores = train_files(root, run.variant, run.seed)["scores"]
        _write_scores(scores, splits, k, new)
        run_evaluation(scores, run.train_json, run.metrics, run.predictions, ordinal=False)
    return runs


def statistics(n_bootstrap: int) -> dict[str, Any]:
    """The ``statistics:`` section with the schema's defaults and ``n_bootstrap`` resamples."""
    from biomedclf.config.schema import load_schema, validate_config

    schema = load_schema(REPO / "workflow" / "schemas" / "config.schema.yaml")
    section = validate_config({}, schema["properties"]["statistics"])
    return {**section, "n_bootstrap": n_bootstrap, "seed": 0}


def measure(case: str, work: Path, n_bootstrap: int, repeats: int) -> dict[str, Any]:
    """Best wall and CPU seconds of study_statistics for ``case`` over ``repeats`` runs."""
    import biomedclf
    from biomedclf.stats.study import study_statistics

    n_test, k, target = CASES[case]
    if k > 2 and not _new_formats():
        return {"case": case, "skipped": "this code handles two classes only"}
    runs = make_runs(work / case, n_test, k)
    walls, cpus = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        study_statistics(runs, COMPARISONS, statistics(n_bootstrap), "test")
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    best = int(np.argmin(walls))
    return {
        "case": case,
        "n_test": n_test,
        "n_classes": k,
        "variants": len(VARIANTS),
        "seeds": len(SEEDS),
        "n_bootstrap": n_bootstrap,
        "seconds": round(walls[best], 2),
        "cpu_seconds": round(cpus[best], 2),
        "all_seconds": [round(w, 2) for w in walls],
        "target": target,
        "code": str(Path(biomedclf.__file__).parent),
    }


def measure_ref(
    ref: str, cases: list[str], work: Path, n_bootstrap: int, repeats: int
) -> list[dict[str, Any]]:
    """The same measurement of the code at git ``ref``, in a child process."""
    src = work / f"src_{ref.replace('/', '_')}"
    src.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", ref, "workflow/src"], check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(src)], input=archive, check=True)
    env = dict(os.environ, PYTHONPATH=str(src / "workflow" / "src"))
    out = work / f"ref_{ref.replace('/', '_')}.json"
    subprocess.run(
        [
            sys.executable,
            __file__,
            "--cases",
            ",".join(cases),
            "--n-bootstrap",
            str(n_bootstrap),
            "--repeats",
            str(repeats),
            "--ref",
            "",
            "--work",
            str(work / "ref"),
            "--json",
            str(out),
            "--quiet",
        ],
        check=True,
        env=env,
    )
    rows = json.loads(out.read_text())
    for r in rows:
        r["ref"] = ref
    return rows


def markdown(rows: list[dict[str, Any]]) -> str:
    """A Markdown table of the measurements, with the verdict of each target."""
    lines = [
        "| case | code | test images | classes | variants x seeds | resamples | wall s | CPU s "
        "| target | status |",
        "| :--- | :--- | ---: | ---: | :---: | ---: | ---: | ---: | :--- | :--- |",
    ]
    for r in rows:
        if "seconds" not in r:
            lines.append(
                f"| {r['case']} | {r.get('ref') or 'working tree'} | | | | | | | "
                f"| skipped: {r['skipped']} |"
            )
            continue
        status = ""
        if not r.get("ref"):
            if r["case"] == "k9":
                status = "PASS" if r["seconds"] < 60 else "FAIL"
            ref = next(
                (x for x in rows if x.get("ref") and x["case"] == r["case"] and "seconds" in x),
                None,
            )
            if r["case"] == "binary" and ref:
                ratio = r["seconds"] / ref["seconds"]
                status = f"{'PASS' if ratio <= 1.0 else 'FAIL'} ({ratio:.2f}x {ref['ref']})"
        code = r.get("ref") or "working tree"
        lines.append(
            f"| {r['case']} | {code} | {r['n_test']:,} | {r['n_classes']} | "
            f"{r['variants']} x {r['seeds']} | {r['n_bootstrap']:,} | {r['seconds']:.2f} | "
            f"{r['cpu_seconds']:.2f} | {r['target']} | {status} |"
        )
    return "\n".join(lines) + "\n"


def run(
    work: Path,
    cases: list[str] | None = None,
    n_bootstrap: int = 2000,
    repeats: int = 1,
    ref: str = "HEAD",
) -> list[dict[str, Any]]:
    """Every case with the imported code, and the binary case with the code at ``ref``."""
    cases = cases or list(CASES)
    rows = [measure(c, work / "now", n_bootstrap, repeats) for c in cases]
    if ref and "binary" in cases:
        rows = measure_ref(ref, ["binary"], work, n_bootstrap, repeats) + rows
    return rows


def main(argv: list[str] | None = None) -> int:
    """Measure the cases, print the Markdown table (and write the JSON rows if asked)."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cases", default=",".join(CASES), help="comma-separated: binary, k9")
    p.add_argument("--n-bootstrap", type=int, default=2000)
    p.add_argument("--repeats", type=int, default=1, help="best of this many runs (1)")
    p.add_argument(
        "--ref", default="HEAD", help="git revision to compare the binary case with ('' for none)"
    )
    p.add_argument("--work", type=Path, default=None, help="scratch folder (default: temporary)")
    p.add_argument("--json", type=Path, default=None, help="also write the rows as JSON here")
    p.add_argument("--quiet", action="store_true", help="no table on stdout")
    args = p.parse_args(argv)
    cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    unknown = sorted(set(cases) - set(CASES))
    if unknown:
        raise SystemExit(f"--cases: unknown {unknown}; use some of {', '.join(CASES)}")
    with tempfile.TemporaryDirectory(prefix="biomedclf-stats-bench-") as tmp:
        work = args.work or Path(tmp)
        rows = run(work, cases, args.n_bootstrap, args.repeats, args.ref)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
    if not args.quiet:
        sys.stdout.write(markdown(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
