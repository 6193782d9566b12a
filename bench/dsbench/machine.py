"""A description of the machine and software a run used, for the report header."""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess

from .targets import REPO


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _memory_gib() -> float:
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) / (1 << 20)
    except OSError:
        pass
    return float("nan")


def _node_version() -> str:
    node = shutil.which("node")
    if node is None:
        return "not installed"
    result = subprocess.run([node, "--version"], capture_output=True, text=True, check=False)
    return result.stdout.strip() or "unknown"


def _reference_version() -> str:
    package = REPO / "conformance" / "node_modules" / "@durable-streams" / "server" / "package.json"
    try:
        return str(json.loads(package.read_text())["version"])
    except (OSError, ValueError, KeyError):
        return "unknown"


def _git(*args: str) -> str:
    git = shutil.which("git")
    if git is None:
        return ""
    result = subprocess.run([git, *args], cwd=REPO, capture_output=True, text=True, check=False)
    return result.stdout.strip() if result.returncode == 0 else ""


def _wakeful_version() -> str:
    """The package version and the commit measured, flagged when the sources were edited."""
    try:
        from wakeful import __version__ as version
    except ImportError:
        version = "unknown"
    commit = _git("rev-parse", "--short", "HEAD")
    if not commit:
        return version
    edited = " with uncommitted changes" if _git("status", "--porcelain", "--", "src") else ""
    return f"{version} (commit {commit}{edited})"


def describe(load_at_start: float) -> dict[str, str]:
    """The facts a reader needs to compare a table with one measured elsewhere."""
    return {
        "CPU": f"{os.cpu_count()} cores, {_cpu_model()}",
        "RAM": f"{_memory_gib():.1f} GiB",
        "OS": f"{platform.system()} {platform.release()}",
        "Python": platform.python_version(),
        "Node": _node_version(),
        "Wakeful": _wakeful_version(),
        "@durable-streams/server": _reference_version(),
        "Load average when the run started": f"{load_at_start:.2f}",
    }
