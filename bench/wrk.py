"""Runs wrk (Debian's `wrk` package) with a generated Lua script and reads back its numbers.

The script sends requests from a fixed list (rotating, or each one once for "distinct" lists
such as one token issue per user), counts statuses and problem `code`s per thread, stops each
thread after its share of `max_requests`, and prints one JSON line in done().
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import time
from pathlib import Path

MARKER = "BENCH_JSON "

LUA_TEMPLATE = r"""
local requests = %(requests)s
local distinct = %(distinct)s
local max_per_thread = %(max_per_thread)d
local threads = {}

function setup(thread)
  thread:set("id", #threads)
  thread:set("nthreads", %(threads)d)
  table.insert(threads, thread)
end

function init(args)
  counts = {}
  codes = {}
  done_count = 0
  local mine = {}
  for i = 1, #requests do
    if distinct == 0 or (i - 1) %% nthreads == id then
      local r = requests[i]
      table.insert(mine, wrk.format(r[1], r[2], r[3], r[4]))
    end
  end
  reqs = mine
  -- Rotating lists start at a different place in every thread.
  pos = (distinct == 0) and (id * math.floor(#reqs / nthreads)) or 0
end

function request()
  pos = pos + 1
  if pos > #reqs then
    if distinct == 1 then
      wrk.thread:stop()
      pos = #reqs
    else
      pos = 1
    end
  end
  return reqs[pos]
end

function response(status, headers, body)
  counts[status] = (counts[status] or 0) + 1
  if status >= 400 then
    local code = string.match(body or "", '"code"%%s*:%%s*"([%%w_]+)"') or "?"
    local key = status .. " " .. code
    codes[key] = (codes[key] or 0) + 1
  end
  done_count = done_count + 1
  if done_count >= max_per_thread then
    wrk.thread:stop()
  end
end

local function jmap(t)
  local parts = {}
  for k, v in pairs(t) do
    table.insert(parts, string.format('"%%s": %%d', tostring(k), v))
  end
  return "{" .. table.concat(parts, ", ") .. "}"
end

function done(summary, latency, requests)
  local statuses, allcodes = {}, {}
  for _, t in ipairs(threads) do
    for k, v in pairs(t:get("counts") or {}) do statuses[k] = (statuses[k] or 0) + v end
    for k, v in pairs(t:get("codes") or {}) do allcodes[k] = (allcodes[k] or 0) + v end
  end
  local issued = {}
  for _, t in ipairs(threads) do table.insert(issued, tostring(t:get("pos") or 0)) end
  local e = summary.errors
  io.write(string.format(
    '%(marker)s{"requests": %%d, "duration_us": %%d, "p50_us": %%d, "p95_us": %%d, "p99_us": %%d, ' ..
    '"max_us": %%d, "mean_us": %%f, "statuses": %%s, "codes": %%s, ' ..
    '"errors": {"connect": %%d, "read": %%d, "write": %%d, "timeout": %%d}, "issued": [%%s]}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(95),
    latency:percentile(99), latency.max, latency.mean, jmap(statuses), jmap(allcodes),
    e.connect, e.read, e.write, e.timeout, table.concat(issued, ", ")))
end
"""


def available() -> bool:
    return shutil.which("wrk") is not None


def _lua_str(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _lua_requests(requests: list[dict]) -> str:
    rows = []
    for r in requests:
        headers = ", ".join(f"[{_lua_str(k)}] = {_lua_str(v)}" for k, v in (r.get("headers") or {}).items())
        body = _lua_str(r["body"]) if "body" in r else "nil"
        rows.append(f"{{{_lua_str(r['method'])}, {_lua_str(r['path'])}, {{{headers}}}, {body}}}")
    return "{\n" + ",\n".join(rows) + "\n}"


def run(
    *,
    host: str,
    port: int,
    requests: list[dict],
    connections: int,
    duration: float,
    max_requests: int,
    workdir: Path,
    name: str,
    distinct: bool = False,
    stop_when=None,
) -> dict:
    """Run wrk; returns the same shape as the Python driver's summary.

    `stop_when`, if given, is polled every 0.1 s; when it returns True wrk is interrupted
    (SIGINT makes wrk stop and still print its numbers).
    """
    if host not in ("127.0.0.1", "localhost"):
        raise ValueError("the bench only targets loopback")
    threads = max(1, min(2, connections))
    script = workdir / f"wrk-{name}.lua"
    script.write_text(
        LUA_TEMPLATE
        % {
            "requests": _lua_requests(requests),
            "distinct": 1 if distinct else 0,
            "max_per_thread": max(1, max_requests // threads),
            "threads": threads,
            "marker": MARKER,
        }
    )
    cmd = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(duration))}s",
        "--timeout",
        "10s",
        "-s",
        str(script),
        f"http://{host}:{port}/",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if stop_when is not None:
        while proc.poll() is None:
            if stop_when():
                time.sleep(0.05)
                proc.send_signal(signal.SIGINT)
                break
            time.sleep(0.1)
    out, err = proc.communicate(timeout=duration + 60)
    line = next((ln for ln in out.splitlines() if ln.startswith(MARKER)), None)
    if line is None:
        raise RuntimeError(f"wrk printed no result (exit {proc.returncode}): {out}\n{err}")
    raw = json.loads(line[len(MARKER) :])
    seconds = raw["duration_us"] / 1e6
    errors = {k: v for k, v in raw["errors"].items() if v}
    remaining = None
    if distinct:
        # Thread t sent (or was about to send) its first issued[t] requests of indices t, t+n, ...
        issued = raw["issued"]
        remaining = [i for i in range(len(requests)) if i // threads >= issued[i % threads]]
    return {
        "remaining": remaining,
        "requests": raw["requests"],
        "elapsed_s": seconds,
        "rps": raw["requests"] / seconds if seconds else 0.0,
        "p50_ms": raw["p50_us"] / 1000,
        "p95_ms": raw["p95_us"] / 1000,
        "p99_ms": raw["p99_us"] / 1000,
        "max_ms": raw["max_us"] / 1000,
        "statuses": {str(k): v for k, v in raw["statuses"].items()},
        "codes": raw["codes"],
        "errors": errors,
    }
