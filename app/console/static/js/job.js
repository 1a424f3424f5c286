// One job: state, steps, the mirrored ASR tasks, resync progress, ETA, history and the error with Azure's
// possible causes and recommended action (GET /jobs/{id}, revalidated with If-None-Match), refreshed when
// the stream reports a change to it; cancel and retry for operators.

import { api } from './api.js';
import { fill, h, problemBox, relative, status, table, when } from './dom.js';

const TERMINAL = new Set(['protected', 'failed', 'cancelled']);

/** Azure's advice for a failure, wherever the error carries it (an ASR job's errors, or a refused call). */
function advice(error) {
  const details = error.details || {};
  const found = [];
  for (const asr of details.asr_errors || []) {
    found.push({ code: asr.code, message: asr.message, causes: asr.possible_causes, action: asr.recommended_action,
      provider: asr.provider_code ? `${asr.provider_code}${asr.provider_message ? `: ${asr.provider_message}` : ''}` : null });
  }
  if (!found.length && (details.possible_causes || details.recommended_action)) {
    found.push({ code: details.asr_code || details.code, message: details.message, causes: details.possible_causes,
      action: details.recommended_action, provider: null });
  }
  return found;
}

function errorSection(error) {
  const found = advice(error);
  return h('section', { 'aria-labelledby': 'error-title', class: 'card problem-card', id: 'job-error' },
    h('h2', { id: 'error-title' }, h('span', { 'aria-hidden': 'true' }, '✖ '), 'Error'),
    h('dl', { class: 'pairs' },
      h('dt', {}, 'Code'), h('dd', { class: 'error-code' }, error.code),
      h('dt', {}, 'Message'), h('dd', {}, error.message),
      h('dt', {}, 'Failed in'), h('dd', {}, error.failed_in || '—'),
      found.map((f) => [
        f.code && f.code !== error.code ? [h('dt', {}, 'Azure code'), h('dd', {}, f.code)] : null,
        f.provider ? [h('dt', {}, 'Provider error'), h('dd', {}, f.provider)] : null,
        h('dt', {}, 'Possible causes'), h('dd', { class: 'possible-causes' }, f.causes || '—'),
        h('dt', {}, 'Recommended action'), h('dd', { class: 'recommended-action' }, f.action || '—'),
      ])),
    found.length ? null : h('p', {}, 'Azure gave no possible causes or recommended action for this error.'));
}

function duration(start, end) {
  if (!start) return '—';
  const seconds = Math.round(((end ? new Date(end) : new Date()) - new Date(start)) / 1000);
  return seconds < 120 ? `${seconds} s` : `${Math.round(seconds / 60)} min`;
}

