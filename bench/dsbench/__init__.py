"""Benchmark harness for the streams layer: targets, one shared client, workloads, report."""

import importlib.util

if importlib.util.find_spec("aiohttp") is None:
    raise SystemExit("the streams benchmark needs aiohttp: pip install -e '.[bench]'")
