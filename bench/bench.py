"""Requests/s and latency of the service under uvicorn: Django's stock ASGI handler against
the long-lived executor (config/asgi_handler.py), side by side. A script, not a test.

    uv run python bench/bench.py                       # 1 and 2 workers, stock vs executor
    uv run python bench/bench.py --workers 1 --handlers stock,threads1,threads2,threads4
    uv run python bench/bench.py --endpoints health,me --duration 20 --concurrency 64

Needs PostgreSQL on 127.0.0.1:5432 (user postgres, trust; the database auth_bench is created
and migrated when missing) and Redis on 127.0.0.1:6379 (database 13, emptied before each
server starts). Load comes from wrk when installed (apt-get install -y wrk), else from an
asyncio + httpx generator in this process (heavier: it takes CPU from the server).
See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
ENDPOINTS = ("health", "me", "refresh", "login")
EMAIL = "bench@example.com"
PASSWORD = "bench-Password-8731"  # a throw-away account in a throw-away database


@dataclass
class Result:
    requests: int
    seconds: float
    bad: int  # non-2xx answers and socket errors
    p50: float  # milliseconds
    p90: float
    p99: float

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


# --- set-up ---------------------------------------------------------------------------------


def _run(cmd: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=False)  # noqa: S603


def ensure_database(args: argparse.Namespace, env: dict[str, str]) -> None:
    """Create the benchmark database when missing, and migrate it."""
    pg = ["-h", args.pg_host, "-p", str(args.pg_port), "-U", "postgres"]
    created = _run(["createdb", *pg, args.database])
    if created.returncode != 0 and "already exists" not in created.stderr:
        sys.exit(f"createdb {args.database} failed: {created.stderr.strip()}")
    migrated = _run([sys.executable, "manage.py", "migrate", "--noinput"], env=env)
    if migrated.returncode != 0:
        sys.exit(f"migrate failed:\n{migrated.stdout}\n{migrated.stderr}")


def server_env(args: argparse.Namespace, state_dir: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ASGI_", "THROTTLE_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DATABASE_URL=f"postgres://postgres@{args.pg_host}:{args.pg_port}/{args.database}",
        REDIS_URL=args.redis_url,
        APP_ENV="development",
        DEBUG="false",
        LOG_LEVEL="WARNING",
        STATE_DIR=state_dir,
        ACCESS_TOKEN_LIFETIME="3600",
        # The benchmark logs in far more often than a person would: no throttling.
        THROTTLE_LOGIN_PER_MINUTE="0",
        THROTTLE_REGISTER_PER_MINUTE="0",
        THROTTLE_ACCOUNT_FAILURES="0",
    )
    return env


def flush_redis(url: str) -> None:
    import redis

    redis.Redis.from_url(url).flushdb()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def handler_env(handler: str) -> dict[str, str]:
    """`stock`, `executor` (ASGI_THREADS unset: the default), `threadsN` or `lease`
    (ASGI_THREADS=0: a long-lived thread per request in flight)."""
    if handler == "stock":
        return {"ASGI_STOCK_HANDLER": "1"}
    if handler == "executor":
        return {}
    if handler == "lease":
        return {"ASGI_THREADS": "0"}
    if handler.startswith("threads") and handler[7:].isdigit():
        return {"ASGI_THREADS": handler[7:]}
    raise SystemExit(f"unknown handler {handler!r}: stock, executor, threadsN or lease")


@contextlib.contextmanager
def server(env: dict[str, str], workers: int, ready: str = "/health/ready") -> Iterator[str]:
    """`manage.py serve` (the production uvicorn configuration), less the access log; yields
    its base URL."""
    port = free_port()
    cmd = [sys.executable, "manage.py", "serve"]
    served_env = {**env, "ACCESS_LOG": "false", "HOST": "127.0.0.1", "PORT": str(port),
                  "WEB_CONCURRENCY": str(workers)}  # fmt: skip
    with tempfile.TemporaryFile(mode="w+") as log:
        proc = subprocess.Popen(  # noqa: S603
            cmd, cwd=ROOT, env=served_env,
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(f"{base}{ready}", timeout=3).status_code == 200:
                        break
                if proc.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    raise RuntimeError(f"uvicorn did not start:\n{log.read()[-3000:]}")
                time.sleep(0.1)
            yield base
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()


def ensure_user(base: str) -> None:
    answer = httpx.post(f"{base}/api/register/", json={"email": EMAIL, "password": PASSWORD})
    if answer.status_code not in (201, 409):
        raise RuntimeError(f"register: {answer.status_code} {answer.text}")


def logins(base: str, count: int) -> list[dict[str, str]]:
    """`count` fresh sessions (token pairs), logged in eight at a time."""

    async def _all() -> list[dict[str, str]]:
        gate = asyncio.Semaphore(8)
        async with httpx.AsyncClient(base_url=base, timeout=30) as http:

            async def one() -> dict[str, str]:
                async with gate:
                    answer = await http.post(
                        "/api/token/", json={"email": EMAIL, "password": PASSWORD}
                    )
                if answer.status_code != 200:
                    raise RuntimeError(f"login: {answer.status_code} {answer.text}")
                return dict(answer.json())

            return list(await asyncio.gather(*(one() for _ in range(count))))

    return asyncio.run(_all())


# --- wrk ------------------------------------------------------------------------------------


def _lua(text: str) -> str:
    return f"[==[{text}]==]"


_LUA_DONE = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("BENCH %d %d %d %d %d %d\\n", summary.requests, summary.duration,
    e.status + e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99)))
end
"""

