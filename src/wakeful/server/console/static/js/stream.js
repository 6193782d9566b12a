// Tails one Durable Stream over SSE, from the start, resuming at the last offset the
// server confirmed whenever the connection drops (the server also closes live reads now
// and then, on purpose). EventSource's own retry would start over from the first URL's
// offset, so it is closed on error and reopened here with the current offset.

import { ApiError, api, liveUrl } from "./api.js";

const RETRY_MS = [250, 500, 1000, 2000, 4000];

export class StreamTail {
  // onEvents(events, live): a batch of change events, live once caught up.
  // onStatus(status): "catching up" | "live" | "reconnecting" | "closed" | "failed".
  // onError(error): an ApiError explaining why the stream cannot be read.
  constructor(path, { onEvents, onStatus = () => {}, onError = () => {}, onCaughtUp = () => {} }) {
    this.path = path;
    this.offset = "-1";
    this.caughtUp = false;
    this.failures = 0;
    this.stopped = false;
    this.source = null;
    this.timer = 0;
    this.handlers = { onEvents, onStatus, onError, onCaughtUp };
  }

  start() {
    this.handlers.onStatus("catching up");
    this.connect();
    return this;
  }

  connect() {
    if (this.stopped) return;
    const source = new EventSource(liveUrl(this.path, this.offset));
    this.source = source;
    source.addEventListener("data", (message) => {
      let events;
      try {
        events = JSON.parse(message.data);
      } catch {
        return;
      }
      if (!Array.isArray(events)) events = [events];
      if (events.length) this.handlers.onEvents(events, this.caughtUp);
    });
    source.addEventListener("control", (message) => {
      let control;
      try {
        control = JSON.parse(message.data);
      } catch {
        return;
      }
      this.failures = 0;
      if (control.streamNextOffset) this.offset = control.streamNextOffset;
      if (control.upToDate && !this.caughtUp) {
        this.caughtUp = true;
        this.handlers.onCaughtUp();
      }
      if (this.caughtUp) this.handlers.onStatus("live");
      if (control.streamClosed) {
        this.stop();
        this.handlers.onStatus("closed");
      }
    });
    source.addEventListener("error", () => {
      source.close();
      if (this.stopped || this.source !== source) return;
      this.failures += 1;
      // The server ends live reads now and then; only a retry that fails is news.
      if (this.failures >= 2) {
        this.handlers.onStatus("reconnecting");
        this.diagnose();
      }
      const delay = RETRY_MS[Math.min(this.failures - 1, RETRY_MS.length - 1)];
      this.timer = setTimeout(() => this.connect(), delay);
    });
  }

  // EventSource hides the response of a failed request; ask again plainly to learn why.
  async diagnose() {
    try {
      await api.get(this.path, { offset: this.offset });
    } catch (error) {
      if (!(error instanceof ApiError) || this.stopped) return;
      if (error.status === 404 || error.status === 410 || error.status === 401 || error.status === 403) {
        this.stop();
        this.handlers.onStatus("failed");
      }
      this.handlers.onError(error);
    }
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.source) this.source.close();
  }
}
