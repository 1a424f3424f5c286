// Live job changes from GET /events/jobs. EventSource cannot send an Authorization header, so the stream
// is read with fetch() and a ReadableStream and parsed here (the text/event-stream format of the HTML
// standard). It resumes with Last-Event-ID; after repeated failures the console falls back to polling.

import { authHeaders, counters } from './api.js';

const RETRY_MS = 2000;
const FAILURES_BEFORE_POLLING = 3;
const STREAM_RETRY_WHILE_POLLING_MS = 60000;

export class JobStream {
  /** onEvent(job change), onMode('live' | 'connecting' | 'polling' | 'stopped'). */
  constructor(onEvent, onMode) {
    this.onEvent = onEvent;
    this.onMode = onMode;
    this.lastEventId = null;
    this.failures = 0;
    this.controller = null;
    this.running = false;
  }

  start() {
    if (this.running) return;
    this.running = true;
    this.loop();
  }

  stop() {
    this.running = false;
    if (this.controller) this.controller.abort();
    this.onMode('stopped');
  }

  async loop() {
    while (this.running) {
      this.onMode(this.failures >= FAILURES_BEFORE_POLLING ? 'polling' : 'connecting');
      let ok = false;
      try {
        ok = await this.readOnce();
      } catch (error) {
        if (!this.running) return;
        ok = false;
      }
      if (!this.running) return;
      this.failures = ok ? 0 : this.failures + 1;
      const polling = this.failures >= FAILURES_BEFORE_POLLING;
      if (polling) this.onMode('polling');
      await new Promise((resolve) => setTimeout(resolve, polling ? STREAM_RETRY_WHILE_POLLING_MS : (ok ? 0 : RETRY_MS)));
    }
  }

  /** Read one connection to its end; true when it was a healthy stream (ended by the server). */
  async readOnce() {
    this.controller = new AbortController();
    const headers = authHeaders({ Accept: 'text/event-stream' });
    if (this.lastEventId) headers['Last-Event-ID'] = this.lastEventId;
    counters.calls += 1;
    const answer = await fetch('/events/jobs', {
      headers, credentials: 'omit', cache: 'no-store', signal: this.controller.signal,
    });
    if (answer.status === 401) {
      document.dispatchEvent(new CustomEvent('signed-out'));
      this.running = false;
      return false;
    }
    if (!answer.ok || !answer.body) return false;
    this.failures = 0;
    this.onMode('live');
    const reader = answer.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    let event = { type: 'message', data: [], id: null };
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return true;
      buffer += value;
      const lines = buffer.split(/\r\n|\r|\n/);
      buffer = lines.pop();
      for (const line of lines) {
        if (line === '') {
          if (event.id !== null) this.lastEventId = event.id;
          if (event.type === 'resume') { this.controller.abort(); return true; }
          if (event.data.length && event.type === 'job') {
            try { this.onEvent(JSON.parse(event.data.join('\n'))); } catch { /* a malformed event is skipped */ }
          }
          event = { type: 'message', data: [], id: null };
          continue;
        }
        if (line.startsWith(':')) continue; // heartbeat comment
        const colon = line.indexOf(':');
        const name = colon < 0 ? line : line.slice(0, colon);
        let data = colon < 0 ? '' : line.slice(colon + 1);
        if (data.startsWith(' ')) data = data.slice(1);
        if (name === 'event') event.type = data;
        else if (name === 'data') event.data.push(data);
        else if (name === 'id') event.id = data;
      }
    }
  }
}
