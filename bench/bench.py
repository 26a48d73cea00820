"""This service against the brief's service (DRF + simplejwt under gunicorn, bench/brief/),
side by side on this machine, against the same PostgreSQL and Redis, loaded with wrk.
A script, not a test.

    make bench                                          # builds what it needs, then runs this
    uv run --frozen python bench/bench.py               # every scenario, 10 s each, one round
    uv run --frozen python bench/bench.py --scenarios me,refresh --duration 20 --rounds 3
    uv run --frozen python bench/bench.py --ours-env ASGI_STOCK_HANDLER=1 --json out.json

Both services run as separate processes with 2 workers each: ours with `manage.py serve`
(WEB_CONCURRENCY=2), the brief's with `gunicorn -w 2` from its own virtualenv
(bench/brief/.venv, built by `make bench`). Nothing of either is imported here: set-up talks to
them over HTTP. Per scenario it prints requests/s, p50, p99, non-2xx answers and the servers'
CPU time per request (utime + stime of the whole process tree over the measured window, divided
by the requests completed in it), and the ratios ours / brief's. See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx

# The server is idle when it used less CPU than this in half a second.
IDLE_CPU_SECONDS = 0.05
# Requests/s shown without decimals from here up.
WHOLE_RPS = 100
ROOT = Path(__file__).resolve().parent.parent
BRIEF = ROOT / "bench" / "brief"
SCENARIOS = ("me", "me_bad", "verify", "refresh", "login", "register")
SERVICES = ("ours", "brief")
EMAIL = "bench-login@example.com"
PASSWORD = "Bench-Pass-8731-quartz"  # a throw-away account in a throw-away database
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# Variables either service reads that must not leak in from the caller's shell.
PASSED_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "TERM")


@dataclass
class Result:
    requests: int
    seconds: float
    non_2xx: int  # HTTP answers outside 2xx (wrk's "Non-2xx or 3xx responses")
    socket_errors: int  # connect, read, write errors and time-outs
    p50: float  # milliseconds
    p99: float
    cpu_ms: float  # server CPU ms per completed request

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


@dataclass
class Service:
    name: str
    cmd: list[str]
    cwd: Path
    env: dict[str, str]
    ready: str  # a path that answers `ready_status` once the service is up
    ready_status: int
    migrate: list[str]
    base: str = ""
    proc: subprocess.Popen[str] | None = None
    rotates: bool = False  # does a refresh answer carry a new refresh token?
    notes: list[str] = field(default_factory=list)


# --- set-up ---------------------------------------------------------------------------------


def _run(cmd: list[str], cwd: Path = ROOT, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    if done.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return done.stdout


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def base_env() -> dict[str, str]:
    return {k: os.environ[k] for k in PASSED_ENV if k in os.environ} | {
        k: v for k, v in os.environ.items() if k.startswith("UV_")
    }


def parse_env(pairs: list[str]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise SystemExit(f"expected KEY=VALUE, not {pair!r}")
        out[key] = value
    return out


def ensure_database(args: argparse.Namespace, name: str) -> None:
    pg = ["-h", args.pg_host, "-p", str(args.pg_port), "-U", "postgres"]
    listed = _run(["psql", *pg, "-d", "postgres", "-Atc", "SELECT datname FROM pg_database"])
    if name not in listed.split():
        _run(["createdb", *pg, name])


def flush_redis(host: str, port: int, db: int) -> None:
    import redis

    redis.Redis(host=host, port=port, db=db).flushdb()


def ours(args: argparse.Namespace, state_dir: str) -> Service:
    port = free_port()
    env = base_env() | {
        "DATABASE_URL": f"postgres://postgres@{args.pg_host}:{args.pg_port}/{args.ours_db}",
        "REDIS_URL": f"redis://{args.redis_host}:{args.redis_port}/{args.ours_redis_db}",
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "WEB_CONCURRENCY": str(args.workers),
        "APP_ENV": "development",
        "STATE_DIR": state_dir,
        "ACCESS_TOKEN_LIFETIME": "3600",
        # The benchmark logs in and registers far more often than a person would.
        "THROTTLE_LOGIN_PER_MINUTE": "0",
        "THROTTLE_REGISTER_PER_MINUTE": "0",
        "THROTTLE_ACCOUNT_FAILURES": "0",
        # Like the brief's gunicorn, which writes no access log by default.
        "ACCESS_LOG": "false",
    }
    env |= parse_env(args.ours_env)
    # The interpreter of the project's virtualenv this script runs in (make bench: uv run).
    py = [sys.executable, "manage.py"]
    return Service(
        "ours",
        [*py, "serve"],
        ROOT,
        env,
        "/health/ready",
        200,
        [*py, "migrate", "--noinput"],
        base=f"http://127.0.0.1:{port}",
    )


def brief(args: argparse.Namespace) -> Service:
    venv = BRIEF / ".venv" / "bin"
    if not (venv / "gunicorn").exists():
        sys.exit(f"{venv / 'gunicorn'} is missing: run `make bench` (it builds bench/brief/.venv)")
    port = free_port()
    env = base_env() | {
        "SECRET_KEY": secrets.token_urlsafe(50),
        "DEBUG": "0",
        "DB_NAME": args.brief_db,
        "DB_USER": "postgres",
        "DB_PASS": "",
        "DB_HOST": args.pg_host,
        "REDIS_HOST": args.redis_host,
        "REDIS_PORT": str(args.redis_port),
        "REDIS_DB": str(args.brief_redis_db),
        "CONN_MAX_AGE": "600",
        "PYTHONWARNINGS": "ignore::UserWarning",  # simplejwt 5.3.0's pkg_resources warning
    }
    env |= parse_env(args.brief_env)
    return Service(
        "brief",
        [
            str(venv / "gunicorn"),
            "auth_service.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "-w",
            str(args.workers),
        ],
        BRIEF,
        env,
        "/api/me/",
        401,
        [str(venv / "python"), "manage.py", "migrate", "--noinput"],
        base=f"http://127.0.0.1:{port}",
    )


@contextlib.contextmanager
def running(service: Service, log: Path) -> Iterator[Service]:
    with log.open("w") as out:
        service.proc = proc = subprocess.Popen(  # noqa: S603
            service.cmd,
            cwd=service.cwd,
            env=service.env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            text=True,
        )
    try:
        deadline = time.monotonic() + 90
        while True:
            with contextlib.suppress(httpx.HTTPError):
                answer = httpx.get(service.base + service.ready, timeout=3)
                if answer.status_code == service.ready_status:
                    break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{service.name} did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
        yield service
    finally:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def _expect(answer: httpx.Response, statuses: tuple[int, ...], what: str) -> dict[str, object]:
    if answer.status_code not in statuses:
        raise RuntimeError(f"{what}: {answer.status_code} {answer.text[:500]}")
    return dict(answer.json()) if answer.content else {}


def logins(base: str, count: int) -> list[dict[str, str]]:
    """`count` fresh token pairs, logged in eight at a time."""

    async def _all() -> list[dict[str, str]]:
        gate = asyncio.Semaphore(8)
        async with httpx.AsyncClient(base_url=base, timeout=60) as http:

            async def one() -> dict[str, str]:
                async with gate:
                    answer = await http.post(
                        "/api/token/", json={"email": EMAIL, "password": PASSWORD}
                    )
                return {k: str(v) for k, v in _expect(answer, (200,), "login").items()}

            return list(await asyncio.gather(*(one() for _ in range(count))))

    return asyncio.run(_all())


def bad_signature(token: str) -> str:
    """The token with its signature's first character changed (the last one may only carry
    padding bits, so changing it can leave the signature intact)."""
    head, _, sig = token.rpartition(".")
    return f"{head}.{'B' if sig[0] == 'A' else 'A'}{sig[1:]}"


def prepare(service: Service) -> None:
    """Create the login account, and check each endpoint's answer shape once."""
    base = service.base
    _expect(
        httpx.post(f"{base}/api/register/", json={"email": EMAIL, "password": PASSWORD}),
        (200, 201, 400, 409, 422),
        f"{service.name} register",
    )
    pair = logins(base, 1)[0]
    expected = {"access", "refresh"} | (
        {"token_type", "expires_in"} if service.name == "ours" else set()
    )
    if not expected <= pair.keys():
        raise RuntimeError(f"{service.name} login answered {sorted(pair)}, not {sorted(expected)}")
    me = _expect(
        httpx.get(f"{base}/api/me/", headers={"Authorization": f"Bearer {pair['access']}"}),
        (200,),
        f"{service.name} me",
    )
    if me.get("email") != EMAIL:
        raise RuntimeError(f"{service.name} me answered {me}")
    bad = {"Authorization": f"Bearer {bad_signature(pair['access'])}"}
    _expect(httpx.get(f"{base}/api/me/", headers=bad), (401,), f"{service.name} me_bad")
    refreshed = _expect(
        httpx.post(f"{base}/api/token/refresh/", json={"refresh": pair["refresh"]}),
        (200,),
        f"{service.name} refresh",
    )
    service.rotates = "refresh" in refreshed
    service.notes.append(
        "refresh rotates: each request sends the token the previous answer returned"
        if service.rotates
        else "refresh does not rotate: the same refresh token every request"
    )