export function jobPage(main, { id, canOperate }) {
  const path = `/jobs/${encodeURIComponent(id)}`;
  const body = h('div', { 'aria-busy': 'true' }, h('p', {}, 'Loading…'));
  const actionResult = h('div', { 'aria-live': 'polite', id: 'action-result' });
  fill(main, h('p', {}, h('a', { href: '#/jobs' }, '← Jobs')), body, actionResult);
  let disposed = false;
  let timer = null;
  let job = null;

  async function load() {
    clearTimeout(timer);
    try {
      const answer = await api(path, { revalidate: true });
      if (disposed) return;
      if (answer.changed || !job) { job = answer.body; render(); }
      // While in flight and without the stream, follow the API's Retry-After hint.
      const live = document.getElementById('stream-mode').dataset.mode === 'live';
      if (!TERMINAL.has(job.state) && !live) {
        const hint = Number(answer.headers.get('Retry-After')) || 5;
        timer = setTimeout(load, Math.max(hint, 5) * 1000);
      }
    } catch (error) {
      if (!disposed) fill(body, problemBox(error));
    }
  }

  function actions() {
    if (!canOperate) return null;
    const buttons = [];
    if (!TERMINAL.has(job.state)) {
      buttons.push(h('button', { type: 'button', class: 'danger', id: 'cancel-job', onclick: () => confirmAction('cancel') }, 'Cancel job…'));
    }
    if (job.state === 'failed') {
      buttons.push(h('button', { type: 'button', id: 'retry-job', onclick: () => act('retry') }, 'Retry job'));
    }
    return buttons.length ? h('div', { class: 'toolbar', role: 'group', 'aria-label': 'Actions' }, buttons) : null;
  }

  function confirmAction(verb) {
    const yes = h('button', { type: 'button', class: 'danger', onclick: () => act(verb) }, `Yes, ${verb} this job`);
    fill(actionResult, h('p', { role: 'alert' }, `${verb === 'cancel' ? 'Cancel' : verb} the reprotect of ${job.vm}?`),
      h('div', { class: 'toolbar' }, yes, h('button', { type: 'button', class: 'secondary', onclick: () => fill(actionResult) }, 'No')));
    yes.focus();
  }

  async function act(verb) {
    try {
      const answer = await api(`${path}/${verb}`, { method: 'POST' });
      job = answer.body;
      fill(actionResult, h('p', { role: 'status' }, `✔ ${verb === 'retry' ? 'Retry' : 'Cancel'} accepted: the job is ${job.state}.`));
      render();
      load();
    } catch (error) {
      fill(actionResult, problemBox(error));
    }
  }

  function render() {
    body.removeAttribute('aria-busy');
    const progress = job.resync_percent === null || job.resync_percent === undefined ? null
      : h('div', { class: 'field' }, h('label', { for: 'resync' }, `Resync ${job.resync_percent} %`),
        h('progress', { id: 'resync', max: 100, value: job.resync_percent }, `${job.resync_percent} %`));
    fill(body,
      h('h1', {}, `Job: ${job.vm} `, status(job.state)),
      actions(),
      h('dl', { class: 'pairs', id: 'job-facts' },
        h('dt', {}, 'State'), h('dd', { id: 'job-state' }, status(job.state)),
        h('dt', {}, 'Attempt'), h('dd', {}, String(job.attempt)),
        h('dt', {}, 'ETA'), h('dd', {}, job.eta ? [when(job.eta), ` (${relative(job.eta)})`] : '—'),
        h('dt', {}, 'Request'), h('dd', {}, h('a', { href: `#/jobs?request_id=${job.request_id}` }, job.request_id)),
        h('dt', {}, 'Vault'), h('dd', {}, job.vault_id),
        h('dt', {}, 'Replicated item'), h('dd', {}, job.item_id),
        job.new_item_id ? [h('dt', {}, 'New item'), h('dd', {}, job.new_item_id)] : null,
        h('dt', {}, 'ASR job'), h('dd', {}, job.asr_job_id ? `${job.asr_job_id.split('/').pop()} (${job.asr_job_state || '—'})` : '—'),
        h('dt', {}, 'Created'), h('dd', {}, when(job.created_at)),
        h('dt', {}, 'Finished'), h('dd', {}, when(job.finished_at)),
        h('dt', {}, 'Deadline'), h('dd', {}, when(job.deadline_at))),
      progress,
      job.error ? errorSection(job.error) : null,
      h('section', { 'aria-labelledby': 'steps-title' }, h('h2', { id: 'steps-title' }, 'Steps'),
        table('The service\'s steps (latest attempt)', ['Step', 'Started', 'Ended', 'Took'],
          job.steps.map((s) => [status(s.state), when(s.started_at), when(s.ended_at), duration(s.started_at, s.ended_at)]), { id: 'steps' })),
      h('section', { 'aria-labelledby': 'tasks-title' }, h('h2', { id: 'tasks-title' }, 'ASR job tasks'),
        table('Tasks of the Azure Site Recovery job, mirrored', ['Task', 'State', 'Description', 'Started', 'Ended'],
          job.asr_tasks.map((t) => [t.name, t.state, t.state_description, when(t.start_time), when(t.end_time)]), { id: 'asr-tasks' })),
      h('section', { 'aria-labelledby': 'history-title' }, h('h2', { id: 'history-title' }, 'History'),
        table('Every transition', ['Attempt', 'From', 'To', 'At', 'Reason', 'By'],
          job.history.map((t) => [String(t.attempt), t.from_state ? status(t.from_state) : '—', status(t.to_state), when(t.at), t.reason, t.actor]),
          { id: 'history' })),
      Object.keys(job.plan || {}).length ? h('details', {}, h('summary', {}, 'Plan and customisation (as submitted)'),
        h('pre', {}, JSON.stringify({ plan: job.plan, customization: job.customization }, null, 2))) : null);
  }

  load();
  return {
    refresh: load,
    onEvent(change) { if (change.job_id === id) load(); },
    dispose() { disposed = true; clearTimeout(timer); },
  };
}
