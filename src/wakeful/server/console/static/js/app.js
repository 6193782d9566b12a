// The console: routes (#/, #/thread/<id>, #/entity/<type>/<id>), the token prompt, and
// the shared context the views use.

import { ApiError, api, getToken, onUnauthorized, setToken } from "./api.js";
import { EntityView } from "./entity.js";
import { homeView } from "./home.js";
import { clearNotices, notify } from "./notices.js";
import { Sidebar } from "./sidebar.js";

const main = document.getElementById("view");
const connection = document.getElementById("connection");
const dialog = document.getElementById("token-dialog");
const tokenInput = document.getElementById("token-input");
const tokenReason = document.getElementById("token-reason");

const app = {
  types: [],
  threadsAvailable: false,
  threadType: "thread",
  view: null,
  refreshLists: () => sidebar.refresh(),
  setConnection(ok, error) {
    if (ok) {
      connection.textContent = "connected";
      connection.dataset.state = "ok";
    } else if (error?.status === 401) {
      connection.textContent = "token needed";
      connection.dataset.state = "warn";
    } else {
      connection.textContent = error?.status === 0 ? "server unreachable" : `error: ${error?.code ?? "?"}`;
      connection.dataset.state = "bad";
    }
  },
};
const sidebar = new Sidebar(app);

// --- the bearer token ---------------------------------------------------------------

let asking = null;

function askForToken(reason) {
  if (asking) return asking;
  tokenReason.textContent = reason;
  tokenInput.value = getToken();
  asking = new Promise((resolve) => {
    dialog.addEventListener(
      "close",
      () => {
        asking = null;
        if (dialog.returnValue === "save") setToken(tokenInput.value.trim());
        if (dialog.returnValue === "forget") setToken("");
        resolve(dialog.returnValue);
      },
      { once: true },
    );
    dialog.returnValue = "";
    dialog.showModal();
    tokenInput.focus();
  });
  return asking;
}

onUnauthorized(async () => {
  if (asking) return;
  sidebar.stop();
  app.view?.destroy?.();
  const reason = getToken()
    ? "The server refused the saved token. Enter the right one."
    : "This server asks for a bearer token.";
  const choice = await askForToken(reason);
  if (choice === "save" || choice === "forget") boot();
});

tokenInput.addEventListener("keydown", (event) => {
  if (event.key === "Enter") {
    event.preventDefault(); // the form's first button is "Forget token"
    dialog.close("save");
  }
});

document.getElementById("token-button").addEventListener("click", async () => {
  const choice = await askForToken(getToken() ? "Change or forget the saved token." : "Set a bearer token for this server.");
  if (choice === "save" || choice === "forget") boot();
});

// --- routing ------------------------------------------------------------------------

function parseRoute() {
  const parts = location.hash.replace(/^#\/?/, "").split("/").filter(Boolean).map(decodeURIComponent);
  if (parts[0] === "thread" && parts.length === 2) return { kind: "entity", type: app.threadType, id: parts[1] };
  if (parts[0] === "entity" && parts.length === 3) return { kind: "entity", type: parts[1], id: parts[2] };
  return { kind: "home" };
}

function route() {
  app.view?.destroy?.();
  const target = parseRoute();
  app.view = target.kind === "entity" ? new EntityView(app, target.type, target.id) : homeView(app);
  main.replaceChildren(app.view.el);
  const href = target.kind === "entity"
    ? target.type === app.threadType && app.threadsAvailable
      ? `#/thread/${encodeURIComponent(target.id)}`
      : `#/entity/${encodeURIComponent(target.type)}/${encodeURIComponent(target.id)}`
    : "";
  sidebar.select(href);
  document.title = target.kind === "entity" ? `${target.type}/${target.id} · Wakeful` : "Wakeful console";
}

window.addEventListener("hashchange", route);

// --- start --------------------------------------------------------------------------

async function detectThreads() {
  try {
    const page = await api.get("v1/threads", { limit: 1 });
    const first = page.threads?.[0];
    if (first?.url) app.threadType = first.url.split("/")[1];
    else if (!app.types.some((type) => type.name === app.threadType)) {
      const described = app.types.find((type) => /thread/i.test(type.description ?? ""));
      if (described) app.threadType = described.name;
    }
    return true;
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) return false;
    throw error;
  }
}

async function boot() {
  clearNotices();
  try {
    app.types = await api.get("v1/types");
    app.threadsAvailable = await detectThreads();
    app.setConnection(true);
  } catch (error) {
    app.setConnection(false, error);
    if (error instanceof ApiError && error.status === 401) return; // the token prompt is up
    notify(error, "Cannot load the console");
    setTimeout(boot, 3000);
    return;
  }
  sidebar.start();
  route();
}

boot();
