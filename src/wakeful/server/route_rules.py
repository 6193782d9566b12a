"""Who may call each route: the one table the guards consult and docs/security.md shows.

A route missing here is refused by the guard of the JSON API (and a test compares this
table with the app's real routes), so a new endpoint cannot ship unguarded by accident.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from ..streams.paths import MOUNT
from .policy import Action

#: public: no credentials; callback: the callback token of one wake; any: any principal;
#: entity / thread: the action on the entity (a thread is an entity of the thread type);
#: types: the action on entity types; stream: the action on the stream by path;
#: subscription: read and append on every stream the subscription covers; chat: the
#: action on the thread the body names (the route checks it once it read the body);
#: executor: the action on the entity of each call (the route checks it once it read the
#: call);
#: admin: an admin principal only; usage: any principal, the route showing it only its
#: own usage; refused: a method the route answers with 405 (404 at the bare mount) for
#: everyone.
Guard = Literal[
    "public",
    "admin",
    "callback",
    "any",
    "usage",
    "entity",
    "thread",
    "chat",
    "executor",
    "types",
    "stream",
    "subscription",
    "refused",
]


@dataclass(frozen=True, slots=True)
class Rule:
    guard: Guard
    action: Action | None = None

    def who(self) -> str:
        if self.guard == "public":
            return "anyone, without credentials"
        if self.guard == "admin":
            return "an admin principal"
        if self.guard == "refused":
            return "nobody (405; 404 at the bare mount)"
        if self.guard == "callback":
            return "the wake's callback token (from the webhook or the claim)"
        if self.guard == "any":
            return "any principal"
        if self.guard == "usage":
            return "any principal, shown only the usage charged to it; admin: everyone's"
        if self.guard == "subscription":
            return "read and append on every stream it covers; `e~…` subscriptions: admin"
        if self.guard == "stream":
            return (
                f"`{self.action}` on the stream; an entity's streams as the entity"
                " (`read`, `write`, `kill`); `_wakeful/*`: admin"
            )
        if self.guard == "chat":
            return (
                f"`{self.action}` on the thread the body's `id` names (`spawn` on the type"
                " to create it, `answer` to answer its tool calls)"
            )
        if self.guard == "executor":
            return "`answer` on the entity each call belongs to (a listing shows only those)"
        if self.guard == "types":
            return f"`{self.action}` on types" + (" (admin by default)" if self.action else "")
        noun = "the thread" if self.guard == "thread" else "the entity"
        if self.action == "list":
            return f"`list` to see all; otherwise filtered to {noun.split()[1]}s the caller owns"
        if self.action == "spawn":
            return f"`spawn` on the type; the caller becomes {noun}'s owner"
        return f"`{self.action}` on {noun}"


E = "/v1/entities/{type_name}/{entity_id}"
T = "/v1/threads/{thread_id}"
X = "/v1/executors/{name}"
DS = f"{MOUNT}/__ds"
SUB = f"{DS}/subscriptions/{{id}}"

ROUTES: Mapping[tuple[str, str], Rule] = {
    ("GET", "/healthz"): Rule("public"),
    ("GET", "/"): Rule("public"),
    ("GET", "/console/{path}"): Rule("public"),
    ("GET", f"{DS}/jwks.json"): Rule("public"),
    ("GET", "/openapi.json"): Rule("any"),
    ("GET", "/docs"): Rule("any"),
    ("GET", "/docs/oauth2-redirect"): Rule("any"),
    ("GET", "/redoc"): Rule("any"),
    ("GET", "/v1/usage"): Rule("usage"),
    ("GET", "/v1/types"): Rule("types", "read"),
    ("GET", "/v1/types/{type_name}"): Rule("types", "read"),
    ("GET", "/v1/types/{type_name}/schema"): Rule("types", "read"),
    ("POST", "/v1/types"): Rule("types", "register"),
    ("DELETE", "/v1/types/{type_name}"): Rule("types", "register"),
    ("GET", "/v1/entities"): Rule("entity", "list"),
    ("GET", "/v1/wakes"): Rule("admin"),
    ("POST", "/v1/entities/{type_name}"): Rule("entity", "spawn"),
    ("GET", E): Rule("entity", "read"),
    ("DELETE", E): Rule("entity", "kill"),
    ("POST", f"{E}/messages"): Rule("entity", "send"),
    ("POST", f"{E}/signals"): Rule("entity", "signal"),
    # Reading the source; the route also asks for `spawn` on the type for the new entity.
    ("POST", f"{E}/fork"): Rule("entity", "read"),
    ("GET", f"{E}/tool-calls/{{call_id}}"): Rule("entity", "read"),
    ("POST", f"{E}/tool-calls/{{call_id}}/result"): Rule("entity", "answer"),
    ("POST", f"{E}/tool-calls/{{call_id}}/error"): Rule("entity", "answer"),
    ("POST", f"{E}/tool-calls/{{call_id}}/approve"): Rule("entity", "answer"),
    ("POST", f"{E}/tool-calls/{{call_id}}/deny"): Rule("entity", "answer"),
    ("GET", f"{X}/calls"): Rule("executor", "answer"),
    ("GET", f"{X}/calls/{{key}}"): Rule("executor", "answer"),
    ("POST", f"{X}/calls/{{key}}/claim"): Rule("executor", "answer"),
    ("POST", f"{X}/calls/{{key}}/heartbeat"): Rule("executor", "answer"),
    ("POST", f"{X}/calls/{{key}}/complete"): Rule("executor", "answer"),
    ("POST", f"{X}/calls/{{key}}/fail"): Rule("executor", "answer"),
    ("GET", f"{X}/refused"): Rule("executor", "answer"),
    ("GET", "/v1/threads"): Rule("thread", "list"),
    ("POST", "/v1/threads"): Rule("thread", "spawn"),
    ("GET", T): Rule("thread", "read"),
    ("DELETE", T): Rule("thread", "kill"),
    ("GET", f"{T}/messages"): Rule("thread", "read"),
    ("POST", f"{T}/messages"): Rule("thread", "send"),
    ("POST", f"{T}/agui"): Rule("thread", "send"),
    ("POST", f"{T}/fork"): Rule("thread", "read"),  # and `spawn`, checked by the route
    ("POST", f"{T}/stop"): Rule("thread", "signal"),
    ("POST", f"{T}/resume"): Rule("thread", "signal"),
    ("POST", f"{T}/tool-calls/{{call_id}}/result"): Rule("thread", "answer"),
    ("POST", f"{T}/tool-calls/{{call_id}}/error"): Rule("thread", "answer"),
    ("POST", "/v1/chat"): Rule("chat", "send"),
    ("GET", "/v1/chat/{thread_id}/stream"): Rule("thread", "read"),
    ("GET", "/v1/chat/{thread_id}/messages"): Rule("thread", "read"),
    ("GET", f"{MOUNT}/{{path}}"): Rule("stream", "read"),
    ("HEAD", f"{MOUNT}/{{path}}"): Rule("stream", "read"),
    ("POST", f"{MOUNT}/{{path}}"): Rule("stream", "append"),
    ("PUT", f"{MOUNT}/{{path}}"): Rule("stream", "create"),
    ("DELETE", f"{MOUNT}/{{path}}"): Rule("stream", "delete"),
    ("GET", SUB): Rule("subscription"),
    ("PUT", SUB): Rule("subscription"),
    ("DELETE", SUB): Rule("subscription"),
    ("POST", f"{SUB}/streams"): Rule("subscription"),
    ("DELETE", f"{SUB}/streams/{{path}}"): Rule("subscription"),
    ("POST", f"{SUB}/claim"): Rule("subscription"),
    ("POST", f"{SUB}/ack"): Rule("callback"),
    ("POST", f"{SUB}/callback"): Rule("callback"),
    ("POST", f"{SUB}/release"): Rule("callback"),
    ("GET", f"{E}/pass/streams/{{path}}"): Rule("callback"),
    ("GET", f"{E}/pass/messages/{{path}}"): Rule("callback"),
    ("POST", f"{E}/pass/commit"): Rule("callback"),
    **{(method, MOUNT): Rule("refused") for method in ("GET", "POST", "PUT", "DELETE")},
    ("POST", SUB): Rule("refused"),
    **{(method, f"{SUB}/streams"): Rule("refused") for method in ("GET", "PUT", "DELETE")},
    **{(method, f"{SUB}/streams/{{path}}"): Rule("refused") for method in ("GET", "POST", "PUT")},
}


def route_table() -> str:
    """The table of docs/security.md, as Markdown."""
    lines = ["| Method | Path | Who may call it |", "| --- | --- | --- |"]
    for (method, path), rule in ROUTES.items():
        lines.append(f"| {method} | `{path}` | {rule.who()} |")
    return "\n".join(lines) + "\n"
