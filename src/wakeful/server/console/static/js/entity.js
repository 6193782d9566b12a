// One entity, tailed live: its conversation (for agents and threads), its timeline (every
// event in stream order) and its materialized state, with the controls that apply to it.

import { api, entityPath, segment, streamPath } from "./api.js";
import { Conversation } from "./chat.js";
import { badge, clock, fill, h, json } from "./dom.js";
import { notify } from "./notices.js";
import { EntityState, conversation, hasAgent, threadStatus, waitingForAgent } from "./state.js";
import { StreamTail } from "./stream.js";

const TIMELINE_ROWS = 1500;

function preview(value) {
  const text = value === undefined ? "" : JSON.stringify(value);
  return text.length > 140 ? `${text.slice(0, 139)}…` : text;
}

class Timeline {
  constructor(state) {
    this.state = state;
    this.filter = h("input", { type: "search", "aria-label": "Filter events by type", placeholder: "Filter by type, e.g. tool_call" });
    this.filter.addEventListener("input", () => this.rebuild());
    this.list = h("ol", { class: "timeline", "aria-label": "Events" });
    this.note = h("p", { class: "hint", hidden: true });
    this.el = h("div", { class: "timeline-panel" }, h("div", { class: "toolbar" }, this.filter), this.note, this.list);
    this.hidden = 0;
  }

  matches(event) {
    const wanted = this.filter.value.trim().toLowerCase();
    return !wanted || String(event.type ?? event.headers?.control ?? "").toLowerCase().includes(wanted);
  }

  row(event, seq) {
    const body = h("pre");
    const kind = event.type ?? event.headers?.control ?? "?";
    const details = h(
      "details",
      {},
      h(
        "summary",
        {},
        h("span", { class: "seq" }, `#${seq}`),
        h("time", { datetime: event.headers?.timestamp ?? "" }, clock(event.headers?.timestamp)),
        h("span", { class: `etype type-${String(kind).split(":")[0]}` }, kind),
        h("span", { class: "key" }, event.key ?? ""),
        h("span", { class: "op" }, event.headers?.operation ?? ""),
        h("span", { class: "preview" }, preview(event.value)),
      ),
      body,
    );
    details.addEventListener("toggle", () => {
      if (details.open && !body.textContent) body.textContent = json(event);
    });
    return h("li", { class: "event", "data-type": kind }, details);
  }

  append(events, firstSeq) {
    const rows = [];
    events.forEach((event, index) => {
      if (this.matches(event)) rows.push(this.row(event, firstSeq + index));
    });
    this.list.append(...rows);
    while (this.list.children.length > TIMELINE_ROWS) {
      this.list.firstElementChild.remove();
      this.hidden += 1;
    }
    this.updateNote();
  }

  rebuild() {
    const events = this.state.events;
    const shown = [];
    let matching = 0;
    for (let seq = events.length - 1; seq >= 0; seq -= 1) {
      if (!this.matches(events[seq])) continue;
      matching += 1;
      if (shown.length < TIMELINE_ROWS) shown.push(this.row(events[seq], seq));
    }
    this.list.replaceChildren(...shown.reverse());
    this.hidden = matching - shown.length;
    this.updateNote();
  }

  updateNote() {
    this.note.hidden = this.hidden === 0;
    this.note.textContent = `${this.hidden} earlier events not shown.`;
  }
}

// Collections users defined first, then the entity's own, then the agent's bookkeeping.
function collectionOrder(name) {
  if (name.startsWith("state:")) return 0;
  if (["entity_created", "manifest", "tags", "entity_stopped"].includes(name)) return 1;
  if (name.endsWith("_delta")) return 3;
  return 2;
}

class StatePanel {
  constructor(state) {
    this.state = state;
    this.open = new Set();
    this.touched = new Set();
    this.el = h("div", { class: "state-panel" });
  }

  render() {
    const names = [...this.state.collections.keys()].sort(
      (a, b) => collectionOrder(a) - collectionOrder(b) || a.localeCompare(b),
    );
    if (!names.length) {
      this.el.replaceChildren(h("p", { class: "empty" }, "No state yet."));
      return;
    }
    const sections = names.map((name) => {
      const rows = this.state.rows(name);
      if (!this.touched.has(name) && collectionOrder(name) < 2 && rows.length <= 50) this.open.add(name);
      const details = h(
        "details",
        { class: "collection", open: this.open.has(name), "aria-label": `Collection ${name}` },
        h(
          "summary",
          {},
          h("span", { class: "collection-name" }, name),
          h("span", { class: "count" }, `${rows.length} ${rows.length === 1 ? "row" : "rows"}`),
        ),
      );
      details.addEventListener("toggle", () => {
        this.touched.add(name);
        if (details.open) this.open.add(name);
        else this.open.delete(name);
        if (details.open && details.children.length === 1) details.append(this.table(this.state.rows(name)));
      });
      if (details.open) details.append(this.table(rows));
      return details;
    });
    this.el.replaceChildren(...sections);
  }