# --- CPU of a process tree ------------------------------------------------------------------


def _stat(pid: int) -> tuple[int, int] | None:
    """(parent pid, utime + stime in clock ticks), or None when the process is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()  # the name may hold spaces and parentheses
    return int(fields[1]), int(fields[11]) + int(fields[12])


def tree_cpu_seconds(root: int) -> float:
    """utime + stime of `root` and all its descendants (the master and its workers)."""
    stats = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (stat := _stat(int(entry))) is not None:
            stats[int(entry)] = stat
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in stats.items():
        children.setdefault(ppid, []).append(pid)
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        if pid in stats:
            total += stats[pid][1]
        todo.extend(children.get(pid, []))
    return total / CLOCK_TICKS


def wait_idle(root: int, limit: float = 90) -> None:
    """Wait until the tree uses under 10% of a core: requests left over from the previous wrk
    run (a login waits for its hash, a worker reads a queued connection) finish first."""
    deadline = time.monotonic() + limit
    before = tree_cpu_seconds(root)
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = tree_cpu_seconds(root)
        if now - before < IDLE_CPU_SECONDS:
            return
        before = now


# --- wrk ------------------------------------------------------------------------------------


def _lua(text: str) -> str:
    return f"[==[{text}]==]"


_LUA_THREAD_ID = """
local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("tid", counter)
end
"""

_LUA_DONE = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("BENCH %d %d %d %d %d %d\\n", summary.requests, summary.duration,
    e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""

# Each wrk thread keeps a queue of refresh tokens: a request takes one, its answer puts the
# successor back. No token is ever sent twice, so reuse detection never fires; a queue longer
# than the thread's connections never runs dry.
_LUA_REFRESH_QUEUE = """
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

