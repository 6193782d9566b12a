// A useChat page on a Wakeful thread. Open index.html?server=http://127.0.0.1:8787&chat=ID
// (defaults: the page's own origin, chat "demo"). Refresh it while an answer streams:
// the page loads the history and resumes the answer from the thread's durable stream.
import { useChat } from "@ai-sdk/react";
import {
  DefaultChatTransport,
  lastAssistantMessageIsCompleteWithApprovalResponses,
  lastAssistantMessageIsCompleteWithToolCalls,
} from "ai";
import { useEffect, useMemo, useState } from "react";
import { createRoot } from "react-dom/client";

const params = new URLSearchParams(location.search);
const SERVER = params.get("server") ?? location.origin;
const CHAT = params.get("chat") ?? "demo";

function Part({ part, onApprove }) {
  if (part.type === "text") return <span>{part.text}</span>;
  if (part.type === "reasoning") return <em className="tool">{part.text}</em>;
  if (!part.type.startsWith("tool-")) return null;
  const name = part.type.slice("tool-".length);
  return (
    <div className="tool" data-tool={name} data-state={part.state}>
      {name}({JSON.stringify(part.input)}) {part.state === "output-available" && `→ ${JSON.stringify(part.output)}`}
      {part.state === "approval-requested" && (
        <>
          <button onClick={() => onApprove(part.approval.id, true)}>Approve</button>
          <button onClick={() => onApprove(part.approval.id, false)}>Deny</button>
        </>
      )}
    </div>
  );
}

function Chat({ initialMessages }) {
  const transport = useMemo(() => new DefaultChatTransport({ api: `${SERVER}/v1/chat` }), []);
  const { messages, sendMessage, addToolApprovalResponse, status, error } = useChat({
    id: CHAT,
    messages: initialMessages,
    // Reattach to an answer in progress; a chat with no history yet has none.
    resume: initialMessages.length > 0,
    transport,
    sendAutomaticallyWhen: (options) =>
      lastAssistantMessageIsCompleteWithToolCalls(options) ||
      lastAssistantMessageIsCompleteWithApprovalResponses(options),
  });
  const [input, setInput] = useState("");
  const onApprove = (id, approved) => addToolApprovalResponse({ id, approved });
  return (
    <main data-status={status}>
      {messages.map((message) => (
        <div key={message.id} className={`message ${message.role}`} data-role={message.role}>
          {message.parts.map((part, i) => (
            <Part key={i} part={part} onApprove={onApprove} />
          ))}
        </div>
      ))}
      {error && <p role="alert">{error.message}</p>}
      <form
        onSubmit={(event) => {
          event.preventDefault();
          if (input.trim()) sendMessage({ text: input });
          setInput("");
        }}
      >
        <input value={input} onChange={(e) => setInput(e.target.value)} placeholder="Say something" />
        <button type="submit" disabled={status === "submitted" || status === "streaming"}>
          Send
        </button>
      </form>
    </main>
  );
}

function App() {
  const [initialMessages, setInitialMessages] = useState(null);
  useEffect(() => {
    fetch(`${SERVER}/v1/chat/${encodeURIComponent(CHAT)}/messages`)
      .then((response) => (response.ok ? response.json() : []))
      .then(setInitialMessages, () => setInitialMessages([]));
  }, []);
  return initialMessages === null ? <p>Loading…</p> : <Chat initialMessages={initialMessages} />;
}

createRoot(document.getElementById("root")).render(<App />);
