// The live lists of threads and entities. There is no stream of all entities to tail, so
// the lists poll the API (every couple of seconds, only while the page is visible, and at
// once after an action), updating rows in place.

import { api } from "./api.js";
import { badge, h } from "./dom.js";

const POLL_MS = 2000;
const PAGE = 200;

function updateList(list, items, key, build) {
  const existing = new Map([...list.children].map((li) => [li.dataset.key, li]));
  let previous = null;
  for (const item of items) {
    const id = key(item);
    const signature = JSON.stringify(item);
    let li = existing.get(id);
    if (!li || li.dataset.signature !== signature) {
      const fresh = build(item);
      fresh.dataset.key = id;
      fresh.dataset.signature = signature;
      if (li) li.replaceWith(fresh);
      li = fresh;
    }
    existing.delete(id);
    const expected = previous ? previous.nextSibling : list.firstChild;
    if (expected !== li) list.insertBefore(li, expected);
    previous = li;
  }
  for (const li of existing.values()) li.remove();
}

export class Sidebar {
  constructor(app) {
    this.app = app;
    this.threadList = document.getElementById("thread-list");
    this.entityList = document.getElementById("entity-list");
    this.typeFilter = document.getElementById("type-filter");
    this.threadsSection = document.getElementById("threads-section");
    this.timer = 0;
    this.busy = false;
    this.again = false;
    this.current = "";
    this.typeFilter.addEventListener("change", () => this.refresh());
    document.addEventListener("visibilitychange", () => {
      if (!document.hidden) this.refresh();
    });
  }

  start() {
    this.stop();
    this.setTypes(this.app.types);
    this.threadsSection.hidden = !this.app.threadsAvailable;
    this.refresh();
    this.timer = setInterval(() => {
      if (!document.hidden) this.refresh();
    }, POLL_MS);
  }

  stop() {
    clearInterval(this.timer);
  }

  setTypes(types) {
    const chosen = this.typeFilter.value;
    this.typeFilter.replaceChildren(
      h("option", { value: "" }, "all types"),
      ...types.map((type) => h("option", { value: type.name }, type.name)),
    );
    this.typeFilter.value = types.some((type) => type.name === chosen) ? chosen : "";
  }

  select(current) {
    this.current = current;
    for (const link of document.querySelectorAll(".items a")) {
      if (link.getAttribute("href") === current) link.setAttribute("aria-current", "page");
      else link.removeAttribute("aria-current");
    }
  }

  async refresh() {
    if (this.busy) {
      this.again = true;
      return;
    }
    this.busy = true;
    try {
      const [threads, entities] = await Promise.all([
        this.app.threadsAvailable ? api.get("v1/threads", { limit: PAGE }) : null,
        api.get("v1/entities", { limit: PAGE, type: this.typeFilter.value }),
      ]);
      if (threads) this.renderThreads(threads);
      this.renderEntities(entities);
      this.app.setConnection(true);
    } catch (error) {
      this.app.setConnection(false, error);
    } finally {
      this.busy = false;
      if (this.again) {
        this.again = false;
        this.refresh();
      }
    }
  }

  renderThreads(page) {
    const threads = page.threads ?? [];
    updateList(this.threadList, threads, (thread) => thread.id, (thread) => {
      const href = `#/thread/${encodeURIComponent(thread.id)}`;
      return h(
        "li",
        {},
        h(
          "a",
          { href, "aria-current": href === this.current ? "page" : null },
          h("span", { class: "name" }, thread.title || thread.id),
          badge(thread.status),
        ),
      );
    });
    this.setEmpty(this.threadList, threads.length, "No threads yet.");
  }

  renderEntities(page) {
    const entities = page.entities ?? [];
    updateList(this.entityList, entities, (entity) => entity.url, (entity) => {
      const href = `#/entity/${encodeURIComponent(entity.type)}/${encodeURIComponent(entity.id)}`;
      return h(
        "li",
        {},
        h(
          "a",
          { href, "aria-current": href === this.current ? "page" : null },
          h("span", { class: "name" }, h("span", { class: "type" }, `${entity.type}/`), entity.id),
          badge(entity.status),
        ),
      );
    });
    this.setEmpty(this.entityList, entities.length, "No entities yet.");
    if (page.next) this.entityList.append(h("li", { class: "hint", "data-key": "" }, `Showing the first ${PAGE}.`));
  }

  setEmpty(list, count, text) {
    list.querySelector(".empty")?.remove();
    if (!count) list.append(h("li", { class: "empty", "data-key": "" }, text));
  }
}
