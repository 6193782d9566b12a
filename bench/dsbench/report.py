"""The results table, on the terminal (rich) and as a Markdown section of BENCHMARKS.md."""

from __future__ import annotations

import re
import statistics
from dataclasses import dataclass, field
from pathlib import Path

from rich.table import Table

from .meter import CpuShare
from .targets import Target
from .workloads import Metric, Sizes, Workload

SECTION = "## Streams layer"
MISSING = "n/a"
FAILED = "failed"
TIMES = "\u00d7"  # the multiplication sign, spelled out for linters


@dataclass(slots=True)
class Results:
    """Samples per target from every repetition; the table shows their medians."""

    sizes: Sizes
    targets: list[Target]
    workloads: list[Workload]
    repeats: int = 1
    # target key → metric key → one value per repetition
    samples: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    # target key → phase → one share per repetition
    cpu_samples: dict[str, dict[str, list[CpuShare]]] = field(default_factory=dict)
    # target key → workload name → why it failed (once per failed repetition)
    failures: dict[str, dict[str, list[str]]] = field(default_factory=dict)

    def add(
        self,
        target: Target,
        values: dict[str, float],
        phases: dict[str, CpuShare],
        failures: dict[str, str],
    ) -> None:
        for name, reason in failures.items():
            self.failures.setdefault(target.key, {}).setdefault(name, []).append(reason)
        for key, value in values.items():
            self.samples.setdefault(target.key, {}).setdefault(key, []).append(value)
        for phase, share in phases.items():
            self.cpu_samples.setdefault(target.key, {}).setdefault(phase, []).append(share)

    def value(self, target: Target, metric: Metric) -> float | None:
        values = self.samples.get(target.key, {}).get(metric.key)
        return statistics.median(values) if values else None

    def cpu(self, target: Target, phase: str) -> CpuShare | None:
        shares = self.cpu_samples.get(target.key, {}).get(phase)
        if not shares:
            return None
        return CpuShare(
            wall_seconds=statistics.median(s.wall_seconds for s in shares),
            server_cores=statistics.median(s.server_cores for s in shares),
            client_cores=statistics.median(s.client_cores for s in shares),
            other_cores=statistics.median(s.other_cores for s in shares),
        )

    def phases(self) -> list[str]:
        names: list[str] = []
        for per_target in self.cpu_samples.values():
            names += [phase for phase in per_target if phase not in names]
        return names

    def metrics(self) -> list[Metric]:
        failed = {name for per_target in self.failures.values() for name in per_target}
        measured = {key for values in self.samples.values() for key in values}
        return [
            m for w in self.workloads for m in w.metrics if m.key in measured or w.name in failed
        ]

    def failed(self, target: Target, metric: Metric) -> bool:
        names = self.failures.get(target.key, {})
        return any(metric in w.metrics and w.name in names for w in self.workloads)

    def failure_lines(self) -> list[str]:
        labels = {t.key: t.label for t in self.targets}
        return [
            f"{labels.get(key, key)}, {name}: {reason}"
            for key, per_target in self.failures.items()
            for name, reasons in per_target.items()
            for reason in reasons
        ]


def comparisons(targets: list[Target]) -> list[tuple[Target, Target]]:
    """Each of our servers against each reference server."""
    ours = [t for t in targets if t.ours]
    references = [t for t in targets if not t.ours]
    return [(mine, theirs) for mine in ours for theirs in references]


def ratio(metric: Metric, ours: float, reference: float) -> str:
    """How many times better or worse ours is, worded so the direction is never in doubt."""
    if ours <= 0 or reference <= 0:
        return MISSING
    factor = ours / reference if metric.higher_is_better else reference / ours
    if factor >= 1:
        return f"{factor:.2f}{TIMES} faster"
    return f"{1 / factor:.2f}{TIMES} slower"


def _value(metric: Metric, value: float | None) -> str:
    if value is None:
        return MISSING
    return f"{value:,.{metric.digits}f}"


def _comparison_header(ours: Target, reference: Target, several_ours: bool) -> str:
    return f"{ours.label} vs {reference.label}" if several_ours else f"Ours vs {reference.label}"