_LUA_REGISTER = """
local n = 0
function request()
  n = n + 1
  local body = string.format('{"email": "b-%s-%d-%d@example.com", "password": "%s"}',
    NONCE, tid, n, PASSWORD)
  return wrk.format("POST", "/api/register/", {["Content-Type"] = "application/json"}, body)
end
"""


def _static(method: str, path: str, headers: dict[str, str], body: str | None = None) -> str:
    lines = [f'wrk.method = "{method}"', f'wrk.path = "{path}"']
    lines += [f'wrk.headers["{k}"] = {_lua(v)}' for k, v in headers.items()]
    if body is not None:
        lines.append(f"wrk.body = {_lua(body)}")
    return "\n".join(lines) + "\n"


def wrk_script(service: Service, scenario: str, tmp: Path, args: argparse.Namespace) -> str:
    as_json = {"Content-Type": "application/json"}
    if scenario in {"me", "me_bad", "verify"}:
        # A fresh access token each run: simplejwt's live 5 minutes, a run with rounds longer.
        token = logins(service.base, 1)[0]["access"]
        if scenario == "me_bad":
            token = bad_signature(token)
        # Forward auth; the brief's service has none, so a gateway in front of it asks its me.
        path = "/api/auth/verify" if scenario == "verify" and service.name == "ours" else "/api/me/"
        return _static("GET", path, {"Authorization": f"Bearer {token}"})
    if scenario == "login":
        login = json.dumps({"email": EMAIL, "password": PASSWORD})
        return _static("POST", "/api/token/", as_json, login)
    if scenario == "register":
        return (
            f"local NONCE = {_lua(secrets.token_hex(6))}\nlocal PASSWORD = {_lua(PASSWORD)}\n"
            + _LUA_THREAD_ID
            + _LUA_REGISTER
        )
    if not service.rotates:
        token = logins(service.base, 1)[0]["refresh"]
        return _static("POST", "/api/token/refresh/", as_json, json.dumps({"refresh": token}))
    tokens = tmp / "refresh.txt"
    pairs = logins(service.base, max(2 * args.connections, 64))
    tokens.write_text("".join(p["refresh"] + "\n" for p in pairs))
    return (
        f"local TOKENS = {_lua(str(tokens))}\nlocal NTHREADS = {args.threads}\n"
        + _LUA_THREAD_ID
        + _LUA_REFRESH_QUEUE
    )


