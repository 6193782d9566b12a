"""``wakeful types`` against a real server: the KIND and WEBHOOK of every type, showing one,
registering and deleting remote types, and a clear error with a non-zero exit (never a
traceback) for every bad input."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from support.cli_support import as_json, failed, invoker, ok
from support.servers import Server, free_port
from typer.testing import Result

from wakeful.client import Client


@pytest.fixture(scope="module")
def server(types_server: Server) -> Server:
    return types_server


@pytest.fixture
def wakeful(server: Server) -> Callable[..., Result]:
    """``wakeful(*args)`` runs the command in-process against the module's server."""
    return invoker(server)


def webhook() -> str:
    return f"http://127.0.0.1:{free_port()}/wake"


def write(directory: Path, name: str, text: str) -> str:
    path = directory / name
    path.write_text(text)
    return str(path)


def test_register_list_show_and_delete(wakeful: Callable[..., Result], tmp_path: Path) -> None:
    url = webhook()
    args = write(tmp_path, "args.json", '{"type": "object", "properties": {"owner": {}}}')
    inbox = write(tmp_path, "inbox.json", '{"type": "string"}')
    said = ok(
        wakeful(
            "types", "register", "echo", "--webhook", url, "--description", "Echoes it",
            "--args-schema", args, "--inbox-schema", inbox, "--lease-seconds", "5",
            "--request-timeout-seconds", "3",
        )
    )  # fmt: skip
    assert "registered remote type echo" in said and url in said

    table = ok(wakeful("types"))  # one line per type
    header, *rows = table.splitlines()
    assert header.split() == ["TYPE", "KIND", "DESCRIPTION", "STATE", "ARGS", "WEBHOOK"]
    echo = next(row for row in rows if row.split()[0] == "echo")
    assert "remote" in echo and "Echoes it" in echo and "owner" in echo and url in echo
    note = next(row for row in rows if row.split()[0] == "note")
    assert note.split()[1] == "local" and "notes, signals" in note

    listed = {item["name"]: item for item in as_json(wakeful("types", "--json"))}
    assert list(listed) == ["note", "thread", "slow", "echo"]
    assert listed["note"]["kind"] == "local" and listed["note"]["webhook_url"] is None
    assert listed["echo"] == {
        "name": "echo",
        "kind": "remote",
        "description": "Echoes it",
        "state": {},
        "args_schema": {"type": "object", "properties": {"owner": {}}},
        "inbox_schema": {"type": "string"},
        "webhook_url": url,
        "lease_seconds": 5.0,
        "request_timeout_seconds": 3.0,
    }

    shown = ok(wakeful("types", "show", "echo"))
    assert "remote" in shown and url in shown and "Echoes it" in shown
    assert 'inbox schema: {"type":"string"}' in shown
    assert as_json(wakeful("types", "show", "echo", "--json")) == listed["echo"]
    assert "notes, signals" in ok(wakeful("types", "show", "note"))

    assert (
        as_json(wakeful("types", "register", "echo", "--webhook", url, "--json"))["inbox_schema"]
        is None
    )  # registering again updates the type
    assert "deleted remote type echo" in ok(wakeful("types", "delete", "echo"))
    assert "echo" not in ok(wakeful("types"))
    assert "WEBHOOK" not in ok(wakeful("types"))  # shown only when a remote type exists
    error = failed(wakeful("types", "show", "echo"))
    assert "no entity type 'echo'" in error and "wakeful types" in error


def test_options_before_the_subcommand(wakeful: Callable[..., Result], server: Server) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    env = {"WAKEFUL_URL": nowhere}
    registered = as_json(
        wakeful("types", "--json", "--url", server.url, "register", "opt", "--webhook", webhook(),
                env=env)
    )  # fmt: skip
    assert registered["kind"] == "remote"
    assert as_json(wakeful("types", "--url", server.url, "delete", "opt", "--json", env=env)) == {
        "name": "opt",
        "deleted": True,
    }
    assert "cannot reach" in failed(wakeful("types", "delete", "opt", env=env))


def test_bad_registrations(wakeful: Callable[..., Result], tmp_path: Path) -> None:
    url = webhook()
    error = failed(wakeful("types", "register", "Bad Name", "--webhook", url))
    assert "must be 1-64 lowercase letters" in error and "/type/id" not in error
    error = failed(wakeful("types", "register", "x", "--webhook", "http://example.com/wake"))
    assert "webhook URL rejected" in error and "hint:" in error
    assert "absolute" in failed(wakeful("types", "register", "x", "--webhook", "nope"))
    invalid = write(tmp_path, "invalid.json", '{"type": "nope"}')
    error = failed(wakeful("types", "register", "x", "--webhook", url, "--args-schema", invalid))
    assert "invalid args schema" in error

    # Files that are not a JSON Schema object are usage errors, caught before any request.
    not_json = write(tmp_path, "not.json", "{bad")
    error = failed(
        wakeful("types", "register", "x", "--webhook", url, "--inbox-schema", not_json), 2
    )
    assert "not valid JSON" in error and "--inbox-schema" in error
    a_list = write(tmp_path, "list.json", "[1, 2]")
    error = failed(wakeful("types", "register", "x", "--webhook", url, "--args-schema", a_list), 2)
    assert "JSON Schema object" in error
    missing = str(tmp_path / "missing.json")
    error = failed(wakeful("types", "register", "x", "--webhook", url, "--args-schema", missing), 2)
    assert "cannot read" in error
    assert "--webhook" in failed(wakeful("types", "register", "x"), 2)
    failed(wakeful("types", "register", "x", "--webhook", url, "--lease-seconds", "0"), 2)
    assert "x" not in {item["name"] for item in as_json(wakeful("types", "--json"))}


def test_refused_deletions(wakeful: Callable[..., Result], server: Server) -> None:
    error = failed(wakeful("types", "delete", "note"))
    assert "defined in Python" in error and "hint:" in error
    error = failed(wakeful("types", "delete", "nope"))
    assert "no remote entity type 'nope'" in error and "wakeful types" in error
    assert "lowercase letters" in failed(wakeful("types", "delete", "a/b"))

    ok(wakeful("types", "register", "busy", "--webhook", webhook()))
    ok(wakeful("spawn", "busy", "b1"))
    error = failed(wakeful("types", "delete", "busy"))
    assert "/busy/b1" in error and "wakeful ps --type" in error
    with Client(server.url) as client:
        client.delete("/busy/b1")
    ok(wakeful("types", "delete", "busy"))


def test_json_errors_are_json(wakeful: Callable[..., Result]) -> None:
    for command in (["delete", "note"], ["delete", "nope"], ["show", "nope"]):
        result = wakeful("types", *command, "--json")
        body = json.loads(failed(result))
        assert body["error"]["code"] in {"LOCAL_TYPE", "UNKNOWN_TYPE"}
        assert body["error"]["status"] in {404, 409} and body["error"]["message"]
        assert result.stdout == ""
    result = wakeful("types", "register", "x", "--webhook", "ftp://h/", "--json")
    body = json.loads(failed(result))
    assert (body["error"]["code"], body["error"]["status"]) == ("WEBHOOK_URL_REJECTED", 400)
