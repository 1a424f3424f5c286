// Jobs, newest first, with GET /jobs's filters (kept in the page's address), updated live from the event
// stream, and for operators the bulk actions on the same filter: a dry run first, then a confirmation
// that names the count (POST /jobs:retry | /jobs:cancel).

import { api, query } from './api.js';
import { fill, h, problemBox, relative, status, table, when, field } from './dom.js';

export const JOB_STATES = ['accepted', 'validating', 'submitting', 'reprotecting', 'syncing', 'protected', 'failed', 'cancelled'];
const FILTERS = ['state', 'vm', 'vault_id', 'subscription_id', 'request_id', 'error_code'];
const EVENT_DEBOUNCE_MS = 1500;

function row(job) {
  return h('tr', { dataset: { jobId: job.id } },
    h('td', {}, h('a', { href: `#/jobs/${job.id}` }, job.vm)),
    h('td', { class: 'state' }, status(job.state)),
    h('td', {}, String(job.attempt)),
    h('td', { class: 'resync' }, job.resync_percent === null || job.resync_percent === undefined ? '—' : `${job.resync_percent} %`),
    h('td', { class: 'eta' }, job.eta ? relative(job.eta) : '—'),
    h('td', { class: 'error-code' }, job.error ? job.error.code : (job.error_code || '—')),
    h('td', {}, job.vault_id.split('/').pop()),
    h('td', {}, when(job.updated_at || job.at)));
}

function bulkFilter(params) {
  const filter = {};
  if (params.state) filter.states = [params.state];
  if (params.error_code) filter.error_codes = [params.error_code];
  if (params.vault_id) filter.vault_ids = [params.vault_id];
  if (params.request_id) filter.request_ids = [params.request_id];
  if (params.subscription_id) filter.subscription_id = params.subscription_id;
  if (params.vm) filter.vm_name_prefix = params.vm;
  return filter;
}