def run_wrk(service: Service, scenario: str, seconds: int, args: argparse.Namespace) -> Result:
    with tempfile.TemporaryDirectory(prefix="auth-bench-wrk-") as tmp:
        script = Path(tmp) / "bench.lua"
        script.write_text(wrk_script(service, scenario, Path(tmp), args) + _LUA_DONE)
        cmd = [
            "wrk",
            "-t",
            str(args.threads),
            "-c",
            str(args.connections),
            "-d",
            f"{seconds}s",
            "--timeout",
            f"{args.timeout}s",
            "-s",
            str(script),
            service.base,
        ]
        assert service.proc is not None
        wait_idle(service.proc.pid)
        cpu_before = tree_cpu_seconds(service.proc.pid)
        out = subprocess.run(cmd, capture_output=True, text=True, check=False)  # noqa: S603
        cpu = tree_cpu_seconds(service.proc.pid) - cpu_before
    line = next((x for x in out.stdout.splitlines() if x.startswith("BENCH ")), None)
    if out.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed:\n{out.stdout}\n{out.stderr}")
    requests, micros, non_2xx, errors, p50, p99 = (int(x) for x in line.split()[1:])
    cpu_ms = cpu * 1e3 / requests if requests else 0.0
    return Result(requests, micros / 1e6, non_2xx, errors, p50 / 1e3, p99 / 1e3, cpu_ms)


# --- the run --------------------------------------------------------------------------------


def median_result(results: list[Result]) -> Result:
    def med(get: Callable[[Result], float]) -> float:
        return float(statistics.median(get(r) for r in results))

    seconds = med(lambda r: r.seconds)
    return Result(
        requests=round(med(lambda r: r.rps) * seconds),
        seconds=seconds,
        non_2xx=round(med(lambda r: r.non_2xx)),
        socket_errors=round(med(lambda r: r.socket_errors)),
        p50=med(lambda r: r.p50),
        p99=med(lambda r: r.p99),
        cpu_ms=med(lambda r: r.cpu_ms),
    )


def _rps(value: float) -> str:
    return f"{value:,.0f}" if value >= WHOLE_RPS else f"{value:.1f}"


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if b else "-"


