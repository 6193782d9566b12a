// A typed StreamDB (@durable-streams/state over TanStack DB) over a thread's stream, built
// from the schema the server serves: `node streamdb.mjs <server url> <thread id> <text>`
// loads the thread, sends it `text`, and waits for the answer's rows to arrive live.
// Prints one JSON line: the collections, what each held before and after, the changes
// seen live, and every row that its collection's schema refused.
import { createStateSchema, createStreamDB } from "@durable-streams/state/db";
import { z } from "zod";
// The example reader's own code: imports nothing, so the packages are this project's.
import { collectionsOf, streamUrl } from "../examples/frontends/stream-schema.js";

const [server, threadId, text] = process.argv.slice(2);
const WAIT_MS = 45_000;

async function json(response) {
  if (!response.ok) throw new Error(`${response.status} ${await response.text()}`);
  return response.json();
}

const served = await json(await fetch(`${server}/v1/types/thread/schema`));
const definitions = collectionsOf(served, z.fromJSONSchema);
const db = createStreamDB({
  streamOptions: { url: streamUrl(server, served, threadId), contentType: "application/json" },
  live: "sse",
  state: createStateSchema(definitions),
});
await db.preload();

// A row as the stream has it: without StreamDB's order stamp and TanStack DB's `$` fields.
const plain = (row) => Object.fromEntries(Object.entries(row).filter(([field]) => field !== "_seq" && !field.startsWith("$")));
const rows = (name) => [...db.collections[name].values()].map(plain);
const counts = () => Object.fromEntries(Object.keys(definitions).map((name) => [name, rows(name).length]));
const before = counts();

// Changes that reach the collections from now on, as TanStack DB reports them.
const live = [];
for (const name of ["notes", "runs", "toolCalls"]) {
  db.collections[name].subscribeChanges((changes) => {
    for (const change of changes) live.push({ collection: name, type: change.type, key: change.key });
  });
}

const sent = await json(
  await fetch(`${server}/v1/threads/${threadId}/messages`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ content: text }),
  }),
);
const answered = () => rows("runs").find((run) => run.trigger?.includes(sent.id) && run.status === "completed");
const deadline = Date.now() + WAIT_MS;
while (!answered()) {
  if (Date.now() > deadline) throw new Error(`no completed run for ${sent.id}: ${JSON.stringify(rows("runs"))}`);
  await new Promise((resolve) => setTimeout(resolve, 50));
}

// Every row, checked against the schema its collection was built with.
const refused = [];
for (const [name, { schema }] of Object.entries(definitions)) {
  for (const value of rows(name)) {
    const checked = await schema["~standard"].validate(value);
    if (checked.issues) refused.push({ collection: name, row: value, issues: checked.issues });
  }
}

console.log(
  JSON.stringify({
    collections: Object.keys(definitions),
    sent: sent.id,
    before,
    after: counts(),
    live,
    notes: rows("notes"),
    answer: answered().text,
    refused,
  }),
);
db.close();
