// The JSON API and the streams, with the bearer token when one is configured.

const TOKEN_KEY = "wakeful.token";

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

let unauthorized = () => {};

export function onUnauthorized(handler) {
  unauthorized = handler;
}

export function getToken() {
  try {
    return localStorage.getItem(TOKEN_KEY) ?? "";
  } catch {
    return "";
  }
}

export function setToken(token) {
  if (token) localStorage.setItem(TOKEN_KEY, token);
  else localStorage.removeItem(TOKEN_KEY);
}

// Relative to the page, so a console served under a path prefix still finds its API.
export function apiUrl(path, params = {}) {
  const url = new URL(path, document.baseURI);
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(name, value);
  }
  return url;
}

export function segment(value) {
  return encodeURIComponent(value);
}

export function entityPath(type, id) {
  return `v1/entities/${segment(type)}/${segment(id)}`;
}

export function streamPath(type, id) {
  return `v1/stream/${segment(type)}/${segment(id)}/main`;
}

// EventSource cannot send headers, so the token rides in the query string.
export function liveUrl(path, offset) {
  return apiUrl(path, { offset, live: "sse", access_token: getToken() || undefined });
}

async function problem(response) {
  const text = await response.text().catch(() => "");
  try {
    const body = JSON.parse(text);
    if (body?.error?.message) {
      return new ApiError(response.status, body.error.code ?? `HTTP_${response.status}`, body.error.message);
    }
    if (body?.detail) {
      const detail = typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail);
      return new ApiError(response.status, `HTTP_${response.status}`, detail);
    }
  } catch {
    // not JSON: fall through
  }
  return new ApiError(response.status, `HTTP_${response.status}`, text.trim() || response.statusText || "request failed");
}

export async function request(method, path, { body, params, signal } = {}) {
  const headers = { Accept: "application/json" };
  const token = getToken();
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(apiUrl(path, params), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
      cache: "no-store",
    });
  } catch (error) {
    if (error?.name === "AbortError") throw error;
    throw new ApiError(0, "UNREACHABLE", `cannot reach the server (${error?.message ?? error})`);
  }
  if (!response.ok) {
    const error = await problem(response);
    if (response.status === 401) unauthorized(error);
    throw error;
  }
  if (response.status === 204) return null;
  const text = await response.text();
  return text ? JSON.parse(text) : null;
}

export const api = {
  get: (path, params, options = {}) => request("GET", path, { params, ...options }),
  post: (path, body = {}) => request("POST", path, { body }),
  delete: (path) => request("DELETE", path),
};
