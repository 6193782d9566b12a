"""Running ``wakeful`` in-process against a real server, and checking how it ended."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from typer.testing import CliRunner, Result

from support.servers import Server
from wakeful.cli import app

# Rich sizes what it prints to the terminal (COLUMNS, else 80) and wraps error panels to
# fit, which would split the phrases tests look for; a fixed width wider than any message
# they check makes the output the same whatever terminal runs the tests.
TERMINAL = {"COLUMNS": "500", "LINES": "100"}


def run_cli(*args: str, env: dict[str, str] | None = None) -> Result:
    """Runs ``wakeful *args`` in-process on a terminal of fixed width."""
    return CliRunner().invoke(app, list(args), env={**TERMINAL, **(env or {})})


def invoker(server: Server) -> Callable[..., Result]:
    """``invoke(*args, env=None)`` runs the command in-process against ``server``."""

    def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
        return run_cli(*args, env={"WAKEFUL_URL": server.url, "WAKEFUL_TOKEN": "", **(env or {})})

    return invoke


def ok(result: Result) -> str:
    assert result.exit_code == 0, (result.exit_code, result.stdout, result.stderr)
    assert "Traceback" not in result.stdout + result.stderr
    return result.stdout


# The borders Rich draws around an error panel.
_PANEL = re.compile(r"[\u2500-\u257f]")


def failed(result: Result, code: int = 1) -> str:
    """The error output of a command that failed cleanly (no traceback) with ``code``,
    with panel borders removed and whitespace collapsed, so that a message reads the same
    however the console wrapped it."""
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    assert "Traceback" not in result.stdout + result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)
    return " ".join(_PANEL.sub(" ", result.stderr).split())


def as_json(result: Result) -> Any:
    return json.loads(ok(result))