# Each wrk thread keeps a queue of refresh tokens: a request takes one, its answer puts the
# successor back. A token is never sent twice, so reuse detection never fires; a queue longer
# than the thread's connections never runs dry.
_LUA_REFRESH = """
local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("tid", counter)
end
local queue, head, tail = {}, 1, 0
function init(args)
  local n = 0
  for line in io.lines(TOKENS) do
    if n % NTHREADS == tid - 1 then tail = tail + 1; queue[tail] = line end
    n = n + 1
  end
end
function request()
  local token = "none"
  if head <= tail then token = queue[head]; queue[head] = nil; head = head + 1 end
  return wrk.format("POST", "/api/token/refresh/", {["Content-Type"] = "application/json"},
    '{"refresh": "' .. token .. '"}')
end
function response(status, headers, body)
  if status == 200 then
    local token = body:match('"refresh"%s*:%s*"([^"]+)"')
    if token then tail = tail + 1; queue[tail] = token end
  end
end
"""


def wrk_script(endpoint: str, access: str, tokens_file: str, threads: int) -> str:
    if endpoint == "health":
        body = 'wrk.method = "GET"\nwrk.path = "/health/live"\n'
    elif endpoint == "me":
        body = (
            'wrk.method = "GET"\nwrk.path = "/api/me/"\n'
            f'wrk.headers["Authorization"] = {_lua("Bearer " + access)}\n'
        )
    elif endpoint == "login":
        login = json.dumps({"email": EMAIL, "password": PASSWORD})
        body = (
            'wrk.method = "POST"\nwrk.path = "/api/token/"\n'
            'wrk.headers["Content-Type"] = "application/json"\n'
            f"wrk.body = {_lua(login)}\n"
        )
    else:
        body = f"local TOKENS = {_lua(tokens_file)}\nlocal NTHREADS = {threads}\n" + _LUA_REFRESH
    return body + _LUA_DONE


def run_wrk(
    base: str, endpoint: str, seconds: float, args: argparse.Namespace, access: str
) -> Result:
    with tempfile.TemporaryDirectory(prefix="auth-bench-") as tmp:
        tokens_file = str(Path(tmp) / "refresh.txt")
        if endpoint == "refresh":
            pairs = logins(base, 2 * args.concurrency)
            Path(tokens_file).write_text("".join(p["refresh"] + "\n" for p in pairs))
        script = Path(tmp) / "bench.lua"
        script.write_text(wrk_script(endpoint, access, tokens_file, args.wrk_threads))
        cmd = ["wrk", "-t", str(args.wrk_threads), "-c", str(args.concurrency),
               "-d", f"{max(1, round(seconds))}s", "--timeout", "10s",
               "-s", str(script), base]  # fmt: skip
        out = _run(cmd)
    line = next((x for x in out.stdout.splitlines() if x.startswith("BENCH ")), None)
    if out.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed:\n{out.stdout}\n{out.stderr}")
    requests, micros, bad, p50, p90, p99 = (int(x) for x in line.split()[1:])
    return Result(requests, micros / 1e6, bad, p50 / 1e3, p90 / 1e3, p99 / 1e3)


# --- httpx (when wrk is missing) ------------------------------------------------------------


