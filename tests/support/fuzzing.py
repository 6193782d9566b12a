"""Hypothesis settings for fuzz tests against a real server: bounded, so the suite stays
fast, and derandomized, so every run sends the same requests and a failure repeats."""

from __future__ import annotations

from hypothesis import HealthCheck, settings


def bounded(max_examples: int) -> settings:
    return settings(
        max_examples=max_examples,
        derandomize=True,
        deadline=None,  # a real server over loopback: time is not what is tested
        suppress_health_check=list(HealthCheck),
        database=None,  # nothing remembered between runs: the same examples each time
    )
