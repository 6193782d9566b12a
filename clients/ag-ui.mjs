// AG-UI's own client (@ag-ui/client's HttpAgent) against a thread of a Wakeful server:
// `node ag-ui.mjs <scenario> <server url> <thread id>` prints one JSON line: the agent's
// messages, events and state. Scenarios: "tools" (a front-end tool round trip, then a
// re-run with unchanged history), "approval" (an interrupt resolved by a resume entry).
import { HttpAgent } from "@ag-ui/client";

const [scenario, server, threadId] = process.argv.slice(2);

const confirmColor = {
  name: "confirm_color",
  description: "Ask the person to confirm a color.",
  parameters: { type: "object", properties: { color: { type: "string" } }, required: ["color"] },
};

const agent = new HttpAgent({ url: `${server}/v1/threads/${threadId}/agui`, threadId });
const runs = [];

async function run(runId, options = {}) {
  const events = [];
  let finished;
  const { newMessages } = await agent.runAgent(
    { runId, tools: [confirmColor], ...options },
    {
      onEvent: ({ event }) => {
        events.push(event.type);
        if (event.type === "RUN_FINISHED") finished = event;
      },
    },
  );
  runs.push({ runId, events, newMessages, outcome: finished?.outcome ?? null });
}

if (scenario === "tools") {
  agent.addMessage({ id: "u1", role: "user", content: "Pick a color." });
  await run("r1");
  // The model called the front-end tool: run it here, and send its result back.
  const call = agent.messages.flatMap((m) => m.toolCalls ?? []).find((c) => c.function.name === "confirm_color");
  agent.addMessage({ id: "t1", role: "tool", toolCallId: call.id, content: "yes" });
  await run("r2");
  // The same history once more: nothing is added to the thread, a new run answers.
  await run("r3");
  console.log(JSON.stringify({ messages: agent.messages, runs, call, state: agent.state }));
} else if (scenario === "approval") {
  agent.addMessage({ id: "u1", role: "user", content: "Delete a.txt" });
  await run("r1");
  const pending = agent.pendingInterrupts.map((interrupt) => ({ ...interrupt }));
  const resume = pending.map((interrupt) => ({
    interruptId: interrupt.id,
    status: "resolved",
    payload: { approved: true },
  }));
  await run("r2", { resume });
  console.log(JSON.stringify({ messages: agent.messages, runs, pending, left: agent.pendingInterrupts }));
}
