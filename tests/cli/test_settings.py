"""One list of settings: every field is an option (of ``serve``, and of ``worker`` when a
worker uses it) with the field's description as its help; defaults < ``WAKEFUL_*``
variables < options; bad values are usage errors; a worker applies its limits and
loads nothing of the HTTP layer."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
import typer
from support.cli_support import failed, run_cli
from support.client_types import pythonpath
from support.servers import running
from support.waiting import eventually
from typer.core import TyperGroup, TyperOption

from wakeful import InvalidSettings, Settings
from wakeful.cli import app
from wakeful.cli.settings_options import fields_of, help_of, shown_default
from wakeful.settings import env_name, flag_of, option_of

TYPES = "cli.settings_types:registry"
HTTP_MODULES = ("starlette", "fastapi", "uvicorn", "wakeful.server")


def options_of(command: str) -> dict[str, TyperOption]:
    group = typer.main.get_command(app)
    assert isinstance(group, TyperGroup)
    found = group.commands[command].params
    return {opt: param for param in found if isinstance(param, TyperOption) for opt in param.opts}


def test_every_setting_is_a_serve_option_with_its_description_as_help() -> None:
    serve = options_of("serve")
    for name, field in Settings.model_fields.items():
        option = serve[flag_of(name).split("/")[0]]
        assert field.description and option.help == help_of(name), name
        assert option.help.startswith(field.description) and env_name(name) in option.help


def test_the_worker_has_an_option_for_each_setting_a_worker_uses_and_no_other() -> None:
    worker = options_of("worker")
    wanted = {flag_of(name) for name in fields_of(worker=True)}
    assert {"--max-model-calls", "--max-tool-calls", "--concurrency", "--database"} <= wanted
    # --server and --token are the HTTP-only worker's own: the server it works for.
    assert set(worker) - {"--help", "--server", "--token"} == wanted
    for name in fields_of(worker=True):
        assert worker[flag_of(name)].help == help_of(name)
    assert not {"--port", "--max-headers", "--workers"} & set(worker)


def test_defaults_then_environment_then_given_values() -> None:
    assert Settings.from_env({}) == Settings()
    environ = {
        "WAKEFUL_MAX_TOOL_CALLS": "5",
        "WAKEFUL_MAX_MODEL_CALLS": "3",
        "WAKEFUL_CORS_ORIGINS": "https://a.example https://b.example",
        "WAKEFUL_RUN_WORKERS": "false",
        "WAKEFUL_TOKEN": "",  # empty: unset
        "WAKEFUL_UNRELATED": "x",
    }
    settings = Settings.from_env(environ, max_tool_calls=9)
    assert (settings.max_model_calls, settings.max_tool_calls) == (3, 9)
    assert settings.cors_origins == ("https://a.example", "https://b.example")
    assert settings.run_workers is False and settings.token is None
    assert settings.max_headers == Settings().max_headers == 100


def test_the_former_database_variable_is_read_below_the_new_one() -> None:
    assert Settings.from_env({"WAKEFUL_DATABASE_URL": "old.db"}).database == "old.db"
    both = {"WAKEFUL_DATABASE_URL": "old.db", "WAKEFUL_DATABASE": "new.db"}
    assert Settings.from_env(both).database == "new.db"


def test_bad_values_name_where_they_came_from() -> None:
    with pytest.raises(InvalidSettings) as caught:
        Settings.from_env({"WAKEFUL_PORT": "eighty"}, max_tool_calls=0)
    assert caught.value.sources == {"port": "WAKEFUL_PORT", "max_tool_calls": "max_tool_calls"}
    assert "WAKEFUL_PORT" in str(caught.value) and "greater than or equal to 1" in str(caught.value)
    with pytest.raises(ValueError, match="max_json_depth"):
        Settings(max_json_depth=255)


@pytest.mark.parametrize(
    ("args", "env", "named"),
    [
        (("serve", "--max-tool-calls", "0"), {}, "--max-tool-calls"),
        (("worker", "m:r", "--max-model-calls", "-1"), {}, "--max-model-calls"),
        (("serve", "--sqlite-synchronous", "sometimes"), {}, "--sqlite-synchronous"),
        (("serve", "--port", "eighty"), {}, "--port"),
        (("serve",), {"WAKEFUL_MAX_JSON_DEPTH": "999"}, "WAKEFUL_MAX_JSON_DEPTH"),
        (("worker", "m:r"), {"WAKEFUL_MAX_MODEL_CALLS": "lots"}, "WAKEFUL_MAX_MODEL_CALLS"),
        (("serve", "--principals", "no-such-file.toml"), {}, "--principals"),
        (("serve", "--auth", "no_such_module:auth"), {}, "--auth"),
    ],
)
def test_bad_values_are_usage_errors(
    args: tuple[str, ...], env: dict[str, str], named: str
) -> None:
    assert named in failed(run_cli(*args, env=env), code=2)


def test_a_worker_ignores_variables_of_settings_it_has_not(tmp_path: Path) -> None:
    """A bad ``WAKEFUL_PORT`` (for a server on the same machine) stops no worker."""
    result = run_cli("worker", "no_such_module:registry", env={"WAKEFUL_PORT": "eighty"})
    assert "cannot load registry" in failed(result, code=2)


def test_serve_reads_the_environment_below_its_options(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = b"x" * 1500

    def append_status(url: str) -> int:
        created = httpx.put(url, headers={"content-type": "application/octet-stream"})
        assert created.status_code == 201, created.text
        return httpx.post(
            url, content=body, headers={"content-type": "application/octet-stream"}
        ).status_code

    database = str(tmp_path / "wakeful.db")
    with running(database) as server:
        assert append_status(server.stream("default")) == 204
    monkeypatch.setenv("WAKEFUL_MAX_BODY_BYTES", "1000")
    with running(database) as server:
        assert append_status(server.stream("from-env")) == 413
    with running(database, "--max-body-bytes", "2000") as server:
        assert append_status(server.stream("from-option")) == 204


def _state_rows(server_url: str, path: str) -> list[dict[str, Any]]:
    events = httpx.get(f"{server_url}/v1/stream/{path}", params={"offset": "-1"}).json()
    return [event["value"] for event in events if event["type"] == "state:seen"]


# Runs the real ``wakeful`` command line and, as the process ends, lists what it loaded.
WORKER = """
import atexit, sys
listing = sys.argv.pop()
atexit.register(lambda: open(listing, "w").write("\\n".join(sorted(sys.modules))))
from wakeful.cli import main
sys.argv[0] = "wakeful"
main()
"""


def test_a_worker_applies_its_limits_and_loads_no_http_module(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = str(tmp_path / "wakeful.db")
    loaded = tmp_path / "modules.txt"
    monkeypatch.setenv("PYTHONPATH", pythonpath())  # for the server too
    env = {**os.environ, "WAKEFUL_MAX_MODEL_CALLS": "3"}
    env["WAKEFUL_MAX_TOOL_CALLS"] = "7"  # the option below wins over it
    command = [sys.executable, "-c", WORKER, "worker", TYPES]
    command += ["--database", database, "--max-tool-calls", "5", "--log-level", "warning"]
    worker = subprocess.Popen([*command, str(loaded)], env=env, stderr=subprocess.PIPE)
    try:
        with running(database, TYPES, "--no-workers") as server:
            response = httpx.post(
                f"{server.url}/v1/entities/limits", json={"id": "l1", "message": "go"}
            )
            assert response.status_code == 201, response.text

            async def recorded() -> list[dict[str, Any]]:
                return await asyncio.to_thread(_state_rows, server.url, "limits/l1/main")

            [row] = asyncio.run(eventually(recorded, what="the worker to handle the message"))
    finally:
        worker.send_signal(signal.SIGTERM)
        _, errors = worker.communicate(timeout=30)
    assert (row["model_calls"], row["tool_calls"], row["pid"]) == (3, 5, worker.pid)
    assert worker.returncode == 0, errors.decode()
    modules = set(loaded.read_text().split())
    assert {"wakeful.background", "wakeful.cli.server", "wakeful.entities.runtime"} <= modules
    assert sorted(name for name in modules if name.startswith(HTTP_MODULES)) == []


def test_the_readme_lists_every_setting_once_as_it_is() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `--")]
    expected = [
        f"| `{flag_of(name)}` | `{env_name(name)}` | `{shown_default(name)}` |"
        f" {'yes' if option_of(name).worker else 'no'} | {field.description} |"
        for name, field in Settings.model_fields.items()
    ]
    assert rows == expected
