"""The AI SDK's chat on a thread: what a post does, and which run answers it.

The chat id is the thread id. A post acts on its newest message only:

- a user message is sent to the thread under the client's message id, once (the
  transport posts the whole history every turn, and a retry posts it again);
- ``regenerate-message`` on a message the thread has starts a new run for it;
- an assistant message carries the browser's answers to waiting tool calls (a client
  tool's output, an approval): each is given to its call, and the run goes on.

The answer is the run's UI message stream, followed on the thread's durable stream from
the moment of the post; a repeated post (nothing new to send or answer) replays its run
from the beginning instead, and so does the resume route for the run in progress.
"""

from __future__ import annotations

from ..agent.records import Rows
from ..agent.rows import RUNNING
from ..entities import vocabulary as v
from ..errors import BadRequest, ErrorCode
from .answering import give_answers
from .run_stream import Following
from .service import ThreadService, ThreadState
from .ui_messages import ChatRequest, UIMessage, tool_answers
from .ui_stream import Chunk, UIStreamTranslator

Answer = Following[Chunk]


class Chat:
    def __init__(self, threads: ThreadService) -> None:
        self.threads = threads

    @staticmethod
    def check(request: ChatRequest, *, thread_exists: bool) -> None:
        """Refuse a request nothing can come of, before the thread is created for it."""
        last = request.messages[-1]
        if last.role == "assistant" and thread_exists:
            return
        if last.role != "user":
            raise BadRequest(
                "the newest message must be the user's (or the assistant's, with tool answers)",
                code=ErrorCode.NO_USER_MESSAGE,
            )
        if not last.text():
            raise BadRequest("the user message has no text", code=ErrorCode.NO_USER_MESSAGE)

    async def post(self, request: ChatRequest, *, principal: str | None = None) -> Answer:
        """Act on the request's newest message (the thread exists; see :meth:`check`)."""
        self.check(request, thread_exists=True)
        state = await self.threads.snapshot(request.id)
        last = request.messages[-1]
        if last.role == "assistant":
            return await self._answer_tools(request.id, state, last)
        text = last.text()
        known = state.store.collection(v.INBOX).get(last.id) is not None
        if known and request.trigger == "regenerate-message":
            await self.threads.regenerate(request.id)
            return Answer(state.stream, state.position, UIStreamTranslator())
        if await self.threads.send_once(request.id, text, last.id, principal=principal):
            return Answer(state.stream, state.position, UIStreamTranslator(message_id=last.id))
        # Sent before: the answer is the run that took the message, once there is one.
        run = next((run for run in Rows(state.store).runs() if last.id in run.trigger), None)
        if run is None:
            return Answer(state.stream, state.position, UIStreamTranslator(message_id=last.id))
        return replay(state, run.id)

    async def resume(self, thread_id: str) -> Answer | None:
        """The run in progress, from its beginning; None when nothing runs."""
        state = await self.threads.snapshot(thread_id)
        rows = Rows(state.store)
        run = rows.active_run()
        if run is not None and run.status == RUNNING:
            return replay(state, run.id)
        answered = {key for run in rows.runs() for key in run.trigger}
        waiting = [key for key in state.store.collection(v.INBOX).order() if key not in answered]
        if waiting:  # a message whose run has not started yet
            translator = UIStreamTranslator(message_id=waiting[0])
            return Answer(state.stream, state.position, translator)
        return None

    async def _answer_tools(self, thread_id: str, state: ThreadState, message: UIMessage) -> Answer:
        run_id = await give_answers(self.threads, thread_id, state, tool_answers(message))
        if run_id is not None:
            return Answer(state.stream, state.position, UIStreamTranslator(run_id=run_id))
        if Rows(state.store).run(message.id) is None:
            raise BadRequest(
                f"message {message.id!r} is not a run of this thread, and answers no tool call",
                code=ErrorCode.NO_USER_MESSAGE,
            )
        return replay(state, message.id)


def replay(state: ThreadState, run_id: str) -> Answer:
    """Run ``run_id`` from the beginning of the stream, up to now and on."""
    translator = UIStreamTranslator(run_id=run_id)
    return Answer(state.stream, 0, translator, caught_up_at=state.position)
