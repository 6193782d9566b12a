"""Wake latency of one handler run three ways, side by side in one run.

A message is sent over HTTP; the handler's first line records the time in its state;
the latency is the difference (all processes share the machine's clock). Each message is
sent once the previous one was handled (no wake in flight). Targets, each on a fresh
SQLite database with real processes:

- in-process: ``wakeful serve bench.serverless_types:registry``;
- HTTP-only worker: ``serve --no-workers`` plus ``wakeful worker --server URL``;
- webhook: ``serve`` plus the app (``wake_app``) under uvicorn, registered as a remote type.

    python bench/serverless_bench.py [--messages 40]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
TYPES = "bench.serverless_types:registry"


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_up(url: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            httpx.get(url, timeout=1)
            return
        time.sleep(0.05)
    raise RuntimeError(f"{url} did not come up")


@contextlib.contextmanager
def processes(target: str, directory: Path) -> Iterator[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    serve = [sys.executable, "-m", "wakeful", "serve", "--port", str(port)]
    serve += ["--database", str(directory / f"{target}.db"), "--log-level", "warning"]
    started: list[subprocess.Popen[bytes]] = []
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "env": env}
    try:
        if target == "in-process":
            started.append(subprocess.Popen([*serve[:4], TYPES, *serve[4:]], **quiet))  # type: ignore[call-overload]
            _wait_up(f"{url}/healthz")
        elif target == "http-worker":
            started.append(
                subprocess.Popen([*serve[:4], TYPES, *serve[4:], "--no-workers"], **quiet)
            )  # type: ignore[call-overload]
            _wait_up(f"{url}/healthz")
            worker = [sys.executable, "-m", "wakeful", "worker", TYPES, "--server", url]
            started.append(subprocess.Popen(worker, **quiet))  # type: ignore[call-overload]
            time.sleep(2)
        else:
            started.append(subprocess.Popen(serve, **quiet))  # type: ignore[call-overload]
            _wait_up(f"{url}/healthz")
            app_port = free_port()
            app = [
                sys.executable,
                "-m",
                "uvicorn",
                "bench.serverless_types:app",
                "--port",
                str(app_port),
            ]
            app_env = {**env, "WAKEFUL_SERVER": url}
            started.append(
                subprocess.Popen(
                    app, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=app_env
                )
            )
            _wait_up(f"http://127.0.0.1:{app_port}/")
            registered = httpx.post(
                f"{url}/v1/types",
                json={"name": "lat", "webhook": {"url": f"http://127.0.0.1:{app_port}/"}},
            )
            registered.raise_for_status()
        yield url
    finally:
        for process in started:
            process.terminate()
        for process in started:
            process.wait(10)


def _started(client: httpx.Client, url: str) -> dict[str, float]:
    events = client.get(f"{url}/v1/stream/lat/a/main", params={"offset": "-1"}).json()
    return {e["value"]["id"]: e["value"]["at"] for e in events if e["type"] == "state:started"}


def measure(url: str, messages: int) -> list[float]:
    latencies = []
    with httpx.Client(timeout=30) as client:
        client.post(f"{url}/v1/entities/lat", json={"id": "a"}).raise_for_status()
        for n in range(messages + 5):
            sent = time.time()
            client.post(f"{url}/v1/entities/lat/a/messages", json={"payload": f"m{n}"})
            while (at := _started(client, url).get(f"m{n}")) is None:
                time.sleep(0.002)
            if n >= 5:  # the first few warm the processes up
                latencies.append((at - sent) * 1000)
            time.sleep(0.05)  # let the pass commit: the entity asleep again
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=40)
    options = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as directory:
        for target in ("in-process", "http-worker", "webhook"):
            with processes(target, Path(directory)) as url:
                results[target] = measure(url, options.messages)
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")
    print("| Wake latency, send → handler start (ms) | in-process | HTTP-only worker | webhook |")
    print("| :-- | --: | --: | --: |")
    for name, pick in (("p50", 0.5), ("p90", 0.9)):
        cells = [
            statistics.quantiles(values, n=100)[int(pick * 100) - 1] for values in results.values()
        ]
        print(f"| {name} | " + " | ".join(f"{cell:.1f}" for cell in cells) + " |")


if __name__ == "__main__":
    main()
