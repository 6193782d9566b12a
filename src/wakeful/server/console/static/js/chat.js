// The conversation of an agent entity: messages with smoothly streaming text, and a card
// per tool call with its arguments, result, status and attempts, and the approve / deny
// (or result / error) controls when the call waits for a person.

import { api, entityPath, segment } from "./api.js";
import { badge, fill, h, json, nearBottom } from "./dom.js";
import { notify } from "./notices.js";

// Reveals text a little faster than it arrives, so coalesced deltas read as a steady flow.
class SmoothText {
  constructor(element) {
    this.element = element;
    this.shown = "";
    this.target = "";
    this.frame = 0;
    this.onProgress = () => {};
  }

  set(text, animate) {
    this.target = text;
    if (!animate || document.hidden || !text.startsWith(this.shown)) {
      cancelAnimationFrame(this.frame);
      this.frame = 0;
      this.show(text);
      return;
    }
    if (!this.frame && this.shown.length < text.length) {
      this.frame = requestAnimationFrame(() => this.tick());
    }
  }

  tick() {
    this.frame = 0;
    const backlog = this.target.length - this.shown.length;
    if (backlog <= 0) return;
    this.show(this.target.slice(0, this.shown.length + Math.max(1, Math.ceil(backlog / 12))));
    if (this.shown.length < this.target.length) this.frame = requestAnimationFrame(() => this.tick());
  }

  show(text) {
    if (text === this.shown && this.element.textContent === text) return;
    this.shown = text;
    this.element.textContent = text;
    this.onProgress();
  }
}

function field(label, value, className = "") {
  return [h("dt", {}, label), h("dd", {}, h("pre", { class: className }, json(value)))];
}

class ToolCallCard {
  constructor(entity, call) {
    this.entity = entity;
    this.id = call.id;
    this.signature = "";
    this.head = h("header", { class: "tool-head" });
    this.body = h("dl", { class: "tool-body" });
    this.actions = null;
    this.actionsFor = "";
    this.el = h("article", { class: "tool-call", "aria-label": `Tool call ${call.name}` }, this.head, this.body);
  }

  update(call) {
    const signature = JSON.stringify(call);
    if (signature === this.signature) return;
    this.signature = signature;
    const status = call.status ?? "pending";
    this.el.className = `tool-call status-${status}`;
    this.el.dataset.status = status;
    const attempts = Number(call.attempts ?? 0);
    fill(
      this.head,
      h("span", { class: "tool-icon", "aria-hidden": "true" }, "⚙"),
      h("span", { class: "tool-name" }, call.name ?? "tool"),
      call.kind && call.kind !== "call" ? h("span", { class: "tag" }, call.kind) : null,
      h("span", { class: "spacer" }),
      attempts > 1
        ? h("span", { class: "attempts", "aria-label": "Attempts" }, `attempt ${attempts}`)
        : attempts === 1
          ? h("span", { class: "attempts quietly", "aria-label": "Attempts" }, "attempt 1")
          : null,
      badge(status, `${call.name ?? "tool"} status`),
    );
    const rows = [...field("Arguments", call.args ?? {})];
    if (call.last_error && status !== "completed") rows.push(...field("Last attempt failed", call.last_error, "error-text"));
    if (call.last_error && status === "completed") rows.push(...field("Retried after", call.last_error, "quietly"));
    if (call.result !== undefined && call.result !== null) rows.push(...field("Result", call.result));
    if (call.error) rows.push(...field(status === "denied" ? "Denied" : "Error", call.error, "error-text"));
    this.body.replaceChildren(...rows);
    this.updateActions(call, status);
  }

  updateActions(call, status) {
    const wanted = status === "awaiting_approval" || status === "awaiting_result" ? status : "";
    if (wanted === this.actionsFor) return;
    this.actions?.remove();
    this.actions = null;
    this.actionsFor = wanted;
    if (wanted === "awaiting_approval") this.actions = this.approvalForm(call);
    if (wanted === "awaiting_result") this.actions = this.resultForm(call);
    if (this.actions) this.el.append(this.actions);
  }

  async answer(verb, body, buttons) {
    for (const button of buttons) button.disabled = true;
    try {
      await api.post(`${entityPath(this.entity.type, this.entity.id)}/tool-calls/${segment(this.id)}/${verb}`, body);
    } catch (error) {
      notify(error, `Could not ${verb} ${this.id}`);
      for (const button of buttons) button.disabled = false;
    }
  }

  approvalForm(call) {
    const reason = h("input", { type: "text", "aria-label": "Reason", placeholder: "Reason (optional)" });
    const approve = h("button", { type: "button", class: "primary" }, "Approve");
    const deny = h("button", { type: "button", class: "danger" }, "Deny");
    const buttons = [approve, deny];
    approve.addEventListener("click", () => this.answer("approve", { reason: reason.value || null }, buttons));
    deny.addEventListener("click", () => this.answer("deny", { reason: reason.value || null }, buttons));
    return h(
      "div",
      { class: "tool-actions", role: "group", "aria-label": `Approve or deny ${call.name}` },
      h("span", { class: "prompt" }, "Needs your approval"),
      reason,
      approve,
      deny,
    );
  }