export function jobsPage(main, { params, canOperate }) {
  const current = Object.fromEntries(FILTERS.filter((f) => params[f]).map((f) => [f, params[f]]));
  const controls = {
    state: h('select', { name: 'state' }, h('option', { value: '' }, 'any'),
      JOB_STATES.map((s) => h('option', { value: s, selected: s === current.state }, s))),
    vm: h('input', { name: 'vm', value: current.vm || '', placeholder: 'web-01' }),
    vault_id: h('input', { name: 'vault_id', value: current.vault_id || '', size: 40 }),
    subscription_id: h('input', { name: 'subscription_id', value: current.subscription_id || '' }),
    request_id: h('input', { name: 'request_id', value: current.request_id || '', size: 36 }),
    error_code: h('input', { name: 'error_code', value: current.error_code || '' }),
  };
  const form = h('form', { class: 'filters', role: 'search', 'aria-label': 'Filter jobs' },
    field('State', controls.state), field('VM name or item id', controls.vm), field('Vault id', controls.vault_id),
    field('Vault subscription', controls.subscription_id), field('Request id', controls.request_id),
    field('Error code', controls.error_code),
    h('div', { class: 'field actions' }, h('button', { type: 'submit' }, 'Apply filters'),
      h('a', { href: '#/jobs', class: 'button secondary' }, 'Clear')));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const chosen = Object.fromEntries(FILTERS.map((f) => [f, controls[f].value.trim()]).filter(([, v]) => v));
    location.hash = `#/jobs${query(chosen)}`;
  });
  const tbody = h('tbody', {});
  const list = h('table', { id: 'jobs-table' }, h('caption', {}, 'Jobs, newest first'),
    h('thead', {}, h('tr', {}, ['VM', 'State', 'Attempt', 'Resync', 'ETA', 'Error', 'Vault', 'Updated'].map((t) => h('th', { scope: 'col' }, t)))),
    tbody);
  const more = h('button', { type: 'button', hidden: true }, 'Load more');
  const message = h('div', { 'aria-live': 'polite' });
  const bulk = h('section', { 'aria-labelledby': 'bulk-title', class: 'card' });
  fill(main, h('h1', {}, 'Jobs'), form, message, list, more, canOperate ? bulk : null);

  let cursor = null;
  let disposed = false;
  let debounce = null;
  const rows = new Map();

  async function load(append = false) {
    try {
      const page = await api(`/jobs${query({ ...current, limit: 50, cursor: append ? cursor : undefined })}`);
      if (disposed) return;
      if (!append) { tbody.replaceChildren(); rows.clear(); }
      for (const job of page.body.items) {
        const tr = row(job);
        rows.set(job.id, tr);
        tbody.append(tr);
      }
      if (!rows.size) tbody.append(h('tr', {}, h('td', { colspan: 8, class: 'empty' }, 'No job matches.')));
      cursor = page.body.next_cursor;
      more.hidden = !cursor;
      fill(message);
    } catch (error) {
      if (!disposed) fill(message, problemBox(error));
    }
  }
  more.addEventListener('click', () => load(true));

  function renderBulk() {
    const filter = bulkFilter(current);
    const described = Object.keys(filter).length ? JSON.stringify(filter) : 'every job in your scopes';
    const result = h('div', { 'aria-live': 'polite', id: 'bulk-result' });
    const action = (verb) => h('button', { type: 'button', class: 'secondary', onclick: () => dryRun(verb, filter, result) },
      `${verb === 'retry' ? 'Retry' : 'Cancel'} matching jobs…`);
    fill(bulk, h('h2', { id: 'bulk-title' }, 'Bulk actions on this filter'),
      h('p', {}, `Filter: ${described}. Retry applies to failed jobs, cancel to active ones; a dry run shows the count first.`),
      h('div', { class: 'toolbar' }, action('retry'), action('cancel')), result);
  }

  async function dryRun(verb, filter, result) {
    fill(result, h('p', {}, 'Checking…'));
    try {
      const plan = (await api(`/jobs:${verb}?dry_run=true`, { method: 'POST', body: { filter, max_count: 1000 } })).body;
      const would = plan.jobs.filter((j) => j.outcome === `would_${verb}`);
      const refused = plan.jobs.length - would.length;
      const confirm = h('button', { type: 'button', class: 'danger', disabled: would.length === 0 },
        `Confirm: ${verb} ${would.length} job(s)`);
      confirm.addEventListener('click', () => run(verb, filter, result));
      fill(result,
        h('p', { role: 'status' }, `Dry run: ${plan.matched} job(s) match; ${would.length} would be ${verb === 'retry' ? 'retried' : 'cancelled'}`,
          refused ? `, ${refused} refused.` : '.'),
        table(`What ${verb} would do`, ['VM', 'State', 'Outcome', 'Why'],
          plan.jobs.slice(0, 50).map((j) => [j.vm, status(j.state), j.outcome, j.problem ? `${j.problem.code}: ${j.problem.detail}` : (j.detail || '')])),
        h('div', { class: 'toolbar' }, confirm,
          h('button', { type: 'button', class: 'secondary', onclick: () => fill(result) }, 'Back')));
      confirm.focus();
    } catch (error) {
      fill(result, problemBox(error));
    }
  }

  async function run(verb, filter, result) {
    try {
      const done = (await api(`/jobs:${verb}`, { method: 'POST', body: { filter, max_count: 1000 } })).body;
      const counts = Object.entries(done.counts).filter(([, n]) => n).map(([k, n]) => `${n} ${k}`).join(', ');
      fill(result, h('p', { role: 'status' }, `✔ Done: ${counts || 'nothing to do'}.`));
      load();
    } catch (error) {
      fill(result, problemBox(error));
    }
  }

  if (canOperate) renderBulk();
  load();
  return {
    refresh: () => load(),
    onEvent(change) {
      const tr = rows.get(change.job_id);
      if (tr) {
        tr.querySelector('.state').replaceChildren(status(change.state));
        tr.querySelector('.resync').textContent = change.resync_percent === null || change.resync_percent === undefined ? '—' : `${change.resync_percent} %`;
        tr.querySelector('.eta').textContent = change.eta_at ? relative(change.eta_at) : '—';
        tr.querySelector('.error-code').textContent = change.error_code || '—';
      }
      if (!cursor && !debounce) {
        debounce = setTimeout(() => { debounce = null; if (!disposed) load(); }, EVENT_DEBOUNCE_MS);
      }
    },
    dispose() { disposed = true; clearTimeout(debounce); },
  };
}
