"""CPU use of the server and of the load generator during a measured phase.

A benchmark on a two-core machine is only honest if the client was not the one out of
breath: every phase records how much of a core each side used, so a reader can tell a
server-bound number from a client-bound one.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

_TICKS = os.sysconf("SC_CLK_TCK")


def process_cpu_seconds(pid: int) -> float:
    """User plus system CPU seconds of a process (all its threads), from ``/proc``."""
    with open(f"/proc/{pid}/stat", "rb") as stat:
        raw = stat.read()
    # The command name may contain spaces; the fields after it are fixed.
    fields = raw[raw.rindex(b")") + 2 :].split()
    utime, stime = int(fields[11]), int(fields[12])
    return (utime + stime) / _TICKS


def machine_busy_seconds() -> float:
    """CPU seconds all processes on the machine have used so far (every core summed)."""
    with open("/proc/stat", "rb") as stat:
        fields = [int(value) for value in stat.readline().split()[1:]]
    idle, iowait = fields[3], fields[4]
    return (sum(fields[:8]) - idle - iowait) / _TICKS


@dataclass(slots=True)
class CpuShare:
    """Cores used on average over a phase (1.0 is one core fully busy).

    ``other_cores`` is what the rest of the machine used meanwhile: anything well above
    zero means another workload competed with the benchmark for the cores.
    """

    wall_seconds: float = 0.0
    server_cores: float = 0.0
    client_cores: float = 0.0
    other_cores: float = 0.0


@dataclass(slots=True)
class Phase:
    """A phase being measured; helper processes report their own CPU into it."""

    helper_cpu_seconds: float = 0.0


class Meter:
    """Measures wall time and CPU use of the server processes and of the client side."""

    def __init__(self, server_pids: list[int]) -> None:
        self.server_pids = server_pids
        self.phases: dict[str, CpuShare] = {}

    def _server_seconds(self) -> float:
        return sum(process_cpu_seconds(pid) for pid in self.server_pids)

    @contextmanager
    def measure(self, name: str) -> Iterator[Phase]:
        phase = Phase()
        wall, server, client = time.perf_counter(), self._server_seconds(), time.process_time()
        busy = machine_busy_seconds()
        try:
            yield phase
        finally:
            elapsed = time.perf_counter() - wall
            server_seconds = self._server_seconds() - server
            client_seconds = time.process_time() - client + phase.helper_cpu_seconds
            other_seconds = machine_busy_seconds() - busy - server_seconds - client_seconds
            self.phases[name] = CpuShare(
                wall_seconds=elapsed,
                server_cores=server_seconds / elapsed,
                client_cores=client_seconds / elapsed,
                other_cores=max(0.0, other_seconds) / elapsed,
            )
