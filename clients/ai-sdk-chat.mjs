// The AI SDK's own chat (the logic `useChat` wraps, without React) against a Wakeful
// server: `node ai-sdk-chat.mjs <scenario> <server url> <chat id>` prints one JSON line,
// the chat's messages as the SDK assembled them (and what the scenario observed).
import {
  AbstractChat,
  DefaultChatTransport,
  lastAssistantMessageIsCompleteWithApprovalResponses,
  lastAssistantMessageIsCompleteWithToolCalls,
} from "ai";

const [scenario, server, chatId] = process.argv.slice(2);
const WAIT_MS = 20_000;

// What @ai-sdk/react's Chat keeps in React state, kept in plain fields.
class State {
  constructor(messages = []) {
    this.messages = messages;
    this.status = "ready";
    this.error = undefined;
  }
  pushMessage(message) {
    this.messages = [...this.messages, message];
  }
  popMessage() {
    this.messages = this.messages.slice(0, -1);
  }
  replaceMessage(index, message) {
    this.messages = this.messages.map((m, i) => (i === index ? message : m));
  }
  snapshot(thing) {
    return structuredClone(thing);
  }
}

class Chat extends AbstractChat {
  constructor({ messages, ...init }) {
    super({
      id: chatId,
      transport: new DefaultChatTransport({ api: `${server}/v1/chat` }),
      state: new State(messages),
      ...init,
    });
  }
}

// What a page loads into the chat before it resumes: the thread's history as UIMessages.
async function history() {
  const response = await fetch(`${server}/v1/chat/${encodeURIComponent(chatId)}/messages`);
  if (!response.ok) throw new Error(`history: ${response.status} ${await response.text()}`);
  return response.json();
}

async function until(what, condition) {
  const deadline = Date.now() + WAIT_MS;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const lastText = (chat) =>
  (chat.lastMessage?.role === "assistant" ? chat.lastMessage.parts : [])
    .filter((part) => part.type === "text")
    .map((part) => part.text)
    .join("");

const settled = (chat, text) => chat.status === "ready" && lastText(chat) === text;

const scenarios = {
  // Two turns, then a regenerated answer to the second.
  async conversation() {
    const chat = new Chat({});
    await chat.sendMessage({ text: "Weather in Oslo?" });
    await chat.sendMessage({ text: "And tomorrow?" });
    const before = chat.lastMessage.id;
    await chat.regenerate();
    return { messages: chat.messages, status: chat.status, regenerated: before, loaded: await history() };
  },

  // A tool the browser runs: onToolCall answers it, and the chat posts the answer.
  async "client-tool"() {
    const chat = new Chat({
      sendAutomaticallyWhen: lastAssistantMessageIsCompleteWithToolCalls,
      onToolCall: ({ toolCall }) => {
        chat.addToolOutput({ tool: toolCall.toolName, toolCallId: toolCall.toolCallId, output: "blue" });
      },
    });
    await chat.sendMessage({ text: "Pick a color for me." });
    await until("the answer after the tool", () => settled(chat, "Blue it is."));
    return { messages: chat.messages, status: chat.status };
  },

  // A tool that needs approval: the person approves it, and the chat posts the response.
  async approval() {
    const chat = new Chat({ sendAutomaticallyWhen: lastAssistantMessageIsCompleteWithApprovalResponses });
    await chat.sendMessage({ text: "Delete a.txt" });
    const part = chat.lastMessage.parts.find((p) => p.state === "approval-requested");
    await chat.addToolApprovalResponse({ id: part.approval.id, approved: true });
    await until("the answer after the approval", () => settled(chat, "Deleted."));
    return { messages: chat.messages, status: chat.status, requested: part };
  },

  // The page goes away mid-answer (its connection dropped); a new page resumes the run.
  async resume() {
    const first = new Chat({});
    const sending = first.sendMessage({ text: "Tell me a long story." });
    await until("some text", () => lastText(first).length > 0);
    await first.stop();
    await sending;
    const seen = lastText(first);
    const loaded = await history(); // the refreshed page: what the thread holds so far
    const page = new Chat({ messages: loaded });
    await page.resumeStream();
    const resumed = page.messages;
    await page.resumeStream(); // the run is over: nothing to resume, nothing changes
    return { messages: resumed, after: page.messages, seen, loaded, status: page.status };
  },

  // A page opened while the run goes (the server that ran it may have died meanwhile).
  async reattach() {
    const loaded = await history();
    const page = new Chat({ messages: loaded });
    await page.resumeStream();
    return { messages: page.messages, loaded, status: page.status };
  },
};

const result = await scenarios[scenario]();
console.log(JSON.stringify(result));