def run_httpx(
    base: str, endpoint: str, seconds: float, args: argparse.Namespace, access: str
) -> Result:
    sessions = logins(base, args.concurrency) if endpoint == "refresh" else []

    async def _load() -> Result:
        latencies: list[float] = []
        bad = 0
        limits = httpx.Limits(max_connections=args.concurrency)
        async with httpx.AsyncClient(base_url=base, limits=limits, timeout=10) as http:
            stop = time.monotonic() + seconds

            async def client(n: int) -> None:
                nonlocal bad
                refresh = sessions[n]["refresh"] if sessions else ""
                while time.monotonic() < stop:
                    start = time.perf_counter()
                    try:
                        if endpoint == "health":
                            answer = await http.get("/health/live")
                        elif endpoint == "me":
                            answer = await http.get(
                                "/api/me/", headers={"Authorization": f"Bearer {access}"}
                            )
                        elif endpoint == "login":
                            answer = await http.post(
                                "/api/token/", json={"email": EMAIL, "password": PASSWORD}
                            )
                        else:
                            answer = await http.post(
                                "/api/token/refresh/", json={"refresh": refresh}
                            )
                            if answer.status_code == 200:
                                refresh = answer.json()["refresh"]
                    except httpx.HTTPError:
                        bad += 1
                        continue
                    latencies.append(time.perf_counter() - start)
                    if answer.status_code >= 300:
                        bad += 1

            began = time.monotonic()
            await asyncio.gather(*(client(n) for n in range(args.concurrency)))
            elapsed = time.monotonic() - began
        cuts = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [0.0] * 99
        return Result(len(latencies), elapsed, bad, cuts[49] * 1e3, cuts[89] * 1e3,
                      cuts[98] * 1e3)  # fmt: skip

    return asyncio.run(_load())


# --- a hung dependency ---------------------------------------------------------------------


