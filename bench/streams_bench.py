"""Benchmark the streams layer against the Node reference server of the protocol.

One run starts every target (our server on SQLite, the reference server in memory and
backed by files), drives each with the same client and the same workloads, and prints one
table with a ratio column per comparison. ``--output BENCHMARKS.md`` records the table,
the machine and the command in that file's "Streams layer" section.

Usage: python bench/streams_bench.py [--quick] [--output BENCHMARKS.md]
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import os
import shlex
import signal
import sys
from pathlib import Path
from typing import NoReturn

from dsbench import machine, report
from dsbench.client import new_session
from dsbench.crew import run
from dsbench.meter import CpuShare, Meter
from dsbench.targets import Server, Target, default_targets, deployment
from dsbench.workloads import QUICK, WORKLOADS, Context, Sizes, Workload
from rich.console import Console

# Flags that override one field of the sizes; the field name is the flag's dest.
SIZE_FLAGS: dict[str, tuple[type, str]] = {
    "message_bytes": (int, "bytes per JSON message"),
    "warmup_appends": (int, "unmeasured appends before the latency run"),
    "appends": (int, "measured sequential appends"),
    "writers": (int, "concurrent writers in the throughput run"),
    "write_streams": (int, "streams the writers spread over"),
    "throughput_seconds": (float, "length of the throughput window"),
    "catchup_messages": (int, "messages in the catch-up stream"),
    "catchup_batch": (int, "messages per POST when filling it"),
    "catchup_reads": (int, "catch-up reads (the median is reported)"),
    "subscribers": (int, "concurrent SSE subscribers"),
    "sse_messages": (int, "timestamped appends in the fan-out run"),
    "sse_interval_ms": (float, "milliseconds between those appends"),
    "client_processes": (int, "load generator processes for the concurrent rows"),
}


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="run every row this many times, targets taking turns, and report medians",
    )
    parser.add_argument(
        "--output", type=Path, help="update the 'Streams layer' section of this file"
    )
    parser.add_argument(
        "--targets",
        help="comma-separated target keys (default: all of "
        + ", ".join(t.key for t in default_targets())
        + ")",
    )
    parser.add_argument(
        "--workloads",
        help="comma-separated workloads (default: all but cross-process-sse): "
        + ", ".join(w.name for w in WORKLOADS),
    )
    parser.add_argument(
        "--cross-process",
        action="store_true",
        help="also append through one process and read through another (targets that can)",
    )
    for name, (kind, help_text) in SIZE_FLAGS.items():
        parser.add_argument("--" + name.replace("_", "-"), type=kind, help=help_text)
    return parser.parse_args(argv)


def sizes_from(args: argparse.Namespace) -> Sizes:
    base = QUICK if args.quick else Sizes()
    overrides = {
        name: getattr(args, name) for name in SIZE_FLAGS if getattr(args, name) is not None
    }
    return dataclasses.replace(base, **overrides)


def select_targets(keys: str | None) -> list[Target]:
    targets = default_targets()
    if keys is None:
        return targets
    wanted = [key.strip() for key in keys.split(",") if key.strip()]
    known = {t.key: t for t in targets}
    unknown = [key for key in wanted if key not in known]
    if unknown:
        raise SystemExit(f"unknown targets {unknown}; known: {sorted(known)}")
    return [known[key] for key in wanted]


async def measure(
    workload: Workload, server: Server, peer: Server | None, sizes: Sizes
) -> tuple[dict[str, float], dict[str, CpuShare]]:
    """Run one workload against a started server (and its peer, for cross-process rows)."""
    meter = Meter([server.pid] + ([peer.pid] if peer is not None else []))
    async with new_session(connections=8) as session:
        values = await workload.run(Context(sizes, session, server, peer, meter))
    return values, meter.phases


def select_workloads(names: str | None, *, cross_process: bool) -> list[Workload]:
    if names is None:
        return [w for w in WORKLOADS if cross_process or not w.needs_peer]
    wanted = {name.strip() for name in names.split(",") if name.strip()}
    unknown = wanted - {w.name for w in WORKLOADS}
    if unknown:
        raise SystemExit(f"unknown workloads {sorted(unknown)}")
    return [w for w in WORKLOADS if w.name in wanted]


def run_target(
    target: Target, workloads: list[Workload], sizes: Sizes, console: Console
) -> tuple[dict[str, float], dict[str, CpuShare], dict[str, str]]:
    """Every workload on a fresh server with an empty data directory.

    A fresh server per row keeps rows independent: the catch-up read does not inherit
    the write-ahead log of the throughput run, and no server holds more streams than
    the row itself creates. A row that fails is recorded and the run goes on, so one
    server's failure does not cost the whole table.
    """
    values: dict[str, float] = {}
    phases: dict[str, CpuShare] = {}
    failures: dict[str, str] = {}
    for workload in workloads:
        if workload.needs_peer and not target.multi_process:
            console.log(f"  {workload.name}: n/a (needs two processes on one database)")
            continue
        try:
            with deployment(target, peer=workload.needs_peer) as (server, peer):
                measured, measured_phases = run(measure(workload, server, peer, sizes))
        except Exception as error:
            failures[workload.name] = f"{type(error).__name__}: {error}"
            console.log(f"  [red]{workload.name} failed[/red]: {failures[workload.name]}")
            continue
        values.update(measured)
        phases.update(measured_phases)
        shown = ", ".join(f"{key}={value:,.2f}" for key, value in measured.items())
        console.log(f"  {workload.name}: {shown}")
    return values, phases, failures


def _terminate(signum: int, frame: object) -> NoReturn:
    # Turning SIGTERM into SystemExit unwinds the context managers that stop the servers.
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    sizes = sizes_from(args)
    targets = select_targets(args.targets)
    workloads = select_workloads(args.workloads, cross_process=args.cross_process)
    results = report.Results(sizes, targets, workloads, repeats=max(1, args.repeat))
    console = Console()
    if not console.is_terminal:
        console = Console(width=180)  # a log file or pipe: do not wrap the table at 80
    load = os.getloadavg()[0]
    if load > 0.5:
        console.log(f"[yellow]load average {load:.2f}: other work on this machine skews results")
    for repetition in range(results.repeats):
        for target in targets:
            console.log(f"[bold]{target.label}[/bold] (run {repetition + 1}/{results.repeats})")
            results.add(target, *run_target(target, workloads, sizes, console))

    headers, body = report.rows(results)
    console.print(report.rich_table("Streams layer", headers, body))
    cpu_headers, cpu_body = report.cpu_rows(results)
    console.print(report.rich_table("Cores busy", cpu_headers, cpu_body))
    for line in results.failure_lines():
        console.print(f"[red]failed[/red]: {line}")
    if args.output is not None:
        command = shlex.join(["python", "bench/streams_bench.py", *argv])
        date = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
        report.update_file(
            args.output, report.section(results, machine.describe(load), command, date)
        )
        console.log(f"wrote the 'Streams layer' section of {args.output}")
    return 1 if results.failures else 0


if __name__ == "__main__":
    sys.exit(main())