  table(rows) {
    return h(
      "table",
      {},
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "key"), h("th", { scope: "col" }, "value"))),
      h(
        "tbody",
        {},
        rows.map((row) => h("tr", {}, h("td", { class: "key" }, row.key), h("td", {}, h("pre", {}, json(row.value))))),
      ),
    );
  }
}

export class EntityView {
  constructor(app, type, id) {
    this.app = app;
    this.type = type;
    this.id = id;
    this.isThread = app.threadsAvailable && type === app.threadType;
    this.state = new EntityState();
    this.live = false;
    this.animate = false;
    this.frame = 0;
    this.stateTimer = 0;
    this.destroyed = false;
    this.tab = this.isThread ? "conversation" : "timeline";

    this.conversation = new Conversation(this);
    this.timeline = new Timeline(this.state);
    this.statePanel = new StatePanel(this.state);

    this.title = h("h2", {}, this.isThread ? `Thread ${id}` : `${type}/${id}`);
    this.subtitle = h("div", { class: "sub" }, h("span", { class: "mono" }, `/${type}/${id}`));
    this.status = badge("loading", this.statusLabel());
    this.streamStatus = h("span", { class: "stream-status", role: "status", "aria-label": "Stream" }, "connecting");
    this.buttons = this.makeButtons();
    this.tabs = this.makeTabs();
    this.panels = {
      conversation: h("section", { class: "panel", role: "tabpanel", "aria-label": "Conversation view" }, this.conversation.el),
      timeline: h("section", { class: "panel", role: "tabpanel", "aria-label": "Timeline" }, this.timeline.el),
      state: h("section", { class: "panel", role: "tabpanel", "aria-label": "State" }, this.statePanel.el),
    };
    this.composer = this.makeComposer();
    this.el = h(
      "div",
      { class: "entity-view" },
      h(
        "header",
        { class: "view-head" },
        h("div", { class: "titles" }, this.title, this.subtitle),
        h("div", { class: "head-status" }, this.status, this.streamStatus),
        h("div", { class: "actions", role: "group", "aria-label": "Actions" }, Object.values(this.buttons)),
      ),
      this.tabs.el,
      Object.values(this.panels),
      this.composer,
    );
    this.select(this.tab);
    this.start();
  }

  async start() {
    try {
      await api.get(entityPath(this.type, this.id));
    } catch (error) {
      this.setStatus("missing");
      this.streamStatus.textContent = "not found";
      notify(error, `Cannot open ${this.type}/${this.id}`);
      return;
    }
    if (this.destroyed) return;
    this.tail = new StreamTail(streamPath(this.type, this.id), {
      onEvents: (events, live) => this.receive(events, live),
      onStatus: (status) => {
        this.streamStatus.textContent = status;
        this.streamStatus.dataset.state = status.replace(" ", "-");
      },
      onError: (error) => notify(error, `Stream of ${this.type}/${this.id}`),
      onCaughtUp: () => {
        this.live = true;
        this.schedule();
      },
    }).start();
  }

  destroy() {
    this.destroyed = true;
    this.tail?.stop();
    cancelAnimationFrame(this.frame);
    clearTimeout(this.stateTimer);
  }

  receive(events, live) {
    const first = this.state.events.length;
    for (const event of events) this.state.apply(event);
    this.timeline.append(events, first);
    this.animate = live;
    this.schedule();
  }

