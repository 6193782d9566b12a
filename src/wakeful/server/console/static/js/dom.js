// A tiny element builder: h("button", {class: "primary", onclick}, "Send").

function present(children) {
  return children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false);
}

// Like element.replaceChildren, but skipping null / undefined / false (which the DOM
// would otherwise insert as the text "null").
export function fill(element, ...children) {
  element.replaceChildren(...present(children));
  return element;
}

export function h(tag, props = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(props ?? {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") element.className = value;
    else if (name === "text") element.textContent = value;
    else if (name.startsWith("on") && typeof value === "function") {
      element.addEventListener(name.slice(2), value);
    } else if (name === "value" || name === "checked" || name === "disabled") {
      element[name] = value;
    } else element.setAttribute(name, value === true ? "" : String(value));
  }
  element.append(...present(children));
  return element;
}

export function json(value) {
  if (value === undefined) return "";
  if (typeof value === "string") return value;
  try {
    return JSON.stringify(value, null, 2);
  } catch {
    return String(value);
  }
}

export function clock(timestamp) {
  if (!timestamp) return "";
  const date = new Date(timestamp);
  if (Number.isNaN(date.getTime())) return String(timestamp);
  const pad = (n, width = 2) => String(n).padStart(width, "0");
  return `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}.${pad(date.getMilliseconds(), 3)}`;
}

// A status pill. With a label it is also a live region, so changes are announced.
export function badge(status, label) {
  const props = { class: `badge status-${String(status).replace(/[^a-z_]/gi, "")}` };
  if (label) Object.assign(props, { role: "status", "aria-label": label });
  return h("span", props, status);
}

// Keeps the scroll pinned to the bottom only if the reader was already there.
export function nearBottom(element, slack = 48) {
  return element.scrollHeight - element.scrollTop - element.clientHeight < slack;
}