def report(
    args: argparse.Namespace,
    table: dict[str, dict[str, Result]],
    services: dict[str, Service],
) -> None:
    print()
    print(
        f"wrk -t{args.threads} -c{args.connections}, {args.duration} s measured after "
        f"{args.warmup} s of warm-up, {args.workers} workers each, "
        f"median of {args.rounds} round(s)"
    )
    print()
    print("| scenario | service | req/s | p50 ms | p99 ms | non-2xx | CPU ms/req |")
    print("|---|---|--:|--:|--:|--:|--:|")
    for scenario in args.scenarios:
        for name in SERVICES:
            r = table[name][scenario]
            errors = f" (+{r.socket_errors} socket)" if r.socket_errors else ""
            label = name
            if scenario == "refresh":
                label += " (rotates)" if services[name].rotates else " (no rotation)"
            if scenario == "verify" and name == "brief":
                label += " (its me: it has no forward auth)"
            print(
                f"| {scenario} | {label} | {_rps(r.rps)} | {r.p50:.1f} | {r.p99:.1f} | "
                f"{r.non_2xx}{errors} | {r.cpu_ms:.2f} |"
            )
        o, b = table["ours"][scenario], table["brief"][scenario]
        print(
            f"| {scenario} | **ours / brief** | **{_ratio(o.rps, b.rps)}** | "
            f"{_ratio(o.p50, b.p50)} | {_ratio(o.p99, b.p99)} | | "
            f"**{_ratio(o.cpu_ms, b.cpu_ms)}** |"
        )
        if scenario == "verify" and "me" in args.scenarios:
            m = table["ours"]["me"]  # the target: forward auth at least as fast as me
            print(
                f"| verify | **ours verify / ours me** | **{_ratio(o.rps, m.rps)}** | "
                f"{_ratio(o.p50, m.p50)} | {_ratio(o.p99, m.p99)} | | "
                f"**{_ratio(o.cpu_ms, m.cpu_ms)}** |"
            )
    print()
    for name in SERVICES:
        print(f"{name}: {'; '.join(services[name].notes)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--scenarios",
        default=",".join(SCENARIOS),
        help=f"comma-separated, any of {','.join(SCENARIOS)} (default all)",
    )
    parser.add_argument("--duration", type=int, default=10, help="seconds measured (10)")
    parser.add_argument("--warmup", type=int, default=2, help="seconds of load before (2)")
    parser.add_argument(
        "--rounds", type=int, default=1, help="repeat, interleaving the services; medians (1)"
    )
    parser.add_argument("--connections", type=int, default=32, help="wrk -c (32)")
    parser.add_argument("--threads", type=int, default=1, help="wrk -t (1)")
    parser.add_argument("--timeout", type=int, default=30, help="wrk --timeout, seconds (30)")
    parser.add_argument("--workers", type=int, default=2, help="worker processes each (2)")
    parser.add_argument(
        "--ours-env",
        action="append",
        default=[],
        metavar="KEY=VAL",
        help="extra environment for our service (repeatable), e.g. ASGI_STOCK_HANDLER=1",
    )
    parser.add_argument(
        "--brief-env",
        action="append",
        default=[],
        metavar="KEY=VAL",
        help="extra environment for the brief's service (repeatable)",
    )
    parser.add_argument("--pg-host", default="127.0.0.1")
    parser.add_argument("--pg-port", type=int, default=5432)
    parser.add_argument("--ours-db", default="bench_ours")
    parser.add_argument("--brief-db", default="bench_brief")
    parser.add_argument("--redis-host", default="127.0.0.1")
    parser.add_argument("--redis-port", type=int, default=6379)
    parser.add_argument("--ours-redis-db", type=int, default=13)
    parser.add_argument("--brief-redis-db", type=int, default=12)
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON")
    parser.add_argument("--logs", metavar="DIR", help="keep the servers' output in DIR")
    args = parser.parse_args()
    args.scenarios = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    unknown = set(args.scenarios) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(sorted(unknown))}")
    if args.connections < args.threads:
        parser.error("--connections must be at least --threads")
    if not shutil.which("wrk"):
        sys.exit("wrk is missing: `make bench` installs it (apt-get install -y wrk)")

    # SIGTERM stops both servers too (a background job ignores SIGINT).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    load_start = os.getloadavg()
    print(
        f"{os.cpu_count()} CPUs, load average at start {' '.join(f'{x:.2f}' for x in load_start)}",
        flush=True,
    )
    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="auth-bench-")))
        state = tmp / "state"
        state.mkdir()
        services = {"ours": ours(args, str(state)), "brief": brief(args)}
        for service, db in ((services["ours"], args.ours_db), (services["brief"], args.brief_db)):
            ensure_database(args, db)
            _run(service.migrate, cwd=service.cwd, env=service.env)
        flush_redis(args.redis_host, args.redis_port, args.ours_redis_db)
        flush_redis(args.redis_host, args.redis_port, args.brief_redis_db)
        for name, service in services.items():
            logs = Path(args.logs) if args.logs else tmp
            logs.mkdir(parents=True, exist_ok=True)
            stack.enter_context(running(service, logs / f"{name}.log"))
            prepare(service)
        runs: dict[str, dict[str, list[Result]]] = {n: {s: [] for s in SCENARIOS} for n in SERVICES}
        for round_ in range(args.rounds):
            # Interleaved, and in alternating order, so that a busy spell hits both services.
            order = SERVICES if round_ % 2 == 0 else SERVICES[::-1]
            for scenario in args.scenarios:
                for name in order:
                    service = services[name]
                    if args.warmup > 0:
                        run_wrk(service, scenario, args.warmup, args)
                    result = run_wrk(service, scenario, args.duration, args)
                    runs[name][scenario].append(result)
                    print(
                        f"  round {round_ + 1} {scenario:>8} {name:>5}: {result.rps:8.1f} "
                        f"req/s  p50 {result.p50:7.1f} ms  p99 {result.p99:7.1f} ms  "
                        f"non-2xx {result.non_2xx}  socket errors {result.socket_errors}  "
                        f"CPU {result.cpu_ms:6.2f} ms/req",
                        flush=True,
                    )
    table = {n: {s: median_result(runs[n][s]) for s in args.scenarios} for n in SERVICES}
    report(args, table, services)
    load_end = os.getloadavg()
    print(
        f"load average at start {' '.join(f'{x:.2f}' for x in load_start)}, "
        f"at end {' '.join(f'{x:.2f}' for x in load_end)}"
    )
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "settings": {k: v for k, v in vars(args).items() if k not in {"json", "logs"}},
                    "load_average": {"start": load_start, "end": load_end},
                    "notes": {n: services[n].notes for n in SERVICES},
                    "results": [
                        {"scenario": s, "service": n, "rps": r.rps, **asdict(r)}
                        for s in args.scenarios
                        for n in SERVICES
                        for r in [table[n][s]]
                    ],
                    "ratios": {
                        s: {
                            "rps": table["ours"][s].rps / table["brief"][s].rps
                            if table["brief"][s].rps
                            else None,
                            "cpu_ms": table["ours"][s].cpu_ms / table["brief"][s].cpu_ms
                            if table["brief"][s].cpu_ms
                            else None,
                        }
                        for s in args.scenarios
                    },
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
