"""Fake model provider servers that speak the real HTTP and SSE wire formats.

Each fake is a small Starlette app served by uvicorn on 127.0.0.1 in a background
thread, so the official SDKs talk to it over real sockets exactly as they would to the
provider. A test scripts the replies (:class:`Reply`, :class:`HTTPError`) in the order
the requests will arrive and then asserts on :attr:`FakeServer.requests`.

    with FakeOpenAI.running() as fake:
        fake.script(Reply(text="Hello"), HTTPError(429, headers={"Retry-After": "2"}))
        model = OpenAIModel("gpt-test", api_key="test", base_url=fake.base_url)
"""

from .anthropic_server import FakeAnthropic
from .harness import FakeServer, FakeToolCall, HTTPError, Recorded, Reply
from .openai_server import FakeOpenAI

__all__ = [
    "FakeAnthropic",
    "FakeOpenAI",
    "FakeServer",
    "FakeToolCall",
    "HTTPError",
    "Recorded",
    "Reply",
]
