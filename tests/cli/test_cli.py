"""The ``wakeful`` client commands against a real server: human output, ``--json`` output,
and a helpful error (never a traceback) for every way a command can go wrong."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import pytest
from support.cli_support import TERMINAL, as_json, failed, invoker, ok
from support.client_types import SLOW_TEXT, pythonpath, serve
from support.servers import Server, free_port
from typer.testing import Result

from wakeful.client import Client

WAIT = 15.0


@pytest.fixture(scope="module")
def server(types_server: Server) -> Server:
    return types_server


@pytest.fixture
def wakeful(server: Server) -> Callable[..., Result]:
    """``wakeful(*args)`` runs the command in-process against the module's server."""
    return invoker(server)


def until(probe: Callable[[], Any], what: str) -> Any:
    deadline = time.monotonic() + WAIT
    while not (found := probe()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)
    return found


# -- each command --------------------------------------------------------------------------


def test_types(wakeful: Callable[..., Result]) -> None:
    table = ok(wakeful("types"))
    assert "note" in table and "Keeps the messages" in table and "notes, signals" in table
    found = as_json(wakeful("types", "--json"))
    assert [item["name"] for item in found] == ["note", "thread", "slow"]


def test_spawn(wakeful: Callable[..., Result], server: Server) -> None:
    human = ok(wakeful("spawn", "note", "cli-1", "--message", "hello", "--tag", "a=1"))
    assert "/note/cli-1" in human and "spawned" in human
    entity = as_json(
        wakeful(
            "spawn", "note", "cli-2", "--args", '{"title": "t"}', "--message", '{"n": 2}',
            "--tag", "a=1", "--tag", "b=x=y", "--json",
        )
    )  # fmt: skip
    assert entity["url"] == "/note/cli-2" and entity["tags"] == {"a": "1", "b": "x=y"}
    generated = as_json(wakeful("spawn", "note", "--json"))
    assert generated["type"] == "note" and generated["id"]
    with Client(server.url) as client:
        until(lambda: client.state("/note/cli-2").collection("state:notes"), "the message")
        store = client.state("/note/cli-2")
        assert [row["payload"] for row in store.collection("state:notes")] == [{"n": 2}]
        assert store.collection("entity_created").get("entity")["args"] == {"title": "t"}


def test_send_signal_and_kill(wakeful: Callable[..., Result], server: Server) -> None:
    ok(wakeful("spawn", "note", "cli-send"))
    assert "sent message" in ok(wakeful("send", "/note/cli-send", "plain text"))
    sent = as_json(wakeful("send", "note/cli-send", "[1, 2]", "--from", "bob", "--json"))
    assert sent["id"] and sent["url"] == "/note/cli-send"
    assert "sent signal" in ok(wakeful("signal", "/note/cli-send", "ping"))
    signalled = as_json(
        wakeful("signal", "/note/cli-send", "ping", "--payload", '{"x": 1}', "--json")
    )
    assert signalled["name"] == "ping" and signalled["id"]
    with Client(server.url) as client:
        until(lambda: len(client.state("/note/cli-send").collection("state:signals")) == 2, "")
        store = client.state("/note/cli-send")
        notes = [(row["payload"], row["sender"]) for row in store.collection("state:notes")]
        assert notes == [("plain text", None), ([1, 2], "bob")]
        payloads = [row["payload"] for row in store.collection("state:signals")]
        assert payloads == [None, {"x": 1}]
    assert "killed /note/cli-send" in ok(wakeful("kill", "/note/cli-send"))
    with Client(server.url) as client:
        until(lambda: client.get("/note/cli-send").status == "killed", "the kill")
    assert "is killed" in failed(wakeful("send", "/note/cli-send", "late"))
    assert "is killed" in failed(wakeful("kill", "/note/cli-send"))
    ok(wakeful("spawn", "note", "cli-kill"))
    killed = as_json(wakeful("kill", "/note/cli-kill", "--json"))
    assert killed == {"id": killed["id"], "url": "/note/cli-kill", "name": "kill"}


