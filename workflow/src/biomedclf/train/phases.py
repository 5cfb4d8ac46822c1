"""Where a training job's seconds go: consecutive phases from the process's start to the
writing of train.json, recorded there as ``phases`` (format in ``workflow/CONTRACTS.md``).

The train adapter starts a :class:`PhaseClock` on its first line (:meth:`PhaseClock.at_script`:
the seconds since the process started are the start-up: interpreter and Snakemake's preamble);
:func:`biomedclf.train.loop.run_training` marks the end of each later phase. Called without a
clock (the library used alone) the first two phases are null. This module imports nothing
heavy, so that the adapter can import it before torch.

The adapter's clock also keeps Python's cyclic garbage collector off the job's modules: it is
paused while they are imported (the imports and the set-up), then told to leave every object
that exists at that point out of its passes (``gc.freeze``). Torch's modules are hundreds of
thousands of objects that live as long as the process; sweeping them (with torch's compiler
package, which CPU jobs no longer import: :mod:`biomedclf.train.optimizers`) cost about 1 s
of CPU at the process's exit alone here. No number a job computes changes.
"""

from __future__ import annotations

import gc
import os
import time

#: The phases in the order they run, as train.json names them (seconds each).
PHASES = (
    "start_up_s",  # process start -> the train adapter's first line
    "imports_s",  # -> run_training's entry (torch and the package)
    "set_up_s",  # -> threads, device and its settings chosen
    "load_s",  # -> the cache mapped, checked and placed for the device
    "build_s",  # -> model and optimiser built (or resumed), objective, callbacks started
    "loop_s",  # -> the last epoch done (training, validation, checkpoints, callbacks)
    "score_s",  # -> the saved model's probabilities on val (heldout) and test
    "write_s",  # -> model.pt, history.csv and scores.csv written (train.json follows)
)


def process_age() -> float | None:
    """Seconds since this process started (Linux: ``/proc/self/stat``'s start time, in clock
    ticks since boot, against ``CLOCK_BOOTTIME``); None where that cannot be read."""
    try:
        with open("/proc/self/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()  # after "pid (command)"
        started = int(fields[19]) / os.sysconf("SC_CLK_TCK")  # field 22: starttime
        return max(0.0, time.clock_gettime(time.CLOCK_BOOTTIME) - started)
    except (OSError, ValueError, IndexError, AttributeError):
        return None


class PhaseClock:
    """The seconds of each phase of :data:`PHASES` as they end (``time.perf_counter``)."""

    def __init__(self, seconds: dict[str, float | None], gc_paused: bool = False) -> None:
        self.seconds = dict(seconds)
        self.gc_paused = gc_paused
        self.last = time.perf_counter()

    @classmethod
    def at_script(cls) -> PhaseClock:
        """A clock started on the adapter's first line: start-up measured, imports begin
        (with the garbage collector paused until the set-up ends)."""
        gc.disable()
        age = process_age()
        return cls({"start_up_s": None if age is None else round(age, 4)}, gc_paused=True)

    @classmethod
    def at_entry(cls) -> PhaseClock:
        """A clock for the library called alone: start-up and imports unknown (null)."""
        return cls({"start_up_s": None, "imports_s": None})

    def enter(self) -> None:
        """run_training's entry: the imports end here (when the adapter started the clock)."""
        if "imports_s" not in self.seconds:
            self.mark("imports_s")

    def mark(self, phase: str) -> None:
        """End ``phase`` (one of :data:`PHASES`) now; the next one starts."""
        if phase not in PHASES:
            raise ValueError(f"unknown phase {phase!r}; one of {', '.join(PHASES)}")
        now = time.perf_counter()
        self.seconds[phase] = round(now - self.last, 4)
        self.last = now
        if phase == "set_up_s" and self.gc_paused:  # the modules are in: leave them out
            gc.freeze()
            gc.enable()
            self.gc_paused = False

    def record(self) -> dict[str, float | None]:
        """train.json's ``phases``: every phase in order, null where it was not timed."""
        return {phase: self.seconds.get(phase) for phase in PHASES}
