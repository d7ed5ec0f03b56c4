"""py-spy against the gunicorn workers, and a plain-text summary of where their time goes.

`Profiler(master_pid, out)` records every worker (`--subprocesses`, idle stacks included so
time spent waiting on PostgreSQL shows) while a load runs; `summarize(raw)` turns py-spy's
collapsed stacks into: share of samples per phase (waiting for a request, in PostgreSQL, the
ORM building SQL, DRF, middleware, ...), the top functions by inclusive time and by self time.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path


def py_spy() -> str | None:
    local = Path(sys.executable).parent / "py-spy"
    return str(local) if local.exists() else shutil.which("py-spy")


class Profiler:
    def __init__(self, pid: int, output: Path, rate: int = 200):
        self.pid, self.output, self.rate = pid, output, rate
        self.proc: subprocess.Popen | None = None

    def start(self, duration: float) -> None:
        exe = py_spy()
        if exe is None:
            raise RuntimeError("py-spy is not installed (pip install -r bench/requirements.txt)")
        self.proc = subprocess.Popen(
            [
                exe,
                "record",
                "--pid",
                str(self.pid),
                "--subprocesses",
                "--idle",
                "--nonblocking",
                "--rate",
                str(self.rate),
                "--duration",
                str(max(1, round(duration))),
                "--format",
                "raw",
                "--output",
                str(self.output),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )

    def stop(self) -> str | None:
        """Wait for py-spy to finish; returns the text summary, or None if it recorded nothing."""
        if self.proc is None:
            return None
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.terminate()
            self.proc.wait()
        if not self.output.exists():
            return f"py-spy recorded nothing: {self.proc.stderr.read()[-500:]}"
        summary = summarize(self.output.read_text())
        self.output.with_suffix(".summary.txt").write_text(summary)
        return summary


def _frames(stack: str) -> list[str]:
    frames = stack.split(";")
    # With --subprocesses the root frame names the process.
    if frames and frames[0].startswith("process "):
        frames = frames[1:]
    return frames


def _file(frame: str) -> str:
    return frame[frame.rfind("(") + 1 : frame.rfind(")")] if "(" in frame else frame


def _phase(frames: list[str]) -> str:
    files = [_file(f) for f in frames]
    leaf = frames[-1] if frames else ""
    joined = ";".join(frames)
    if not any("handle_request" in f or "get_response" in f for f in frames):
        if "arbiter" in joined or "run_for_one" in joined or "accept" in leaf or "select" in leaf or "wait" in leaf:
            return "idle: worker waiting for a connection"
        return "gunicorn outside a request"
    for i in range(len(frames) - 1, -1, -1):
        f = files[i]
        if f.startswith("psycopg"):
            return "PostgreSQL round trips (psycopg, incl. waiting for the server)"
    for i in range(len(frames) - 1, -1, -1):
        f = files[i]
        if (
            f.startswith("django/db/models/sql")
            or f.startswith("django/db/models/expressions")
            or (f.startswith("django/db/models/lookups"))
        ):
            return "Django ORM: building SQL"
        if f.startswith("django/db"):
            return "Django ORM / db layer (other)"
        if f.startswith("django/core/signing") or f.startswith("hmac") or f.startswith("hashlib"):
            return "signing / hashing"
        if f.startswith("rest_framework"):
            return "DRF (views, serializers, renderers)"
        if f.startswith("json"):
            return "JSON encode/decode"
        if f.startswith("logging"):
            return "logging"
        if f.startswith("apps/"):
            return "application code (apps/)"
        if f.startswith("django/middleware") or f.startswith("django/contrib") or f.startswith("whitenoise"):
            return "middleware"
        if f.startswith("django/"):
            return "Django request handling (other)"
        if f.startswith("gunicorn"):
            return "gunicorn (parse/write HTTP)"
    return "other"


def _strip_line(frame: str) -> str:
    """'f (file.py:123)' -> 'f (file.py)'."""
    head, sep, rest = frame.rpartition(":")
    return head + ")" if sep and rest.rstrip(")").isdigit() else frame


def summarize(raw: str, top: int = 20) -> str:
    stacks: Counter = Counter()
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            stacks[stack] += int(count)
    total = sum(stacks.values())
    if not total:
        return "no samples\n"
    phases: Counter = Counter()
    app_inclusive: Counter = Counter()
    db_wait_by_call: Counter = Counter()
    self_time: Counter = Counter()
    busy = db_wait = 0
    for stack, count in stacks.items():
        frames = _frames(stack)
        phase = _phase(frames)
        phases[phase] += count
        if phase.startswith("idle"):
            continue
        busy += count
        for frame in {_strip_line(f) for f in frames if _file(f).startswith("apps/") and "middleware" not in f}:
            app_inclusive[frame] += count
        if frames:
            self_time[_strip_line(frames[-1])] += count
        if phase.startswith("PostgreSQL"):
            db_wait += count
            # The innermost application frame (with its line) is the query that waited.
            call = next((f for f in reversed(frames) if _file(f).startswith("apps/")), "(outside apps/)")
            db_wait_by_call[call] += count
    out = [
        f"samples: {total} over all workers; {busy} busy or inside a request, {total - busy} idle",
        "(idle includes a worker that was woken for a connection but not yet given a CPU)",
        "",
        "where the time goes (share of all samples):",
    ]
    for phase, count in phases.most_common():
        out.append(f"  {100 * count / total:5.1f}%  {phase}")
    out += ["", "application functions, inclusive share of busy samples:"]
    for frame, count in app_inclusive.most_common(top):
        out.append(f"  {100 * count / max(busy, 1):5.1f}%  {frame}")
    out += ["", "time in PostgreSQL round trips, by the application line that made the query:"]
    for frame, count in db_wait_by_call.most_common(top):
        out.append(f"  {100 * count / max(db_wait, 1):5.1f}% of db time  {frame}")
    out += ["", "functions by self share of busy samples:"]
    for frame, count in self_time.most_common(top):
        out.append(f"  {100 * count / max(busy, 1):5.1f}%  {frame}")
    return "\n".join(out) + "\n"