def test_ps(wakeful: Callable[..., Result]) -> None:
    for index in range(3):
        ok(wakeful("spawn", "note", f"ps-{index}", "--tag", "group=ps"))
    table = ok(wakeful("ps", "--type", "note"))
    assert all(f"/note/ps-{index}" in table for index in range(3))
    assert "URL" in table and "STATUS" in table and "group=ps" in table
    listed = as_json(wakeful("ps", "--tag", "group=ps", "--json"))
    assert [entity["url"] for entity in listed] == [f"/note/ps-{index}" for index in range(3)]
    assert as_json(wakeful("ps", "--status", "paused", "--json")) == []
    assert "no entities" in ok(wakeful("ps", "--type", "slow"))


def test_observe_until_idle(wakeful: Callable[..., Result], server: Server) -> None:
    with Client(server.url) as client:
        thread = client.create_thread("What is the weather in Paris?", id="cli-observe")
        until(lambda: client.thread(thread).status == "completed", "the answer")
    shown = ok(wakeful("observe", "/thread/cli-observe", "--from-start", "--until-idle"))
    assert "» message: What is the weather in Paris?" in shown
    assert "▶ run started" in shown and "■ run completed" in shown
    assert "⚙ get_weather" in shown and '{"city":"Paris"}' in shown
    assert "✓ get_weather → sunny in Paris" in shown
    assert "get_weather returned: sunny in Paris" in shown  # the streamed answer

    lines = ok(wakeful("observe", "/thread/cli-observe", "--from-start", "--until-idle", "--json"))
    events = [json.loads(line) for line in lines.splitlines()]
    assert events[0]["type"] == "entity_created"
    assert {"type", "key", "operation", "value", "offset", "timestamp"} == set(events[0])
    assert [e["offset"] for e in events] == sorted(e["offset"] for e in events)
    assert any(e["type"] == "text_delta" for e in events)

    # Without --from-start, an idle entity shows nothing new and the command returns.
    quiet = ok(wakeful("observe", "/thread/cli-observe", "--until-idle", "--json"))
    assert quiet == ""


