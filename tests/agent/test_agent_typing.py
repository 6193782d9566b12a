"""A handler author's view through a type checker: ``ctx.use_agent(...)`` and
``ctx.agent`` are an ``Agent``, and the agent's options are checked where they are
passed (a misspelt or mistyped option is an error before anything runs)."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

from mypy import api

ROOT = Path(__file__).resolve().parents[2]

HANDLER = """
from wakeful import AgentOptions, Context, ThreadConfig, Wake


async def handler(ctx: Context, wake: Wake) -> None:
    agent = ctx.use_agent("openai:gpt-4o-mini", system="Be brief.", max_steps=3)
    reveal_type(agent)
    reveal_type(ctx.agent)
    reveal_type(await ctx.agent.run())
    reveal_type(ctx.use_agent_options(ThreadConfig(max_tokens=100)))
    options: AgentOptions = ThreadConfig()
    reveal_type(options.build_messages)
    ctx.use_agent(max_stepz=3)
    ctx.use_agent(max_steps="3")
"""


def test_the_agent_is_typed_for_a_handler_author(tmp_path: Path) -> None:
    handler = tmp_path / "handler.py"
    handler.write_text(textwrap.dedent(HANDLER))
    # The project's cache (``make typecheck`` fills it): checking wakeful anew takes long.
    stdout, stderr, _ = api.run(
        [
            "--strict",
            "--follow-imports=silent",
            "--no-error-summary",
            "--cache-dir",
            str(ROOT / ".mypy_cache"),
            str(handler),
        ]
    )
    lines = [re.sub(r"^.*handler\.py:\d+: ", "", line) for line in stdout.splitlines()]
    assert lines == [
        'note: Revealed type is "wakeful.agent.loop.Agent"',
        'note: Revealed type is "wakeful.agent.loop.Agent"',
        'note: Revealed type is "wakeful.agent.loop.RunResult"',
        'note: Revealed type is "wakeful.agent.loop.Agent"',
        'note: Revealed type is "(def (wakeful.entities.context.Context) ->'
        ' list[wakeful.agent.models.base.Message]) | None"',
        'error: Unexpected keyword argument "max_stepz" for "use_agent" of "Context";'
        ' did you mean "max_steps"?  [call-arg]',
        'note: "use_agent" defined in "wakeful.entities.context"',
        'error: Argument "max_steps" to "use_agent" of "Context" has incompatible type'
        ' "str"; expected "int"  [arg-type]',
    ], stdout + stderr
