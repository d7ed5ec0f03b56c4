"""The README's first command, checked: `scripts/demo` on its SQLite default serves the whole
booking flow, and Ctrl-C stops the web server and the scheduled tasks together.

    .venv/bin/python -m scripts.drills.demo_smoke
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench.server import ROOT, free_port
from scripts.drills.common import Api


def expect(reply, status: int, what: str):
    if reply.status != status:
        raise SystemExit(f"FAIL {what}: expected {status}, got {reply.status} {reply.body}")
    print(f"  ok   {what}: {status}")
    return reply.body


def main() -> int:
    port = free_port()
    database = Path(tempfile.mkdtemp()) / "demo.sqlite3"
    env = {**os.environ, "PORT": str(port), "DATABASE_URL": f"sqlite:///{database}"}
    demo = subprocess.Popen(
        ["scripts/demo"], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
    )
    # Read the demo's output as it comes (a full pipe would stall it), to show it on failure.
    output: list[str] = []

    def read_output() -> None:
        for line in demo.stdout:
            output.append(line.decode(errors="replace"))

    reader = threading.Thread(target=read_output, daemon=True)  # a leftover may hold the pipe
    reader.start()
    api = Api(port)
    try:
        deadline = time.monotonic() + 300  # a fresh machine installs the requirements first
        while api.call("GET", "/health").status != 200:
            if demo.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"FAIL scripts/demo did not come up:\n{''.join(output)[-3000:]}")
            time.sleep(0.5)
        print(f"demo_smoke: scripts/demo on SQLite at 127.0.0.1:{port}")
        signup = expect(api.call("POST", "/api/v1/users", {"username": "smoke"}), 201, "sign up")
        key = {"Authorization": f"Token {signup['api_key']}"}
        charge = api.call("POST", f"/api/v1/users/{signup['id']}/wallet/charge", {"amount": 500_000}, key)
        expect(charge, 200, "charge")
        token = expect(api.call("POST", "/api/v1/queue/tokens", headers=key), 201, "take a queue token")["token"]
        queue = {"X-Queue-Token": token}
        expect(api.call("GET", "/api/v1/queue/status", headers=queue), 200, "poll")
        dates = expect(api.call("GET", "/api/v1/concerts/1/dates", headers=queue), 200, "bookable dates")["dates"]
        date = dates[0]["date"]
        expect(api.call("GET", f"/api/v1/concerts/1/dates/{date}/seats", headers=queue), 200, "seat map")
        body = {"concert_id": 1, "date": date, "seat_number": 7}
        hold = expect(api.call("POST", "/api/v1/reservations", body, queue), 201, "hold")
        pay = api.call("POST", "/api/v1/payments", {"reservation_ids": [hold["id"]]}, queue)
        expect(pay, 201, "pay")
        expect(api.call("GET", "/api/v1/reservations", headers=key), 200, "my reservations")
        expect(api.call("GET", "/api/docs/"), 200, "Swagger UI")
        expect(api.call("GET", "/"), 200, "web start page")
        assert dt.date.fromisoformat(date) >= dt.date.today()
    finally:
        # Ctrl-C, as a terminal sends it: to the whole foreground process group. It lands
        # whenever the flow above ends, the scheduled tasks possibly still starting.
        os.killpg(demo.pid, signal.SIGINT)
        try:
            demo.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(demo.pid, signal.SIGKILL)
            raise SystemExit(f"FAIL Ctrl-C did not stop scripts/demo:\n{''.join(output)[-3000:]}") from None
    leftovers = processes_with_environment(f"DATABASE_URL=sqlite:///{database}")
    if leftovers:
        for pid in leftovers:
            os.kill(pid, signal.SIGKILL)
        raise SystemExit(f"FAIL processes left after Ctrl-C (now killed): {leftovers}")
    print("  ok   Ctrl-C stopped the web server and the scheduled tasks")
    return 0


def processes_with_environment(entry: str) -> list[int]:
    """Processes started with this environment entry: the demo's, whatever their process
    group (qcluster runs in a session of its own)."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and entry.encode() in (proc / "environ").read_bytes().split(b"\0"):
                found.append(int(proc.name))
        except OSError:  # gone meanwhile, or not ours to read
            continue
    return found


if __name__ == "__main__":
    sys.exit(main())