def test_observe_renders_live_text_and_stops_on_ctrl_c(server: Server) -> None:
    env = {**os.environ, **TERMINAL, "PYTHONPATH": pythonpath(), "WAKEFUL_URL": server.url}
    with Client(server.url) as client:
        client.spawn("slow", "cli-live", message="go")
    # Attaches while the answer streams, shows it all once, and exits when the run is done.
    command = [sys.executable, "-m", "wakeful", "observe", "/slow/cli-live", "--from-start",
               "--until-idle"]  # fmt: skip
    watcher = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = watcher.communicate(timeout=WAIT)
    assert watcher.returncode == 0, err
    text = out.decode()
    assert "» message: go" in text and "■ run completed" in text
    assert " ".join(text.split()).count(SLOW_TEXT) == 1

    interrupted = subprocess.Popen(
        [sys.executable, "-m", "wakeful", "observe", "/slow/cli-live"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    assert interrupted.stdout is not None
    header = interrupted.stdout.readline()  # printed once it watches
    assert b"observing /slow/cli-live" in header
    interrupted.send_signal(signal.SIGINT)
    out, err = interrupted.communicate(timeout=WAIT)
    assert interrupted.returncode == 0, err
    assert b"Traceback" not in out + err


# -- connection options and errors ----------------------------------------------------------


def test_url_and_token_options(wakeful: Callable[..., Result], server: Server) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    assert "note" in ok(wakeful("--url", server.url, "types", env={"WAKEFUL_URL": nowhere}))
    assert "note" in ok(wakeful("types", "--url", server.url, env={"WAKEFUL_URL": nowhere}))
    error = failed(wakeful("types", env={"WAKEFUL_URL": nowhere}))
    assert "cannot reach a Wakeful server" in error and "wakeful serve" in error
    assert "bad" in failed(wakeful("--url", "ftp://bad", "ps"))


def test_wrong_token(wakeful: Callable[..., Result], fresh_database: Callable[[], str]) -> None:
    guarded = serve(fresh_database(), "--token", "right")
    try:
        for extra in ([], ["--token", "wrong"]):
            error = failed(wakeful("--url", guarded.url, *extra, "ps"))
            assert "bearer token" in error and "WAKEFUL_TOKEN" in error
        assert "no entities" in ok(
            wakeful("ps", env={"WAKEFUL_URL": guarded.url, "WAKEFUL_TOKEN": "right"})
        )
        assert "/note/" in ok(wakeful("--url", guarded.url, "--token", "right", "spawn", "note"))
    finally:
        guarded.stop()


def test_helpful_errors(wakeful: Callable[..., Result]) -> None:
    error = failed(wakeful("spawn", "nope"))
    assert "no entity type 'nope'" in error and "wakeful types" in error
    for command in (
        ["send", "/note/missing", "hi"],
        ["kill", "/note/missing"],
        ["signal", "/note/missing", "x"],
        ["observe", "/note/missing"],
    ):
        error = failed(wakeful(*command))
        assert "/note/missing does not exist" in error and "wakeful ps" in error
    error = failed(wakeful("send", "missing", "hi"))
    assert "must look like /type/id" in error
    ok(wakeful("spawn", "note", "dup"))
    assert "already exists" in failed(wakeful("spawn", "note", "dup"))
    assert "title" in failed(wakeful("spawn", "note", "--args", '{"title": [1]}'))


def test_invalid_arguments_are_usage_errors(wakeful: Callable[..., Result]) -> None:
    assert "not valid JSON" in failed(wakeful("spawn", "note", "--args", "{bad"), 2)
    assert "not valid JSON" in failed(wakeful("spawn", "note", "--message", "{oops"), 2)
    assert "not valid JSON" in failed(wakeful("signal", "/note/x", "n", "--payload", "nope"), 2)
    assert "not valid JSON" in failed(wakeful("send", "/note/x", "[1,"), 2)
    assert "name=value" in failed(wakeful("spawn", "note", "--tag", "novalue"), 2)


def test_json_errors_are_json(wakeful: Callable[..., Result]) -> None:
    result = wakeful("send", "/note/missing", "hi", "--json")
    body = json.loads(failed(result))
    assert body["error"]["code"] == "UNKNOWN_ENTITY" and body["error"]["status"] == 404
    assert result.stdout == ""
    down = wakeful("ps", "--json", env={"WAKEFUL_URL": f"127.0.0.1:{free_port()}"})
    assert json.loads(failed(down))["error"]["code"] == "UNREACHABLE"


def test_serve_and_worker_keep_their_options(wakeful: Callable[..., Result]) -> None:
    serve_help = ok(wakeful("serve", "--help"))
    for option in (
        "--host",
        "--port",
        "--database",
        "--token",
        "--max-model-calls",
        "--sse-max-seconds",
        "--workers",
        "--log-level",
    ):
        assert option in serve_help
    assert "--concurrency" in ok(wakeful("worker", "--help"))
    refused = failed(wakeful("serve", "--host", "0.0.0.0"), 2)
    assert "refusing to serve 0.0.0.0 without a token" in " ".join(refused.split())


def test_usage(wakeful: Callable[..., Result], server: Server) -> None:
    with Client(server.url) as client:
        client.create_thread("Hello there.", id="cli-usage")

        def answered() -> bool:
            runs = client.state("/thread/cli-usage").collection("run")
            return any(run.get("status") == "completed" for _, run in runs.items())

        until(answered, "the thread's answer")
    found = as_json(
        wakeful("usage", "--entity", "/thread/cli-usage", "--group-by", "entity", "--json")
    )
    (total,) = found
    assert total["group"] == {"entity": "/thread/cli-usage"}
    assert (
        total["calls"] >= 1
        and total["tokens"] == total["input_tokens"] + total["output_tokens"] > 0
    )
    table = ok(wakeful("usage", "--group-by", "type"))
    assert "CALLS" in table and "thread" in table
    assert "cannot group by 'colour'" in failed(wakeful("usage", "--group-by", "colour"))
