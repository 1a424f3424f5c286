// Reprotect requests: the 100 newest with their job counts per state (GET /jobs/summary?group_by=request).

import { api } from './api.js';
import { fill, h, problemBox, table } from './dom.js';

const EVENT_DEBOUNCE_MS = 2000;

export function requestsPage(main) {
  const body = h('div', { 'aria-busy': 'true' }, h('p', {}, 'Loading…'));
  fill(main, h('h1', {}, 'Requests'), body);
  let disposed = false;
  let debounce = null;

  async function load() {
    try {
      const summary = (await api('/jobs/summary?group_by=request')).body;
      if (disposed) return;
      body.removeAttribute('aria-busy');
      const active = (c) => ['accepted', 'validating', 'submitting', 'reprotecting', 'syncing'].reduce((n, s) => n + (c[s] || 0), 0);
      fill(body, table('The newest requests', ['Request', 'VMs', 'In flight', 'Protected', 'Failed', 'Cancelled'],
        summary.groups.map((g) => [h('a', { href: `#/jobs?request_id=${g.key}` }, g.key), String(g.total), String(active(g.counts)),
          String(g.counts.protected || 0), String(g.counts.failed || 0), String(g.counts.cancelled || 0)]),
        { id: 'requests-table' }));
    } catch (error) {
      if (!disposed) fill(body, problemBox(error));
    }
  }

  load();
  return {
    refresh: load,
    onEvent() {
      if (!debounce) debounce = setTimeout(() => { debounce = null; if (!disposed) load(); }, EVENT_DEBOUNCE_MS);
    },
    dispose() { disposed = true; clearTimeout(debounce); },
  };
}