@contextlib.contextmanager
def unresponsive_redis() -> Iterator[str]:
    """A Redis URL whose server accepts connections and never answers: hung, not down."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1024)
    held: list[socket.socket] = []

    def accept() -> None:
        with contextlib.suppress(OSError):
            while True:
                held.append(listener.accept()[0])

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield f"redis://127.0.0.1:{listener.getsockname()[1]}/0"
    finally:
        listener.close()
        for conn in held:
            conn.close()


def stall(args: argparse.Namespace) -> None:
    """How long GET /health/live waits while N requests wait on Redis (REDIS_TIMEOUT, 2 s)."""
    print("\nGET /health/live while N GET /health/ready wait on a Redis that never answers "
          "(1 worker; ms)")  # fmt: skip
    print(f"{'N':<6}" + "".join(f"{h:>12}" for h in args.handlers))
    table: dict[str, list[float]] = {}
    for handler in args.handlers:
        with unresponsive_redis() as url, tempfile.TemporaryDirectory() as state:
            env = {**server_env(args, state), **handler_env(handler), "REDIS_URL": url}
            with server(env, 1, ready="/health/live") as base:
                table[handler] = [asyncio.run(_live_while_stalled(base, n)) for n in (1, 4, 8)]
    for row, n in enumerate((1, 4, 8)):
        print(f"{n:<6}" + "".join(f"{table[h][row]:>12.0f}" for h in args.handlers))


async def _live_while_stalled(base: str, stalled: int) -> float:
    async with httpx.AsyncClient(base_url=base, timeout=60) as http:
        waiting = [asyncio.create_task(http.get("/health/ready")) for _ in range(stalled)]
        await asyncio.sleep(0.3)
        start = time.perf_counter()
        live = await http.get("/health/live")
        elapsed = (time.perf_counter() - start) * 1e3
        assert live.status_code == 200, live.text
        await asyncio.gather(*waiting)
    return elapsed


# --- the run --------------------------------------------------------------------------------


def measure(args: argparse.Namespace, workers: int, handler: str) -> dict[str, Result]:
    load = run_wrk if args.tool == "wrk" else run_httpx
    results: dict[str, Result] = {}
    with tempfile.TemporaryDirectory(prefix="auth-bench-state-") as state:
        env = {**server_env(args, state), **handler_env(handler)}
        flush_redis(args.redis_url)
        with server(env, workers) as base:
            ensure_user(base)
            access = logins(base, 1)[0]["access"]
            for endpoint in args.endpoints:
                if args.warmup > 0:
                    load(base, endpoint, args.warmup, args, access)
                results[endpoint] = result = load(base, endpoint, args.duration, args, access)
                print(
                    f"  workers={workers} {handler:>9} {endpoint:>8}: {result.rps:8.0f} req/s  "
                    f"p50 {result.p50:7.1f} ms  p99 {result.p99:7.1f} ms  bad {result.bad}",
                    flush=True,
                )
    return results


def report(args: argparse.Namespace, table: dict[tuple[int, str], dict[str, Result]]) -> None:
    print()
    print(f"load: {args.tool}, {args.concurrency} connections, {args.duration:g} s per figure, "
          f"median of {args.rounds} round(s); req/s (p50 / p99 ms)")  # fmt: skip
    for workers in args.workers:
        head = f"{'workers=' + str(workers):<12}" + "".join(f"{h:>26}" for h in args.handlers)
        if "stock" in args.handlers and len(args.handlers) > 1:
            head += "".join(f"{'x ' + h:>14}" for h in args.handlers if h != "stock")
        print(head)
        for endpoint in args.endpoints:
            row = f"{endpoint:<12}"
            for handler in args.handlers:
                r = table[(workers, handler)][endpoint]
                row += f"{f'{r.rps:,.0f} ({r.p50:.1f} / {r.p99:.1f})':>26}"
            if "stock" in args.handlers and len(args.handlers) > 1:
                stock = table[(workers, "stock")][endpoint].rps
                for handler in args.handlers:
                    if handler != "stock":
                        ratio = table[(workers, handler)][endpoint].rps / stock if stock else 0
                        row += f"{f'{ratio:.2f}':>14}"
            print(row)
        print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--workers",
        default="1,2",
        help="uvicorn worker counts to run, comma-separated (default 1,2)",
    )
    parser.add_argument(
        "--handlers",
        default="stock,executor",
        help="stock, executor (default ASGI_THREADS), threadsN or lease (ASGI_THREADS=0), "
        "comma-separated (default stock,executor)",
    )
    parser.add_argument(
        "--endpoints",
        default=",".join(ENDPOINTS),
        help=f"any of {','.join(ENDPOINTS)} (default all)",
    )
    parser.add_argument("--concurrency", type=int, default=32, help="connections (default 32)")
    parser.add_argument("--duration", type=float, default=10, help="seconds per figure")
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="run everything this many times, interleaved; report medians",
    )
    parser.add_argument("--warmup", type=float, default=2, help="seconds before each figure")
    parser.add_argument("--tool", choices=["auto", "wrk", "httpx"], default="auto")
    parser.add_argument(
        "--wrk-threads",
        type=int,
        default=1,
        help="wrk threads (default 1: the load shares the server's cores)",
    )
    parser.add_argument("--database", default="auth_bench")
    parser.add_argument("--pg-host", default="127.0.0.1")
    parser.add_argument("--pg-port", type=int, default=5432)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/13")
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON")
    parser.add_argument(
        "--stall",
        action="store_true",
        help="instead: /health/live latency while requests wait on an unresponsive Redis",
    )
    args = parser.parse_args()
    args.workers = [int(w) for w in args.workers.split(",")]
    args.handlers = [h.strip() for h in args.handlers.split(",") if h.strip()]
    args.endpoints = [e.strip() for e in args.endpoints.split(",") if e.strip()]
    for handler in args.handlers:
        handler_env(handler)
    unknown = set(args.endpoints) - set(ENDPOINTS)
    if unknown:
        parser.error(f"unknown endpoints: {', '.join(sorted(unknown))}")
    if args.tool == "auto":
        args.tool = "wrk" if shutil.which("wrk") else "httpx"
    if args.tool == "wrk" and args.concurrency < args.wrk_threads:
        parser.error("--concurrency must be at least --wrk-threads")

    with tempfile.TemporaryDirectory(prefix="auth-bench-state-") as state:
        ensure_database(args, server_env(args, state))
    if args.stall:
        stall(args)
        return
    load_average = os.getloadavg()[0]
    start = time.perf_counter()
    for _ in range(2_000_000):
        pass
    speed = 2 / (time.perf_counter() - start)
    print(f"{os.cpu_count()} CPUs, load average {load_average:.2f}, an empty Python loop at "
          f"{speed:.0f} M iterations/s; load from {args.tool}", flush=True)  # fmt: skip
    if load_average > 0.5:
        print("warning: the machine is busy; figures will be low and noisy", flush=True)
    # Rounds interleave the handlers, so that a busy spell hits all of them; each figure is
    # the round with the median requests/s.
    runs: dict[tuple[int, str], list[dict[str, Result]]] = defaultdict(list)
    for _ in range(args.rounds):
        for workers in args.workers:
            for handler in args.handlers:
                runs[(workers, handler)].append(measure(args, workers, handler))
    table = {
        key: {
            endpoint: sorted((r[endpoint] for r in results), key=lambda x: x.rps)[len(results) // 2]
            for endpoint in args.endpoints
        }
        for key, results in runs.items()
    }
    report(args, table)
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                [{"workers": w, "handler": h, "endpoint": e, "rps": r.rps, "p50_ms": r.p50,
                  "p90_ms": r.p90, "p99_ms": r.p99, "requests": r.requests, "bad": r.bad}
                 for (w, h), results in table.items() for e, r in results.items()],
                indent=2,
            )
        )  # fmt: skip


if __name__ == "__main__":
    main()
