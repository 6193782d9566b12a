// A StreamDB reader: any entity's stream as typed TanStack DB collections, live. Open
// streamdb.html?server=http://127.0.0.1:8787&type=thread&id=ID (defaults: the page's own
// origin, type "thread", id "demo"). The page asks the server for the type's schema
// (GET /v1/types/{type}/schema), turns each collection's JSON Schema into a validator,
// and builds a @durable-streams/state StreamDB over /v1/stream/{type}/{id}/main.
import { createStateSchema, createStreamDB } from "@durable-streams/state/db";
import { useLiveQuery } from "@tanstack/react-db";
import { useEffect, useState } from "react";
import { createRoot } from "react-dom/client";
import { z } from "zod";
import { collectionsOf, streamUrl } from "./stream-schema.js";

const params = new URLSearchParams(location.search);
const SERVER = params.get("server") ?? location.origin;
const TYPE = params.get("type") ?? "thread";
const ID = params.get("id") ?? "demo";
/** Collections of the runtime's own, shown in the tables below rather than as the type's. */
const RUNTIME = new Set(["entityCreated", "entityStopped", "inbox", "wakes", "signals", "childStatus", "tags",
  "manifests", "timers", "errors", "runs", "steps", "texts", "textDeltas", "reasoning", "reasoningDeltas",
  "toolCalls", "toolResults"]);

async function openStreamDB() {
  const response = await fetch(`${SERVER}/v1/types/${encodeURIComponent(TYPE)}/schema`);
  if (!response.ok) throw new Error(`schema: ${response.status} ${await response.text()}`);
  const served = await response.json();
  const db = createStreamDB({
    streamOptions: { url: streamUrl(SERVER, served, ID), contentType: "application/json" },
    live: "sse",
    state: createStateSchema(collectionsOf(served, z.fromJSONSchema)),
  });
  await db.preload();
  return db;
}

function Runs({ db }) {
  // _seq is StreamDB's stamp of stream order, so rows sort as they first appeared.
  const { data: runs } = useLiveQuery((q) => q.from({ run: db.collections.runs }).orderBy(({ run }) => run._seq));
  const { data: calls } = useLiveQuery((q) =>
    q.from({ call: db.collections.toolCalls }).orderBy(({ call }) => call._seq),
  );
  return (
    <table>
      <thead>
        <tr><th>run</th><th>status</th><th>steps</th><th>tools</th><th>answer</th></tr>
      </thead>
      <tbody>
        {runs.map((run) => (
          <tr key={run.id} data-run={run.id} data-status={run.status}>
            <td>{run.id}</td>
            <td>{run.status}</td>
            <td>{run.steps}</td>
            <td>{calls.filter((call) => call.run_id === run.id).map((call) => `${call.name} (${call.status})`).join(", ")}</td>
            <td className="answer">{run.text}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function Collection({ db, name }) {
  const { data: rows } = useLiveQuery((q) => q.from({ row: db.collections[name] }).orderBy(({ row }) => row._seq));
  return (
    <section data-collection={name}>
      <h3>{name}</h3>
      <pre>{rows.map(({ _seq, ...row }) => JSON.stringify(row)).join("\n")}</pre>
    </section>
  );
}

function App() {
  const [db, setDb] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    let opened;
    openStreamDB().then((made) => setDb((opened = made)), setError);
    return () => opened?.close();
  }, []);
  if (error) return <p role="alert">{error.message}</p>;
  if (db === null) return <p>Loading…</p>;
  const own = Object.keys(db.collections).filter((name) => !RUNTIME.has(name));
  return (
    <main data-status="ready">
      <h2>/{TYPE}/{ID}</h2>
      <Runs db={db} />
      {own.map((name) => <Collection key={name} db={db} name={name} />)}
    </main>
  );
}

createRoot(document.getElementById("root")).render(<App />);
