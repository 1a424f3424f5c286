// The fleet at a glance: the pipeline's health (GET /status, read by pipeline.js for the header badge too),
// GET /vms/summary (VM counts by reprotect status, grouped), GET /jobs/summary (job states, fleet ETA, top
// failures), throughput derived from successive summaries, and what is left (GET /vms?status=needs_reprotect).
// Refreshed on job events (debounced) and once a minute when idle.

import { api, query } from './api.js';
import { fill, h, problemBox, relative, status, table, when, field } from './dom.js';
import { pipelinePanel } from './pipeline.js';

const VM_STATUSES = ['needs_reprotect', 'in_progress', 'protected', 'failed', 'not_eligible'];
const IDLE_REFRESH_MS = 60000;
const EVENT_DEBOUNCE_MS = 2000;
const WINDOW_MS = 10 * 60000;
const samples = []; // {at, done}: protected + failed + cancelled jobs over time, for throughput (kept across pages)
let groupBy = 'region';

function throughput() {
  const now = Date.now();
  while (samples.length > 2 && now - samples[0].at > WINDOW_MS) samples.shift();
  if (samples.length < 2) return null;
  const first = samples[0];
  const last = samples[samples.length - 1];
  const minutes = (last.at - first.at) / 60000;
  if (minutes < 0.25) return null;
  return (last.done - first.done) / minutes;
}

function terminal(counts) {
  return (counts.protected || 0) + (counts.failed || 0) + (counts.cancelled || 0);
}

export function overviewPage(main, { canOperate }) {
  const body = h('div', { 'aria-busy': 'true' }, h('p', {}, 'Loading…'));
  const select = h('select', { name: 'group-by' }, ['region', 'subscription', 'vault'].map((v) =>
    h('option', { value: v, selected: v === groupBy }, v)));
  select.addEventListener('change', () => { groupBy = select.value; refresh(); });
  const pipeline = pipelinePanel();
  fill(main, h('h1', {}, 'Fleet overview'), pipeline.section, h('div', { class: 'toolbar' }, field('Group VMs by', select)), body);
  let timer = null;
  let debounce = null;
  let disposed = false;

  async function refresh() {
    clearTimeout(timer);
    try {
      const [vms, jobs, left] = await Promise.all([
        api(`/vms/summary${query({ group_by: groupBy })}`),
        api('/jobs/summary'),
        api(`/vms${query({ status: 'needs_reprotect', limit: 100 })}`),
      ]);
      if (disposed) return;
      const jobCounts = (jobs.body.groups[0] || { counts: {} }).counts;
      samples.push({ at: Date.now(), done: terminal(jobCounts) });
      render(vms.body, jobs.body, left.body);
    } catch (error) {
      if (!disposed) fill(body, problemBox(error));
    }
    if (!disposed) timer = setTimeout(refresh, IDLE_REFRESH_MS);
  }

  function render(vms, jobs, left) {
    body.removeAttribute('aria-busy');
    const rate = throughput();
    const jobCounts = (jobs.groups[0] || { counts: {} }).counts;
    fill(body,
      h('section', { 'aria-labelledby': 'fleet-title' },
        h('h2', { id: 'fleet-title' }, `VMs in ${vms.vault_count} watched vault(s)`),
        vms.partial ? h('p', { class: 'warning', role: 'note' }, '⚠ Partial: some vaults could not be read: ',
          vms.unreadable.map((u) => `${u.vault_id || u.subscription_id} (${u.code})`).join(', ')) : null,
        h('dl', { class: 'tiles', id: 'vm-counts' },
          h('div', { class: 'tile' }, h('dt', {}, 'Total'), h('dd', { dataset: { count: 'total' } }, String(vms.total))),
          VM_STATUSES.map((name) => h('div', { class: `tile tile-${name}` },
            h('dt', {}, status(name)), h('dd', { dataset: { count: name } }, String(vms.counts[name] || 0)))))),
      h('section', { 'aria-labelledby': 'progress-title' },
        h('h2', { id: 'progress-title' }, 'Progress'),
        h('dl', { class: 'tiles', id: 'job-figures' },
          h('div', { class: 'tile' }, h('dt', {}, 'Fleet ETA'),
            h('dd', { dataset: { figure: 'eta' } }, vms.eta || jobs.eta ? [when(vms.eta || jobs.eta), ` (${relative(vms.eta || jobs.eta)})`] : '—')),
          h('div', { class: 'tile' }, h('dt', {}, 'Jobs in flight'), h('dd', { dataset: { figure: 'in_flight' } }, String(jobs.in_flight))),
          h('div', { class: 'tile' }, h('dt', {}, 'Jobs (all)'), h('dd', { dataset: { figure: 'jobs_total' } }, String(jobs.total))),
          h('div', { class: 'tile' }, h('dt', {}, 'Throughput'),
            h('dd', { dataset: { figure: 'throughput' } }, rate === null ? 'measuring…' : `${rate.toFixed(1)} jobs finished/min`))),
        table('Jobs per state', ['State', 'Jobs'],
          Object.entries(jobCounts).map(([name, count]) => [status(name), h('a', { href: `#/jobs?state=${name}` }, String(count))]),
          { id: 'job-states' })),
      h('section', { 'aria-labelledby': 'groups-title' },
        h('h2', { id: 'groups-title' }, `By ${vms.group_by}`),
        table(`VM reprotect status per ${vms.group_by}`, [vms.group_by, 'Total', ...VM_STATUSES.map((s) => s.replace('_', ' ')), 'ETA'],
          vms.groups.map((g) => [g.key, String(g.total), ...VM_STATUSES.map((s) => String(g.counts[s] || 0)), when(g.eta)]),
          { id: 'groups' })),
      h('section', { 'aria-labelledby': 'failures-title', class: 'columns' },
        h('div', {},
          h('h2', { id: 'failures-title' }, 'Top failure codes'),
          table('Failed VMs by error code', ['Code', 'VMs'],
            vms.top_failure_codes.map((c) => [h('a', { href: `#/jobs?state=failed&error_code=${encodeURIComponent(c.code)}` }, c.code), String(c.count)]),
            { id: 'top-failures' })),
        h('div', {},
          h('h2', {}, 'Why not eligible'),
          table('Not eligible VMs by reason', ['Reason', 'VMs'],
            vms.top_not_eligible_reasons.map((c) => [c.code, String(c.count)])))),
      h('section', { 'aria-labelledby': 'left-title' },
        h('h2', { id: 'left-title' }, `What is left: ${vms.counts.needs_reprotect || 0} VM(s) need reprotect`),
        canOperate ? h('p', {}, h('a', { href: '#/reprotect', class: 'button' }, 'Plan a reprotect…')) : null,
        table(left.next_cursor ? 'The first 100 VMs that need reprotect' : 'VMs that need reprotect',
          ['VM', 'Vault', 'Subscription', 'Resource group', 'From → to'],
          left.items.map((vm) => [vm.vm_name, vm.vault_id.split('/').pop(), vm.subscription_id, vm.resource_group || '—',
            `${vm.source_region} → ${vm.target_region}`]),
          { id: 'what-is-left' })));
  }

  refresh();
  return {
    refresh,
    onEvent() {
      if (debounce) return;
      debounce = setTimeout(() => { debounce = null; if (!disposed) refresh(); }, EVENT_DEBOUNCE_MS);
    },
    dispose() { disposed = true; clearTimeout(timer); clearTimeout(debounce); pipeline.dispose(); },
  };
}
