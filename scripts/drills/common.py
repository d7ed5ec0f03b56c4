"""Shared pieces of the fault drills and the soak: a tiny HTTP client for 127.0.0.1 and a
seeded world (one concert, users with money) on a server started by bench.server."""

from __future__ import annotations

import http.client
import json
import os
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from bench import server as bench_server
from bench.server import app_export, manage

PRICE = 1_000
# The drills' own Redis database (flushed by each drill): not the tests' (15), the bench's (14)
# nor 0, everyone's default. DRILLS_REDIS_URL moves them, e.g. while another run uses 13.
REDIS_URL = os.environ.get("DRILLS_REDIS_URL", "redis://127.0.0.1:6379/13")


@dataclass
class Reply:
    status: int
    content_type: str
    body: dict | None
    retry_after: str | None = None


class Api:
    """Blocking JSON calls to the server under test. Only ever 127.0.0.1."""

    def __init__(self, port: int, timeout: float = 10):
        self.port, self.timeout = port, timeout

    def call(self, method: str, path: str, body=None, headers: dict | None = None) -> Reply:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
        try:
            payload = json.dumps(body).encode() if body is not None else None
            all_headers = {"Content-Type": "application/json", **(headers or {})}
            conn.request(method, path, body=payload, headers=all_headers)
            response = conn.getresponse()
            raw = response.read()
            try:
                parsed = json.loads(raw) if raw else None
            except ValueError:
                parsed = None
            content_type, retry_after = response.getheader("Content-Type", ""), response.getheader("Retry-After")
            return Reply(response.status, content_type, parsed, retry_after)
        except OSError:
            return Reply(0, "", None)  # connection refused or reset: the server itself is down
        finally:
            conn.close()


@dataclass
class Shopper:
    user_id: int
    api_key: str
    queue_token: str | None = None


def seed_world(
    env: dict, api: Api | list[Api], *, shoppers: int, dates: list[str], balance: int
) -> tuple[int, list[Shopper]]:
    """One concert with 50 seats per date; shoppers signed up over HTTP with money in the wallet
    (several at once, spread over the servers when given a list)."""
    output = manage(
        env, "seed_concert", "--title", "Drill", "--venue", "Hall", "--dates", *dates, "--price", str(PRICE)
    )
    concert_id = int(output.strip().splitlines()[-1])
    apis = api if isinstance(api, list) else [api]
    stamp = int(time.time() * 1000)

    def sign_up(index: int) -> Shopper:
        server = apis[index % len(apis)]
        signup = server.call("POST", "/api/v1/users", {"username": f"drill{stamp}_{index}"})
        if signup.status != 201:
            raise RuntimeError(f"signup failed: {signup.status} {signup.body}")
        shopper = Shopper(signup.body["id"], signup.body["api_key"])
        charge = server.call(
            "POST", f"/api/v1/users/{shopper.user_id}/wallet/charge", {"amount": balance}, key_header(shopper)
        )
        if charge.status != 200:
            raise RuntimeError(f"charge failed: {charge.status} {charge.body}")
        return shopper

    with ThreadPoolExecutor(max_workers=8) as pool:
        return concert_id, list(pool.map(sign_up, range(shoppers)))


def key_header(shopper: Shopper) -> dict:
    return {"Authorization": f"Token {shopper.api_key}"}


def queue_header(shopper: Shopper) -> dict:
    return {"X-Queue-Token": shopper.queue_token or ""}


def audit(env: dict) -> tuple[bool, str]:
    """Run `manage.py audit_ledger`; (passed, its output)."""
    try:
        return True, manage(env, "audit_ledger").strip()
    except Exception as error:  # CalledProcessError carries the named rows in stderr
        return False, getattr(error, "stderr", str(error)).strip()


def use_app_rev(rev: str | None) -> None:
    """Run the application as committed at `rev` (a git archive in /tmp) rather than the working
    tree, which others may be editing; None keeps the working tree."""
    if rev:
        bench_server.APP_DIR = app_export(rev, Path(tempfile.gettempdir()) / "drill-apps")


def verdict(checks: dict[str, bool], *, closing: str = "") -> int:
    """Print each check and the drill's PASS or FAIL (followed by `closing`); the exit status."""
    for name, ok in checks.items():
        print(f"  {'ok  ' if ok else 'FAIL'} {name}")
    passed = all(checks.values())
    print(f"{'PASS' if passed else 'FAIL'}{closing}")
    return 0 if passed else 1
