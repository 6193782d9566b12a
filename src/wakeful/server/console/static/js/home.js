// The start page: create a thread, or spawn any registered entity.

import { api } from "./api.js";
import { h } from "./dom.js";
import { notify } from "./notices.js";

function parseJson(text, what) {
  if (!text.trim()) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    const error = new Error(`${what} must be valid JSON`);
    error.code = "INVALID_JSON";
    throw error;
  }
}

function parseTags(text) {
  const tags = {};
  for (const part of text.split(",")) {
    if (!part.trim()) continue;
    const [name, ...rest] = part.split("=");
    if (!name.trim() || !rest.length) {
      const error = new Error("tags look like name=value, separated by commas");
      error.code = "INVALID_TAGS";
      throw error;
    }
    tags[name.trim()] = rest.join("=").trim();
  }
  return tags;
}

function submitting(form, action) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      await action(new FormData(form));
    } catch (error) {
      notify(error, form.getAttribute("aria-label"));
    } finally {
      button.disabled = false;
    }
  });
  return form;
}

function threadCard(app) {
  const form = h(
    "form",
    { class: "stack", "aria-label": "New thread" },
    h("label", { class: "field" }, "Title (optional)", h("input", { name: "title", type: "text", maxlength: 200 })),
    h(
      "label",
      { class: "field" },
      "First message",
      h("textarea", { name: "prompt", rows: 4, placeholder: "Ask something…" }),
    ),
    h("div", { class: "row end" }, h("button", { type: "submit", class: "primary" }, "Create thread")),
  );
  const prompt = form.querySelector("textarea");
  prompt.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.metaKey || event.ctrlKey)) form.requestSubmit();
  });
  submitting(form, async (data) => {
    const body = {};
    if (data.get("title").trim()) body.title = data.get("title").trim();
    if (data.get("prompt").trim()) body.prompt = data.get("prompt").trim();
    const thread = await api.post("v1/threads", body);
    app.refreshLists();
    location.hash = `#/thread/${encodeURIComponent(thread.id)}`;
  });
  return h("section", { class: "card", "aria-labelledby": "new-thread-title" }, h("h2", { id: "new-thread-title" }, "New thread"), form);
}

function spawnCard(app) {
  const types = app.types.map((type) => h("option", { value: type.name }, type.name));
  const form = h(
    "form",
    { class: "stack", "aria-label": "Spawn an entity" },
    h("label", { class: "field" }, "Type", h("select", { name: "type", required: true }, types)),
    h("label", { class: "field" }, "Id (optional)", h("input", { name: "id", type: "text", maxlength: 128 })),
    h("label", { class: "field" }, "Arguments (JSON, optional)", h("textarea", { name: "args", rows: 2, class: "mono" })),
    h("label", { class: "field" }, "First message (JSON or text, optional)", h("textarea", { name: "message", rows: 2 })),
    h("label", { class: "field" }, "Tags (name=value, comma separated)", h("input", { name: "tags", type: "text" })),
    h("div", { class: "row end" }, h("button", { type: "submit", class: "primary" }, "Spawn")),
  );
  submitting(form, async (data) => {
    const body = { tags: parseTags(data.get("tags")) };
    if (data.get("id").trim()) body.id = data.get("id").trim();
    const args = parseJson(data.get("args"), "arguments");
    if (args !== undefined) body.args = args;
    const message = data.get("message").trim();
    if (message) {
      try {
        body.message = JSON.parse(message);
      } catch {
        body.message = message;
      }
    }
    const entity = await api.post(`v1/entities/${encodeURIComponent(data.get("type"))}`, body);
    app.refreshLists();
    location.hash = `#/entity/${encodeURIComponent(entity.type)}/${encodeURIComponent(entity.id)}`;
  });
  return h("section", { class: "card", "aria-labelledby": "spawn-title" }, h("h2", { id: "spawn-title" }, "Spawn an entity"), form);
}

export function homeView(app) {
  const cards = [];
  if (app.threadsAvailable) cards.push(threadCard(app));
  if (app.types.length) cards.push(spawnCard(app));
  const intro = h(
    "p",
    { class: "lede" },
    app.types.length
      ? "Pick a thread or an entity on the left to watch it live, or start one here."
      : "No entity types are registered. Start the server with a registry, as wakeful serve module:registry.",
  );
  return { el: h("div", { class: "home" }, h("h1", {}, "Console"), intro, h("div", { class: "cards" }, cards)), destroy() {} };
}