  resultForm(call) {
    const value = h("textarea", { rows: 2, "aria-label": "Tool result", placeholder: "Result: JSON, or plain text" });
    const send = h("button", { type: "button", class: "primary" }, "Send result");
    const fail = h("button", { type: "button", class: "danger" }, "Send error");
    const buttons = [send, fail];
    send.addEventListener("click", () => {
      let result = value.value;
      try {
        result = JSON.parse(value.value);
      } catch {
        // plain text is a fine result
      }
      this.answer("result", { result }, buttons);
    });
    fail.addEventListener("click", () => this.answer("error", { error: value.value || "failed" }, buttons));
    return h(
      "div",
      { class: "tool-actions", role: "group", "aria-label": `Answer ${call.name}` },
      h("span", { class: "prompt" }, "Waiting for a result"),
      value,
      send,
      fail,
    );
  }
}

class MessageView {
  constructor(entity, item, onProgress) {
    this.entity = entity;
    this.role = item.role;
    this.cards = new Map();
    this.text = h("div", { class: "text reply" });
    this.smooth = new SmoothText(this.text);
    this.smooth.onProgress = onProgress;
    this.meta = h("div", { class: "meta" });
    this.reasoningText = h("div", { class: "text" });
    this.reasoning = h("details", { class: "reasoning", hidden: true }, h("summary", {}, "Reasoning"), this.reasoningText);
    this.calls = h("div", { class: "calls" });
    const label = { user: "Your message", assistant: "Assistant message", error: "Error" }[item.role] ?? "Message";
    this.el = h(
      "article",
      { class: `message ${item.role}`, "aria-label": label },
      this.meta,
      this.reasoning,
      this.text,
      this.calls,
    );
  }

  update(item, animate) {
    if (item.role === "user") {
      this.meta.textContent = item.from ? `from ${item.from}` : "you";
      this.smooth.set(item.content, false);
      return;
    }
    if (item.role === "error") {
      this.meta.textContent = item.kind ? `error · ${item.kind}` : "error";
      this.smooth.set(item.content, false);
      return;
    }
    this.el.classList.toggle("streaming", item.status === "streaming");
    this.el.classList.toggle("superseded", item.status === "superseded");
    this.el.setAttribute("aria-busy", item.status === "streaming" ? "true" : "false");
    const state = { streaming: "streaming…", superseded: "interrupted" }[item.status];
    fill(
      this.meta,
      h("span", {}, "assistant"),
      item.model ? h("span", { class: "quietly" }, ` · ${item.model}`) : null,
      state ? h("span", { class: `state ${item.status}` }, ` · ${state}`) : null,
    );
    this.reasoning.hidden = !item.reasoning;
    if (this.reasoningText.textContent !== item.reasoning) this.reasoningText.textContent = item.reasoning;
    this.text.hidden = !item.content && item.status !== "streaming";
    this.smooth.set(item.content, animate);
    for (const call of item.calls) {
      let card = this.cards.get(call.id);
      if (!card) {
        card = new ToolCallCard(this.entity, call);
        this.cards.set(call.id, card);
        this.calls.append(card.el);
      }
      card.update(call);
    }
  }
}

export class Conversation {
  constructor(entity) {
    this.entity = entity;
    this.views = new Map();
    this.stick = true;
    this.empty = h("p", { class: "empty" }, "No messages yet.");
    this.pending = h("div", { class: "pending", role: "status" }, h("span", { class: "dots", "aria-hidden": "true" }), "Waiting for the agent…");
    this.el = h("div", { class: "conversation", role: "log", "aria-label": "Conversation" });
    this.el.addEventListener("scroll", () => {
      this.stick = nearBottom(this.el);
    });
  }

  follow() {
    if (this.stick) this.el.scrollTop = this.el.scrollHeight;
  }

  render(items, { animate, waiting }) {
    const seen = new Set();
    let previous = null;
    for (const item of items) {
      let view = this.views.get(item.id);
      if (!view) {
        view = new MessageView(this.entity, item, () => this.follow());
        this.views.set(item.id, view);
      }
      view.update(item, animate);
      seen.add(item.id);
      const expected = previous ? previous.nextSibling : this.el.firstChild;
      if (expected !== view.el) this.el.insertBefore(view.el, expected);
      previous = view.el;
    }
    for (const [id, view] of this.views) {
      if (!seen.has(id)) {
        view.el.remove();
        this.views.delete(id);
      }
    }
    if (!items.length) this.el.prepend(this.empty);
    else this.empty.remove();
    if (waiting) this.el.append(this.pending);
    else this.pending.remove();
    this.follow();
  }
}
