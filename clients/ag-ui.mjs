// AG-UI's own client (@ag-ui/client's HttpAgent) against a thread of a Wakeful server:
// `node ag-ui.mjs <server url> <thread id>` runs a front-end tool round trip and a re-run
// with unchanged history, and prints one JSON line: the agent's messages, events and state.
import { HttpAgent } from "@ag-ui/client";

const [server, threadId] = process.argv.slice(2);

const confirmColor = {
  name: "confirm_color",
  description: "Ask the person to confirm a color.",
  parameters: { type: "object", properties: { color: { type: "string" } }, required: ["color"] },
};

const agent = new HttpAgent({ url: `${server}/v1/threads/${threadId}/agui`, threadId });
const runs = [];

async function run(runId) {
  const events = [];
  const { newMessages } = await agent.runAgent(
    { runId, tools: [confirmColor] },
    { onEvent: ({ event }) => void events.push(event.type) },
  );
  runs.push({ runId, events, newMessages });
}

agent.addMessage({ id: "u1", role: "user", content: "Pick a color." });
await run("r1");
// The model called the front-end tool: run it here, and send its result back.
const call = agent.messages.flatMap((m) => m.toolCalls ?? []).find((c) => c.function.name === "confirm_color");
agent.addMessage({ id: "t1", role: "tool", toolCallId: call.id, content: "yes" });
await run("r2");
// The same history once more: nothing is added to the thread, a new run answers.
await run("r3");

console.log(JSON.stringify({ messages: agent.messages, runs, call, state: agent.state }));
