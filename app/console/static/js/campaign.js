// One campaign (GET /campaigns/{id}): its state, the step it is at, why it stopped and its ETA; the steps in
// order with their counts and gates (kind, outcome, health checks, who approved and why); every VM per phase,
// linked to its jobs. Refetched every few seconds until it ends, and at once when the stream reports one of its
// jobs. Operators get its controls (campaign_actions.js).

import { api } from './api.js';
import { fill, h, problemBox, relative, status, table, when } from './dom.js';
import { FINAL_STATES, stepName } from './campaigns.js';
import { campaignControls, retriable } from './campaign_actions.js';

const REFRESH_MS = 3000;
const EVENT_DEBOUNCE_MS = 500;

function counts(step) {
  const parts = Object.entries(step.counts).filter(([, n]) => n).map(([name, n]) => `${n} ${name.replaceAll('_', ' ')}`);
  return parts.length ? parts.join(', ') : '—';
}

function checkResult(result) {
  const got = result.status === null || result.status === undefined ? `no answer (${result.error})` : `answered ${result.status}`;
  return h('li', {}, status(result.passed ? 'passed' : 'failed'), ` ${result.url} ${got}, expected ${result.expected_status}`);
}

function gateCell(gate) {
  if (gate.kind === 'none') return h('span', { class: 'gate' }, 'no gate');
  return h('div', { class: 'gate', dataset: { gateKind: gate.kind } },
    h('span', {}, `${gate.kind} `), gate.state ? status(gate.state) : h('span', { class: 'hint' }, '(not reached)'),
    gate.results.length
      ? h('ul', { class: 'gate-results' }, gate.results.map(checkResult))
      : gate.health_checks.length
        ? h('ul', { class: 'gate-results' }, gate.health_checks.map((c) => h('li', {}, `${c.url} must answer ${c.expected_status || 200}`)))
        : null);
}

function decisionCell(gate) {
  if (!gate.decided_by && !gate.reason) return '—';
  return h('div', { class: 'decision' },
    gate.decided_by ? h('span', { class: 'decided-by' }, `by ${gate.decided_by}`) : null,
    gate.decided_at ? [' ', when(gate.decided_at)] : null,
    gate.reason ? h('p', { class: 'gate-reason' }, gate.reason) : null);
}

function minutes(seconds) {
  return seconds < 120 ? `${Math.round(seconds)} s` : `${Math.round(seconds / 60)} min`;
}

function isCurrent(campaign, step) {
  return !FINAL_STATES.has(campaign.state) && step.phase === campaign.phase && (step.wave ?? null) === (campaign.wave ?? null);
}

