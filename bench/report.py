"""The results table, as text for the terminal and as Markdown for BENCHMARKS.md."""

from __future__ import annotations

from pathlib import Path

DOC_START = "<!-- bench:results:start -->"
DOC_END = "<!-- bench:results:end -->"

HEADERS = [
    "#",
    "scenario",
    "tool, conns",
    "requests",
    "req/s",
    "p50 ms",
    "p95 ms",
    "p99 ms",
    "CPU ms/req app+db",
    "4xx",
    "5xx",
    "err",
    "target",
    "measured",
    "result",
]


def _num(value, digits=1) -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}"


def _with_ratio(value, floor_value, digits=1, inverse=False) -> str:
    if value is None:
        return "-"
    text = _num(value, digits)
    if floor_value:
        text += f" ({value / floor_value:.2f}x)"
    return text


def _cpu_ms(r: dict) -> tuple[float, float] | None:
    if not r.get("requests") or "cpu_app_s" not in r:
        return None
    return 1000 * r["cpu_app_s"] / r["requests"], 1000 * r["cpu_db_s"] / r["requests"]


def _cpu(r: dict, ref: dict | None) -> str:
    mine = _cpu_ms(r)
    if mine is None:
        return "-"
    text = f"{mine[0]:.2f}+{mine[1]:.2f}"
    theirs = _cpu_ms(ref) if ref else None
    if theirs and sum(theirs):
        text += f" ({sum(mine) / sum(theirs):.2f}x)"
    return text


def _cells(row, floor_line: bool = False) -> list[str]:
    r = row.floor if floor_line else row.result
    ref = None if floor_line else row.floor
    if not r:
        return [row.id, row.name, "", "", "", "", "", "", "", "", "", "", row.target, row.measured, row.verdict]
    statuses = r.get("statuses", {})
    fours = sum(n for s, n in statuses.items() if 400 <= int(s) < 500)
    fives = sum(n for s, n in statuses.items() if int(s) >= 500)
    errors = sum(r.get("errors", {}).values())
    return [
        "" if floor_line else row.id,
        "  floor: the floor app (bench/floor_app), same tool and conns, interleaved" if floor_line else row.name,
        f"{r.get('tool', '')}, {r.get('conns', '')}",
        f"{r.get('requests', 0):,}",
        _with_ratio(r.get("rps"), ref and ref.get("rps"), 0),
        _with_ratio(r.get("p50_ms"), ref and ref.get("p50_ms")),
        _with_ratio(r.get("p95_ms"), ref and ref.get("p95_ms")),
        _with_ratio(r.get("p99_ms"), ref and ref.get("p99_ms")),
        _cpu(r, ref),
        str(fours),
        str(fives),
        str(errors),
        "" if floor_line else row.target,
        "" if floor_line else row.measured,
        "" if floor_line else (row.verdict + (" (!)" if row.problems else "")),
    ]


def _table_rows(rows) -> list[list[str]]:
    out = []
    for row in rows:
        out.append(_cells(row))
        if row.floor and row.result:
            out.append(_cells(row, floor_line=True))
    return out


def _machine_lines(m: dict) -> list[str]:
    return [
        f"{m.get('mode')} run, {m.get('date')}, {m.get('elapsed_s', '?')} s; load tool {m.get('tool')};"
        f" code under test: {m.get('code', '?')}",
        f"machine: {m.get('nproc')} CPUs ({m.get('cpu')}), {m.get('memory_gib')} GiB RAM; "
        f"PostgreSQL {m.get('postgresql')}; Redis {m.get('redis', '?')}; Python {m.get('python')};"
        f" gunicorn {m.get('gunicorn')} per server (the project's and the floor app's)"
        + (f"; server env {' '.join(m['server_env'])}" if m.get("server_env") else ""),
        f"load average at start {' '.join(m.get('loadavg_start', []))}, at end {' '.join(m.get('loadavg_end', []))}"
        " (the machine is shared: compare the ratios, not the raw figures)",
    ]


def _notes(rows) -> list[str]:
    lines = []
    for row in rows:
        for note in row.notes:
            lines.append(f"{row.id}: {note}")
        for problem in row.problems:
            lines.append(f"{row.id}: CORRECTNESS: {problem}")
        codes = (row.result or {}).get("codes")
        if codes:
            lines.append(f"{row.id}: error codes {codes}")
    return lines


def _cost_rows(costs: list[dict]) -> list[list[str]]:
    floor = next((c for c in costs if "floor" in c["endpoint"]), None)
    out = []
    for c in costs:
        ratio = f" ({c['cpu_ms'] / floor['cpu_ms']:.1f}x)" if floor and floor["cpu_ms"] else ""
        out.append([c["endpoint"], f"{c['queries']:g}", f"{c['cpu_ms']:.2f}{ratio}", ",".join(map(str, c["statuses"]))])
    return out


COST_HEADERS = ["in-process, one request (Django test client)", "SQL queries", "CPU ms (x floor)", "status"]


def render_text(rows, machine: dict, costs: list[dict] | None = None) -> str:
    table = [HEADERS] + _table_rows(rows)
    widths = [max(len(r[i]) for r in table) for i in range(len(HEADERS))]
    lines = [""] + _machine_lines(machine) + [""]
    for i, r in enumerate(table):
        lines.append("  ".join(cell.ljust(widths[j]) for j, cell in enumerate(r)).rstrip())
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    notes = _notes(rows)
    if notes:
        lines += [""] + notes
    if costs:
        table = [COST_HEADERS] + _cost_rows(costs)
        widths = [max(len(r[i]) for r in table) for i in range(len(COST_HEADERS))]
        lines.append("")
        for i, r in enumerate(table):
            lines.append("  ".join(cell.ljust(widths[j]) for j, cell in enumerate(r)).rstrip())
            if i == 0:
                lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines) + "\n"


def render_markdown(rows, machine: dict, costs: list[dict] | None = None) -> str:
    lines = [f"- {line}" for line in _machine_lines(machine)] + [""]
    lines.append("| " + " | ".join(HEADERS) + " |")
    lines.append("|" + "|".join("---" for _ in HEADERS) + "|")
    for r in _table_rows(rows):
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in r) + " |")
    notes = _notes(rows)
    if notes:
        lines += [""] + [f"- {n}" for n in notes]
    if costs:
        lines += ["", "| " + " | ".join(COST_HEADERS) + " |", "|" + "|".join("---" for _ in COST_HEADERS) + "|"]
        lines += ["| " + " | ".join(r) + " |" for r in _cost_rows(costs)]
    return "\n".join(lines) + "\n"


def update_doc(path: Path, markdown: str) -> None:
    """Replace the results block of BENCHMARKS.md (between the markers) with this run's table."""
    text = path.read_text() if path.exists() else f"# Benchmarks\n\n{DOC_START}\n{DOC_END}\n"
    if DOC_START not in text or DOC_END not in text:
        text += f"\n{DOC_START}\n{DOC_END}\n"
    head, rest = text.split(DOC_START, 1)
    _, tail = rest.split(DOC_END, 1)
    path.write_text(f"{head}{DOC_START}\n{markdown}{DOC_END}{tail}")
