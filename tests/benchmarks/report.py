"""Targets (PASS/FAIL) and the Markdown table of a benchmark run."""

from __future__ import annotations

from typing import Any

#: The targets of issue 7 on a 2-core CPU.
TARGETS = {
    "training_conv": ">= 2x notebook images/s (conv, 256 px)",
    "preparation": ">= 1.6x single-process ImageFolder (prepare_dataset, 2 threads)",
    "dag": "< 3 s for 10 variants x 5 seeds (50 train jobs)",
    "rerun": "< 5 s with nothing to do",
    "study": "default study wall <= 1.3x sum of its train_seconds",
}


#: Said of a measurement taken while the machine was busy.
BUSY = " (machine busy: other users; figures are lower than on a quiet machine)"


def _fmt(value: float | None, unit: str = "", digits: int = 1) -> str:
    if value is None:
        return "n/a"
    return f"{value:,.{digits}f}{unit}"


def _si(flops: float | None) -> str:
    return "n/a" if flops is None else f"{flops / 1e9:,.1f} GFLOP/s"


def evaluate_targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per target: measured value, limit, PASS/FAIL, or SKIP with the reason."""
    rows: list[dict[str, Any]] = []

    def add(key: str, value: float | None, ok: bool | None, shown: str, why: str = "") -> None:
        status = "SKIP" if ok is None else ("PASS" if ok else "FAIL")
        rows.append(
            {
                "target": key,
                "rule": TARGETS[key],
                "value": value,
                "shown": shown,
                "status": status,
                "note": why,
            }
        )

    tr = results.get("training")
    conv = (tr or {}).get("cpu", {}).get("conv")
    if conv and conv.get("ratio") is not None:
        add("training_conv", conv["ratio"], conv["ratio"] >= 2.0, f"{conv['ratio']:.2f}x")
    else:
        add("training_conv", None, None, "n/a", "training part not run")
    pr = results.get("preparation")
    if pr:
        add(
            "preparation",
            pr["ratio_prepare"],
            pr["ratio_prepare"] >= 1.6,
            f"{pr['ratio_prepare']:.2f}x",
        )
    else:
        add("preparation", None, None, "n/a", "preparation part not run")
    wf = results.get("workflow")
    if wf:
        d = wf["dag"]["seconds"]
        add("dag", d, d < 3.0, f"{d:.2f} s")
        r = wf["rerun_nothing_to_do"]["seconds"]
        add("rerun", r, r < 5.0, f"{r:.2f} s")
        st = wf.get("default_study")
        if st and st.get("ratio_wall_to_train_seconds") is not None:
            v = st["ratio_wall_to_train_seconds"]
            add("study", v, v <= 1.3, f"{v:.2f}x")
        else:
            add("study", None, None, "n/a", wf.get("default_study_skipped", "not measured"))
    else:
        for key in ("dag", "rerun", "study"):
            add(key, None, None, "n/a", "workflow part not run")
    return rows


def markdown(results: dict[str, Any]) -> str:
    """The run as a Markdown table (one row per figure), the machine and the target verdicts."""
    m = results["machine"]
    lines = [
        f"Machine: {m['cpu_model']}, {m['cores']} cores ({', '.join(m['cpu_flags']) or 'no AVX'}),"
        f" {m['memory_gb']} GB; torch {m['torch']}, torchvision {m['torchvision']},"
        f" snakemake {m['snakemake']}, Python {m['python']}.",
        f"Load average (1/5/15 min) at start {results['load']['start']}, at end"
        f" {results['load']['end']}{'' if results['load']['quiet_at_start'] else BUSY}."
        f" Mode: {'quick' if results['quick'] else 'full'}.",
        "",
        "| Measure | Workflow | Baseline | Ratio | Target |",
        "|---|---:|---:|---:|---|",
    ]
    targets = {t["target"]: t for t in results["targets"]}

    def verdict(key: str) -> str:
        t = targets.get(key)
        return "" if t is None else f"{TARGETS[key].split(' (')[0]}: **{t['status']}**"

    tr = results.get("training")
    if tr:
        n, size, bs, th = tr["images"], tr["image_size"], tr["batch_size"], tr["threads"]
        for name, row in tr["cpu"].items():
            lines.append(
                f"| Training `{name}` {size}px, batch {bs}, {th} threads (img/s; workflow loop vs"
                f" notebook ImageFolder loop, {n} images)"
                f" | {_fmt(row['workflow']['images_per_second'])}"
                f" | {_fmt(row['notebook']['images_per_second'])} | {_fmt(row['ratio'], 'x', 2)} |"
                f" {verdict('training_conv') if name == 'conv' else ''} |"
            )
        fp = tr.get("conv_fraction_of_peak")
        if fp:
            lines.append(
                f"| `conv` training rate ({fp['flops_per_image'] / 1e9:.2f} GFLOP per image,"
                f" fwd+bwd) vs float32 matmul peak"
                f" (workflow; notebook {fp['notebook_fraction']:.0%})"
                f" | {_si(fp['achieved_flops'])} | {_si(fp['peak_flops'])} |"
                f" {fp['fraction']:.0%} of peak | |"
            )
        if tr.get("cuda"):
            for name, row in tr["cuda"].items():
                lines.append(
                    f"| CUDA training `{name}` (img/s; peak GPU memory MB workflow / notebook)"
                    f" | {_fmt(row['workflow']['images_per_second'])}"
                    f" ({_fmt(row['workflow'].get('peak_gpu_memory_mb'), ' MB', 0)})"
                    f" | {_fmt(row['notebook']['images_per_second'])}"
                    f" ({_fmt(row['notebook'].get('peak_gpu_memory_mb'), ' MB', 0)})"
                    f" | {_fmt(row['ratio'], 'x', 2)} | |"
                )
        else:
            lines.append(f"| CUDA training | skipped | | | {tr.get('cuda_skipped', '')} |")
    pr = results.get("preparation")
    if pr:
        f = pr["folder"]
        p, s, p1 = pr["prepare"], pr["imagefolder_single_process"], pr["prepare_1_thread"]
        lines += [
            f"| Preparation, {f['images']} JPEG+PNG ~{f['side']}px -> {pr['image_size']}px (img/s;"
            f" prepare_dataset {p['threads']} threads vs single-process ImageFolder)"
            f" | {_fmt(p['images_per_second'], '', 0)} | {_fmt(s['images_per_second'], '', 0)}"
            f" | {_fmt(pr['ratio_prepare'], 'x', 2)} | {verdict('preparation')} |",
            f"| Preparation, decode stage only ({p['threads']} threads; 1 thread:"
            f" {_fmt(p1['decode_images_per_second'], ' img/s', 0)})"
            f" | {_fmt(p['decode_images_per_second'], '', 0)}"
            f" | {_fmt(s['images_per_second'], '', 0)}"
            f" | {_fmt(pr['ratio_decode_stage'], 'x', 2)} | |",
            f"| Loading the cache (load_split, 3 splits) vs decoding again (img/s)"
            f" | {_fmt(pr['cache_load']['images_per_second'], '', 0)}"
            f" | {_fmt(s['images_per_second'], '', 0)}"
            f" | {_fmt(pr['ratio_load_vs_decode'], 'x', 0)} | |",
        ]
    wf = results.get("workflow")
    if wf:
        d, r, sm = wf["dag"], wf["rerun_nothing_to_do"], wf["smoke_study"]
        lines += [
            f"| DAG: `snakemake -n`, {d['variants']} variants x {d['seeds']} seeds"
            f" ({d['train_jobs']} train jobs, {d['total_jobs']} in all), median of"
            f" {len(d['all_seconds'])} (runs: {', '.join(f'{x:.2f}' for x in d['all_seconds'])})"
            f" | {_fmt(d['seconds'], ' s', 2)}"
            f" | | | {verdict('dag')} |",
            f"| No-change rerun: `snakemake --cores 2` on the finished smoke study, median of"
            f" {len(r['all_seconds'])}"
            f" | {_fmt(r['seconds'], ' s', 2)} | | | {verdict('rerun')} |",
            f"| Smoke study (configs/smoke.yaml) from scratch: wall vs sum of its {sm['jobs']}"
            " jobs' wall times (snakemake metadata); cores busy"
            f" {_fmt(100 * (sm['busy_fraction'] or 0), '%', 0)}"
            f" | {_fmt(sm['wall_seconds'], ' s')} | {_fmt(sm['sum_job_seconds'], ' s')}"
            f" | {_fmt(sm['ratio_wall_to_job_seconds'], 'x', 2)} | |",
        ]
        st = wf.get("default_study")
        if st:
            lines.append(
                f"| Default study (config.yaml, {st['train_jobs']} train jobs,"
                f" --cores {st['cores']},"
                f" train threads {st['train_threads']}): wall vs sum of train_seconds"
                f" | {_fmt(st['wall_seconds'], ' s')} | {_fmt(st['sum_train_seconds'], ' s')}"
                f" | {_fmt(st['ratio_wall_to_train_seconds'], 'x', 2)} | {verdict('study')} |"
            )
            lines.append(
                f"| Default study: wall vs sum of all {st['jobs']} jobs' wall times (snakemake"
                f" metadata; start-up is {_fmt(100 * (st['train_startup_share'] or 0), '%', 0)} of"
                f" train jobs' time); cores busy {_fmt(100 * (st['busy_fraction'] or 0), '%', 0)}"
                f" | {_fmt(st['wall_seconds'], ' s')} | {_fmt(st['sum_job_seconds'], ' s')}"
                f" | {_fmt(st['ratio_wall_to_job_seconds'], 'x', 2)} | |"
            )
        else:
            lines.append(f"| Default study | not run | | | {wf.get('default_study_skipped', '')} |")
    if results.get("ablation"):
        import ablation

        lines += [
            "",
            "What each change to the training step buys (ablation, median of"
            f" {results['ablation']['rounds']} rounds):",
            "",
            ablation.markdown(results["ablation"]).rstrip(),
        ]
    if results.get("prepare_memory"):
        lines += [
            "",
            "Peak memory of prepare_dataset (384 px JPEGs, fresh process per size):",
            "",
            results["prepare_memory"]["markdown"].rstrip(),
        ]
    lines += ["", "Targets:"]
    for t in results["targets"]:
        note = f" ({t['note']})" if t["note"] else ""
        lines.append(f"- {t['status']}: {t['rule']}: measured {t['shown']}{note}")
    return "\n".join(lines) + "\n"