function stepsTable(campaign) {
  const rows = campaign.steps.map((step) => h('tr', {
    dataset: { position: step.position, phase: step.phase, wave: step.wave ?? '' },
    'aria-current': isCurrent(campaign, step) ? 'step' : null,
  },
  h('td', {}, isCurrent(campaign, step) ? h('strong', {}, '▶ current: ') : null, stepName(step.phase, step.wave)),
  h('td', { class: 'step-state' }, status(step.state)),
  h('td', { class: 'step-counts' }, counts(step)),
  h('td', { class: 'step-gate' }, gateCell(step.gate)),
  h('td', { class: 'step-decision' }, decisionCell(step.gate)),
  h('td', {}, minutes(step.estimated_seconds)),
  h('td', {}, when(step.started_at)),
  h('td', {}, when(step.finished_at))));
  return h('table', { id: 'campaign-steps' }, h('caption', {}, 'Steps in order, each with the gate that lets the campaign past it'),
    h('thead', {}, h('tr', {}, ['Step', 'State', 'VMs', 'Gate', 'Decision', 'Estimated', 'Started', 'Finished']
      .map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', {}, rows));
}

function phaseCell(phase) {
  if (!phase) return '—';
  if (phase.state === 'refused') {
    return [status('refused'), ' ', h('span', { class: 'error-code' }, phase.error.code), `: ${phase.error.message}`];
  }
  if (phase.state === 'skipped') return [status('skipped'), ' ', h('span', { class: 'skip-reason' }, phase.reason)];
  return [h('a', { href: `#/jobs/${phase.job_id}`, 'aria-label': `${phase.kind} job: ${phase.state.replaceAll('_', ' ')}` }, status(phase.state)),
    phase.error ? [' ', h('span', { class: 'error-code', title: phase.error.message || '' }, phase.error.code),
      phase.error.message ? `: ${phase.error.message}` : ''] : null];
}

function vmsTable(campaign, controls) {
  const phases = [...new Set(campaign.steps.map((s) => s.phase))];
  const rows = campaign.vms.map((vm) => h('tr', { dataset: { vm: vm.vm_name } },
    h('th', { scope: 'row' }, vm.vm_name), h('td', {}, String(vm.wave)),
    phases.map((phase) => h('td', { dataset: { phase } }, phaseCell(vm.phases[phase]))),
    controls ? h('td', {}, retriable(campaign, vm)
      ? h('button', { type: 'button', class: 'secondary', onclick: () => controls.retry(vm) }, `Retry ${vm.vm_name}`) : '—') : null));
  return h('table', { id: 'campaign-vms' }, h('caption', {}, 'Every VM, per phase (links open its job)'),
    h('thead', {}, h('tr', {}, ['VM', 'Wave', ...phases.map((p) => p.replaceAll('_', ' ')), controls ? 'Action' : null]
      .filter(Boolean).map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', {}, rows));
}

function historyTable(history) {
  return table('Every change of state, oldest first', ['At', 'From', 'To', 'By', 'Reason'],
    history.map((e) => [when(e.at), e.from_state ? status(e.from_state) : '—', status(e.to_state), e.actor || '—', e.reason || '—']),
    { id: 'campaign-history' });
}

function eta(campaign) {
  return campaign.eta_at ? [when(campaign.eta_at), ` (${relative(campaign.eta_at)})`] : '—';
}

export function campaignPage(main, { id, canOperate }) {
  const path = `/campaigns/${encodeURIComponent(id)}`;
  const body = h('div', { 'aria-busy': 'true' }, h('p', {}, 'Loading…'));
  const title = h('h1', {}, 'Campaign');
  const controls = canOperate ? campaignControls({ path, changed: (latest) => { show(latest); load(); }, reload: () => load() }) : null;
  fill(main, h('p', {}, h('a', { href: '#/campaigns' }, '← Campaigns')), title,
    controls ? [controls.toolbar, controls.panel] : null, body);
  let disposed = false;
  let timer = null;
  let debounce = null;
  let campaign = null;
  let drawn = null; // what was last drawn, less the ETA: an unchanged campaign is not redrawn (focus stays put)
  let jobIds = new Set();

  async function load() {
    clearTimeout(timer);
    try {
      const latest = (await api(path)).body;
      if (disposed) return;
      show(latest);
    } catch (error) {
      if (!disposed) { drawn = null; fill(body, problemBox(error)); } // drawn again once it answers
    }
    clearTimeout(timer); // one pending refetch at most, however many loads ran at once
    if (!disposed && !(campaign && FINAL_STATES.has(campaign.state))) timer = setTimeout(load, REFRESH_MS);
  }

  function show(latest) {
    campaign = latest;
    jobIds = new Set(latest.vms.flatMap((vm) => Object.values(vm.phases).map((p) => p.job_id).filter(Boolean)));
    if (controls) controls.update(latest);
    const signature = JSON.stringify({ ...latest, eta_at: null, updated_at: null });
    if (signature === drawn) {
      const cell = document.getElementById('campaign-eta');
      if (cell) fill(cell, eta(latest));
      return;
    }
    drawn = signature;
    render();
  }

  function render() {
    body.removeAttribute('aria-busy');
    fill(title, `Campaign: ${campaign.name} `, status(campaign.state));
    const options = campaign.options || {};
    fill(body,
      campaign.state === 'waiting_gate' ? h('p', { class: 'warning', role: 'note', id: 'gate-waiting' },
        `✋ Waiting for an operator to approve the gate after ${stepName(campaign.phase, campaign.wave)}.`) : null,
      h('dl', { class: 'pairs', id: 'campaign-facts' },
        h('dt', {}, 'State'), h('dd', { id: 'campaign-state' }, status(campaign.state)),
        h('dt', {}, 'Current step'), h('dd', { id: 'campaign-step' }, stepName(campaign.phase, campaign.wave)),
        h('dt', {}, 'Stop reason'), h('dd', { id: 'stop-reason' }, campaign.stop_reason || '—'),
        campaign.blocked_reason ? [h('dt', {}, 'Waiting to start'),
          h('dd', { id: 'blocked-reason', class: 'warning' }, '⚠ ', campaign.blocked_reason, ' (tried again shortly)')] : null,
        h('dt', {}, 'ETA'), h('dd', { id: 'campaign-eta' }, eta(campaign)),
        h('dt', {}, 'VMs'), h('dd', {}, String(campaign.vms.length)),
        h('dt', {}, 'Drill'), h('dd', {}, options.drill === false ? 'no' : 'yes'),
        h('dt', {}, 'Created'), h('dd', {}, when(campaign.created_at), campaign.created_by ? ` by ${campaign.created_by}` : ''),
        h('dt', {}, 'Finished'), h('dd', {}, when(campaign.finished_at))),
      h('section', { 'aria-labelledby': 'steps-title' }, h('h2', { id: 'steps-title' }, 'Steps and gates'), stepsTable(campaign)),
      h('section', { 'aria-labelledby': 'vms-title' }, h('h2', { id: 'vms-title' }, 'VMs'), vmsTable(campaign, controls)),
      h('section', { 'aria-labelledby': 'campaign-history-title' }, h('h2', { id: 'campaign-history-title' }, 'History'),
        historyTable(campaign.history || [])),
      h('details', {}, h('summary', {}, 'Options (as created)'), h('pre', {}, JSON.stringify(options, null, 2))));
  }

  load();
  return {
    refresh: load,
    onEvent(change) {
      if (!jobIds.has(change.job_id) || debounce) return;
      debounce = setTimeout(() => { debounce = null; if (!disposed) load(); }, EVENT_DEBOUNCE_MS);
    },
    dispose() { disposed = true; clearTimeout(timer); clearTimeout(debounce); },
  };
}