  // One render per animation frame, however many batches arrived in between.
  schedule() {
    if (this.frame || this.destroyed) return;
    if (document.hidden) {
      this.render(); // hidden tabs get no animation frames
      return;
    }
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.render();
    });
  }

  statusLabel() {
    return this.isThread ? "Thread status" : "Entity status";
  }

  setStatus(status) {
    if (this.status.textContent === status) return;
    const next = badge(status, this.statusLabel());
    this.status.replaceWith(next);
    this.status = next;
  }

  render() {
    const state = this.state;
    const created = state.created ?? {};
    const status = this.isThread ? threadStatus(state) : state.entityStatus;
    const entityStatus = state.entityStatus;
    const title = this.isThread ? created.args?.title || `Thread ${this.id}` : `${this.type}/${this.id}`;
    if (this.title.textContent !== title) this.title.textContent = title;
    const tags = state.rows("tags").map((row) => h("span", { class: "tag" }, `${row.key}=${row.value?.value ?? ""}`));
    const parent = created.parent
      ? h("span", {}, " · child of ", h("a", { href: `#/entity${created.parent}` }, created.parent))
      : null;
    fill(this.subtitle, h("span", { class: "mono" }, `/${this.type}/${this.id}`), parent, ...tags);
    if (this.status.textContent !== status && this.status.textContent !== "loading") this.app.refreshLists();
    this.setStatus(status);

    const terminal = entityStatus === "killed" || entityStatus === "stopped";
    const buttons = this.buttons;
    if (buttons.stop) buttons.stop.disabled = !["streaming", "awaiting_tool_results"].includes(status);
    if (buttons.pause) buttons.pause.disabled = entityStatus !== "idle";
    buttons.resume.disabled = this.isThread
      ? !["stopped", "failed"].includes(status) || terminal
      : !["paused", "failed"].includes(entityStatus);
    buttons.kill.disabled = terminal;

    const agent = this.isThread || hasAgent(state);
    this.tabs.buttons.conversation.hidden = !agent;
    if (!agent && this.tab === "conversation") this.select("timeline");
    if (agent && !this.tabs.chosen && this.tab !== "conversation") this.select("conversation");
    this.conversation.render(conversation(state), {
      animate: this.live && this.animate,
      waiting: agent && waitingForAgent(state),
    });
    if (this.tab === "state") this.renderStateSoon();
  }

  // Tables of every collection are rebuilt at most a few times a second.
  renderStateSoon() {
    if (this.stateTimer) return;
    this.stateTimer = setTimeout(() => {
      this.stateTimer = 0;
      if (this.tab === "state" && !this.destroyed) this.statePanel.render();
    }, 200);
  }

  makeButtons() {
    const button = (label, handler, extra = {}) => {
      const element = h("button", { type: "button", disabled: true, ...extra }, label);
      element.addEventListener("click", async () => {
        element.disabled = true;
        try {
          if ((await handler()) === false) element.disabled = false;
          else this.app.refreshLists();
        } catch (error) {
          notify(error, `${label} failed`);
          element.disabled = false;
        }
      });
      return element;
    };
    const signal = (name) => api.post(`${entityPath(this.type, this.id)}/signals`, { name });
    const threadPath = `v1/threads/${segment(this.id)}`;
    const buttons = {};
    if (this.isThread) {
      buttons.stop = button("Stop", () => api.post(`${threadPath}/stop`));
      buttons.resume = button("Resume", () => api.post(`${threadPath}/resume`));
    } else {
      buttons.pause = button("Pause", () => signal("pause"));
      buttons.resume = button("Resume", () => signal("resume"));
    }
    buttons.kill = button(
      "Kill",
      async () => {
        if (!window.confirm(`Kill ${this.type}/${this.id}? It will never run again.`)) return false;
        return signal("kill");
      },
      { class: "danger" },
    );
    return buttons;
  }

  makeTabs() {
    const labels = { conversation: "Conversation", timeline: "Timeline", state: "State" };
    const buttons = {};
    const tabs = { buttons, chosen: false };
    for (const [name, label] of Object.entries(labels)) {
      buttons[name] = h("button", { type: "button", role: "tab", "aria-selected": "false" }, label);
      buttons[name].addEventListener("click", () => {
        tabs.chosen = true;
        this.select(name);
      });
    }
    buttons.conversation.hidden = !this.isThread;
    tabs.el = h("div", { class: "tabs", role: "tablist", "aria-label": "Views" }, Object.values(buttons));
    return tabs;
  }

  select(name) {
    this.tab = name;
    for (const [key, button] of Object.entries(this.tabs.buttons)) {
      button.setAttribute("aria-selected", String(key === name));
      this.panels[key].hidden = key !== name;
    }
    if (name === "state") this.statePanel.render();
    if (name === "conversation") this.conversation.follow();
  }

  makeComposer() {
    const input = h("textarea", {
      rows: 2,
      "aria-label": "Message",
      placeholder: this.isThread
        ? "Write a message… (Enter sends, Shift+Enter starts a new line)"
        : "Message payload: JSON, or plain text (Enter sends)",
    });
    const send = h("button", { type: "submit", class: "primary" }, "Send");
    const form = h("form", { class: "composer", "aria-label": "Send a message" }, input, send);
    input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        form.requestSubmit();
      }
    });
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const text = input.value.trim();
      if (!text) return;
      send.disabled = true;
      try {
        if (this.isThread) {
          await api.post(`v1/threads/${segment(this.id)}/messages`, { content: text });
        } else {
          let payload = text;
          try {
            payload = JSON.parse(text);
          } catch {
            // plain text
          }
          await api.post(`${entityPath(this.type, this.id)}/messages`, { payload });
        }
        input.value = "";
        this.conversation.stick = true;
        this.app.refreshLists();
      } catch (error) {
        notify(error, "Message not sent");
      } finally {
        send.disabled = false;
        input.focus();
      }
    });
    return form;
  }
}
