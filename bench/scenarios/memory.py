"""Scenario 8: the peak RSS (VmHWM) of each worker of the project's server after all the runs
before it."""

from __future__ import annotations

from bench.rows import Row
from bench.targets import TARGETS

NUMBER = "8"


def run(bench) -> None:
    target = TARGETS["8"]
    mem = bench.app.worker_memory()
    peak = max((m["peak_rss_mb"] for m in mem), default=0)
    bench.add(
        Row(
            id="8",
            name=f"peak RSS of one worker ({len(mem)} workers)",
            target=target.text(),
            verdict="PASS" if 0 < peak < target.max_rss_mb else "FAIL",
            measured=f"{peak:.0f} MB peak (now: "
            + ", ".join(f"{m['rss_mb']:.0f}" for m in mem)
            + " MB RSS; PSS "
            + ", ".join(f"{m['pss_mb']:.0f}" for m in mem if m["pss_mb"] is not None)
            + " MB)",
        )
    )
