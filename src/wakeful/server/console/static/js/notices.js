// Visible errors: the server's {"error": {"code", "message"}}, or what went wrong locally.

const MAX_NOTICES = 4;

export function notify(error, context = "") {
  const region = document.getElementById("notices");
  const code = error?.code ?? "ERROR";
  const message = error?.message ?? String(error);
  const text = `${context ? `${context}: ` : ""}${code} — ${message}`;
  const existing = [...region.children].find((item) => item.dataset.text === text);
  if (existing) existing.remove();
  const close = document.createElement("button");
  close.type = "button";
  close.className = "quiet small";
  close.textContent = "Dismiss";
  close.setAttribute("aria-label", "Dismiss error");
  const body = document.createElement("span");
  body.textContent = text;
  const notice = document.createElement("div");
  notice.className = "notice";
  notice.dataset.text = text;
  notice.append(body, close);
  close.addEventListener("click", () => notice.remove());
  region.append(notice);
  while (region.children.length > MAX_NOTICES) region.firstElementChild.remove();
}

export function clearNotices() {
  document.getElementById("notices").replaceChildren();
}
