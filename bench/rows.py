"""A row of the results table, the sums of several runs, and the verdicts shared by scenarios."""

from __future__ import annotations

import dataclasses
from collections import Counter

from bench.targets import TARGETS


@dataclasses.dataclass
class Row:
    id: str
    name: str
    tool: str = ""
    conns: int | None = None
    result: dict | None = None  # driver summary: requests, rps, p50/p95/p99, statuses, codes, errors
    floor: dict | None = None  # the floor summary the ratios use
    target: str = ""
    verdict: str = ""  # PASS / FAIL / "" (no target)
    measured: str = ""  # the figure the target is about, as text
    problems: list[str] = dataclasses.field(default_factory=list)  # correctness failures
    notes: list[str] = dataclasses.field(default_factory=list)


def measured_row(*, id: str, name: str, result: dict, floor: dict | None = None) -> Row:
    """A row without a target (information, references)."""
    return Row(id=id, name=name, tool=result["tool"], conns=result["conns"], result=result, floor=floor)


def throughput_row(*, id: str, name: str, result: dict, floor: dict) -> Row:
    """A scenario judged on req/s as a ratio to its floor (and p99, if its target has one)."""
    target = TARGETS[id]
    ratio = result["rps"] / floor["rps"]
    ok = ratio >= target.min_floor_ratio
    measured = f"{ratio:.2f} x floor"
    if target.max_p99_ms is not None:
        ok = ok and result["p99_ms"] < target.max_p99_ms
        measured += f", p99 {result['p99_ms']:.1f} ms"
    row = measured_row(id=id, name=name, result=result, floor=floor)
    row.target, row.verdict, row.measured = target.text(), "PASS" if ok else "FAIL", measured
    return row


def merge(parts: list[dict]) -> dict:
    """Slices of one measurement, one after the other, as one: sums, and request-weighted means
    of the percentiles."""
    if len(parts) == 1:
        return parts[0]
    elapsed = sum(p["elapsed_s"] for p in parts)
    merged = _sums(parts)
    merged.update(elapsed_s=elapsed, rps=merged["requests"] / elapsed if elapsed else 0.0, slices=len(parts))
    return merged


def merge_concurrent(parts: list[dict]) -> dict:
    """Runs that went on at the same time (one per server) as one: their rates add up."""
    if len(parts) == 1:
        return parts[0]
    merged = _sums(parts)
    merged.update(elapsed_s=max(p["elapsed_s"] for p in parts), rps=sum(p["rps"] for p in parts))
    return merged


def _sums(parts: list[dict]) -> dict:
    merged = {
        "requests": sum(p["requests"] for p in parts),
        "tool": parts[0].get("tool"),
        "conns": parts[0].get("conns"),
        "cpu_app_s": sum(p.get("cpu_app_s", 0.0) for p in parts),
        "cpu_db_s": sum(p.get("cpu_db_s", 0.0) for p in parts),
        "max_ms": max((p["max_ms"] or 0) for p in parts),
    }
    for key in ("p50_ms", "p95_ms", "p99_ms"):
        weighted = [(p[key], p["requests"]) for p in parts if p.get(key) is not None and p["requests"]]
        merged[key] = sum(v * n for v, n in weighted) / sum(n for _, n in weighted) if weighted else None
    for key in ("statuses", "codes", "errors"):
        counter: Counter = Counter()
        for p in parts:
            counter.update(p.get(key, {}))
        merged[key] = dict(counter)
    return merged


def count_status(result: dict, predicate) -> int:
    return sum(n for status, n in result.get("statuses", {}).items() if predicate(int(status)))


def transport_errors(result: dict) -> int:
    return sum(result.get("errors", {}).values())


def unexpected(result: dict, allowed: set[int]) -> list[str]:
    """Statuses below 500 other than `allowed`, as a correctness problem (5xx are counted apart)."""
    bad = {s: n for s, n in result.get("statuses", {}).items() if int(s) not in allowed and int(s) < 500}
    return [f"unexpected statuses {bad} {result.get('codes')}"] if bad else []