def rows(results: Results) -> tuple[list[str], list[list[str]]]:
    pairs = comparisons(results.targets)
    several_ours = len({ours.key for ours, _ in pairs}) > 1
    headers = [
        "Measure",
        *(t.label for t in results.targets),
        *(_comparison_header(o, r, several_ours) for o, r in pairs),
    ]
    body: list[list[str]] = []
    for metric in results.metrics():
        measured = {t.key: results.value(t, metric) for t in results.targets}
        cells = [metric.title(results.sizes)]
        cells += [
            FAILED
            if measured[t.key] is None and results.failed(t, metric)
            else _value(metric, measured[t.key])
            for t in results.targets
        ]
        for ours, reference in pairs:
            mine, theirs = measured[ours.key], measured[reference.key]
            cells.append(MISSING if mine is None or theirs is None else ratio(metric, mine, theirs))
        body.append(cells)
    return headers, body


def cpu_rows(results: Results) -> tuple[list[str], list[list[str]]]:
    """Cores busy per phase, server / load generator: shows who was the bottleneck."""
    headers = ["Phase (cores: server / client / other)", *(t.label for t in results.targets)]
    body = []
    for phase in results.phases():
        cells = [phase]
        for target in results.targets:
            share = results.cpu(target, phase)
            cells.append(MISSING if share is None else _cores(share))
        body.append(cells)
    return headers, body


def _cores(share: CpuShare) -> str:
    return f"{share.server_cores:.2f} / {share.client_cores:.2f} / {share.other_cores:.2f}"


def rich_table(title: str, headers: list[str], body: list[list[str]]) -> Table:
    table = Table(title=title, title_justify="left")
    for index, header in enumerate(headers):
        table.add_column(header, justify="left" if index == 0 else "right")
    for cells in body:
        table.add_row(*cells)
    return table


def markdown_table(headers: list[str], body: list[list[str]]) -> str:
    lines = [
        "| " + " | ".join(headers) + " |",
        "| " + " | ".join([":--", *["--:"] * (len(headers) - 1)]) + " |",
    ]
    lines += ["| " + " | ".join(cells) + " |" for cells in body]
    return "\n".join(lines)


def section(results: Results, machine: dict[str, str], command: str, date: str) -> str:
    headers, body = rows(results)
    cpu_headers, cpu_body = cpu_rows(results)
    machine_lines = "\n".join(f"- {name}: {value}" for name, value in machine.items())
    target_lines = "\n".join(f"- {t.label}: {t.note}." for t in results.targets if t.note)
    method_lines = "\n".join(f"- {w.name}: {w.describe(results.sizes)}" for w in results.workloads)
    repeats = (
        f" Every row ran {results.repeats} times, targets taking turns; the table shows medians."
        if results.repeats > 1
        else ""
    )
    cores = machine.get("CPU", "?").split(",")[0]
    failure_lines = results.failure_lines()
    failures = (
        '\nRows that failed (shown as "failed", or left out of the medians):\n\n'
        + "\n".join(f"- {line}" for line in failure_lines)
        + "\n"
        if failure_lines
        else ""
    )
    return f"""{SECTION}

Measured on {date} with `{command}` on:

{machine_lines}

{markdown_table(headers, body)}

The ratio columns compare our server with each reference server: "faster" means ours is
better on that row (lower latency or time, higher rate), "slower" that it is worse.

The servers:

{target_lines}

Each server runs as its own process with its data in a fresh temporary directory,
restarted for every row, and all are driven by the same client (aiohttp on uvloop,
keep-alive connections, no compression).{repeats} The rows:

{method_lines}

Cores busy during each measured phase: the server, the client side, and every other
process on the machine. The machine has {cores}: where the client side is near one core
per load generator process, or the columns add up to all the cores, the measured rate is
a floor for that server; a high "other" means something else competed for the cores. The
row "Server CPU per append" does not depend on the client and compares the servers' own
cost.

{markdown_table(cpu_headers, cpu_body)}
{failures}"""


def update_file(path: Path, text: str) -> None:
    """Replace the streams section of ``path`` (up to the next ``## `` heading), or add it."""
    existing = path.read_text() if path.exists() else "# Benchmarks\n"
    pattern = re.compile(rf"^{re.escape(SECTION)}\n.*?(?=^## |\Z)", re.DOTALL | re.MULTILINE)
    replacement = text.rstrip("\n") + "\n\n"
    if pattern.search(existing):
        updated = pattern.sub(lambda _: replacement, existing, count=1)
    else:
        updated = existing.rstrip("\n") + "\n\n" + replacement
    path.write_text(updated.rstrip("\n") + "\n")
