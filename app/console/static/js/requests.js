// Reprotect requests: the 100 newest with their job counts per state (GET /jobs/summary?group_by=request),
// filtered by vault or vault subscription like the summary itself.

import { api, query } from './api.js';
import { field, fill, h, problemBox, table } from './dom.js';

const EVENT_DEBOUNCE_MS = 2000;
const ACTIVE = ['accepted', 'validating', 'submitting', 'reprotecting', 'syncing'];

export function requestsPage(main, { params = {} } = {}) {
  const current = { vault_id: params.vault_id || '', subscription_id: params.subscription_id || '' };
  const vault = h('input', { name: 'vault_id', value: current.vault_id, size: 50 });
  const subscription = h('input', { name: 'subscription_id', value: current.subscription_id });
  const form = h('form', { class: 'filters', role: 'search', 'aria-label': 'Filter requests' },
    field('Vault id', vault), field('Vault subscription', subscription),
    h('div', { class: 'field actions' }, h('button', { type: 'submit' }, 'Apply filters'),
      h('a', { href: '#/requests', class: 'button secondary' }, 'Clear')));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    location.hash = `#/requests${query({ vault_id: vault.value.trim(), subscription_id: subscription.value.trim() })}`;
  });
  const body = h('div', { 'aria-busy': 'true' }, h('p', {}, 'Loading…'));
  fill(main, h('h1', {}, 'Requests'), form, body);
  let disposed = false;
  let debounce = null;

  async function load() {
    try {
      const summary = (await api(`/jobs/summary${query({ group_by: 'request', ...current })}`)).body;
      if (disposed) return;
      body.removeAttribute('aria-busy');
      const active = (c) => ACTIVE.reduce((n, s) => n + (c[s] || 0), 0);
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
