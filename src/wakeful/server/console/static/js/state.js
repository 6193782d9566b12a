// An entity's state, folded from its stream's State Protocol change events, plus the
// derived views the console shows: the conversation of an agent and a thread's status.

export class EntityState {
  constructor() {
    this.collections = new Map(); // type -> Map(key -> {value, first, seq})
    this.events = []; // every event, in stream order
  }

  apply(event) {
    const seq = this.events.length;
    this.events.push(event);
    const control = event?.headers?.control;
    if (control) {
      if (control === "reset") this.collections.clear();
      return;
    }
    if (!event || typeof event.type !== "string") return;
    let rows = this.collections.get(event.type);
    if (!rows) {
      rows = new Map();
      this.collections.set(event.type, rows);
    }
    const key = String(event.key ?? "");
    if (event.headers?.operation === "delete") {
      rows.delete(key);
      return;
    }
    const previous = rows.get(key);
    rows.set(key, { value: event.value, first: previous ? previous.first : seq, seq });
  }

  get(type, key) {
    return this.collections.get(type)?.get(key)?.value;
  }

  rows(type) {
    const rows = this.collections.get(type);
    if (!rows) return [];
    return [...rows.entries()]
      .map(([key, row]) => ({ key, ...row }))
      .sort((a, b) => a.first - b.first);
  }

  get entityStatus() {
    const stopped = this.get("entity_stopped", "entity");
    return this.get("manifest", "status")?.status ?? stopped?.status ?? "idle";
  }

  get created() {
    return this.get("entity_created", "entity");
  }
}

const RUN_TO_THREAD = {
  running: "streaming",
  awaiting_tool_results: "awaiting_tool_results",
  completed: "completed",
  failed: "failed",
  aborted: "stopped",
};

export function threadStatus(state) {
  const status = state.entityStatus;
  if (status === "failed") return "failed";
  if (status === "stopped" || status === "killed") return "stopped";
  const runs = state.rows("run");
  if (!runs.length) return "completed";
  return RUN_TO_THREAD[runs.at(-1).value?.status] ?? "completed";
}

// A message not yet picked up by a run (sent, but no run started since).
export function waitingForAgent(state) {
  const inbox = state.rows("inbox");
  if (!inbox.length) return false;
  const runs = state.rows("run");
  const lastRun = runs.at(-1);
  if (lastRun && lastRun.first > inbox.at(-1).first) return false;
  return !["stopped", "killed", "paused"].includes(state.entityStatus);
}

function inboxText(payload) {
  if (typeof payload === "string") return payload;
  if (payload && typeof payload === "object") {
    for (const name of ["content", "text", "message", "prompt"]) {
      if (typeof payload[name] === "string") return payload[name];
    }
  }
  return JSON.stringify(payload);
}

function grouped(rows, field) {
  const groups = new Map();
  for (const row of rows) {
    const id = row.value?.[field];
    if (!groups.has(id)) groups.set(id, []);
    groups.get(id).push(row);
  }
  return groups;
}

function joinDeltas(rows) {
  if (!rows) return "";
  return [...rows]
    .sort((a, b) => Number(a.value?.seq ?? 0) - Number(b.value?.seq ?? 0))
    .map((row) => String(row.value?.delta ?? ""))
    .join("");
}

// User messages (the inbox), one assistant message per step, and errors, in stream order.
export function conversation(state) {
  const items = [];
  for (const row of state.rows("inbox")) {
    const value = row.value ?? {};
    items.push({ id: `in:${row.key}`, role: "user", content: inboxText(value.payload), from: value.from, first: row.first });
  }
  const calls = grouped(state.rows("tool_call"), "step_id");
  const textDeltas = grouped(state.rows("text_delta"), "step_id");
  const reasoningDeltas = grouped(state.rows("reasoning_delta"), "step_id");
  for (const row of state.rows("step")) {
    const step = row.value ?? {};
    const running = step.status === "running";
    const text = state.get("text", row.key);
    const reasoning = state.get("reasoning", row.key);
    const content = text ? String(text.text ?? "") : joinDeltas(textDeltas.get(row.key));
    const thinking = reasoning ? String(reasoning.text ?? "") : joinDeltas(reasoningDeltas.get(row.key));
    const stepCalls = (calls.get(row.key) ?? []).map((call) => call.value);
    if (!content && !thinking && !stepCalls.length && !running) continue;
    let status = running ? "streaming" : "complete";
    if (text?.status === "superseded" || step.status === "superseded") status = "superseded";
    items.push({
      id: `step:${row.key}`,
      role: "assistant",
      content,
      reasoning: thinking,
      status,
      model: step.model,
      calls: stepCalls,
      first: row.first,
    });
  }
  for (const row of state.rows("error")) {
    const value = row.value ?? {};
    items.push({ id: `error:${row.key}`, role: "error", content: String(value.message ?? ""), kind: value.kind, first: row.first });
  }
  return items.sort((a, b) => a.first - b.first);
}

export function hasAgent(state) {
  return state.collections.has("run");
}
