// An operator's controls on one campaign: approve the gate it waits at (a reason is required), pause, resume,
// abort (a reason and a confirmation), retry one VM. Each is one POST; a refusal shows the API's problem
// (RFC 9457: title, code, detail, and the VMs Azure refused). Readers never get these controls.

import { api } from './api.js';
import { field, fill, h, problemBox, status } from './dom.js';

/** Which controls a campaign in `state` offers (the API's rules in app/campaign/service.py). */
export function available(state) {
  return {
    running: ['pause', 'abort'],
    waiting_gate: ['approve', 'pause', 'abort'],
    paused: ['resume', 'abort'],
    stopped: ['resume', 'abort'],
  }[state] || [];
}

/** May `vm`'s failed or refused job in the campaign's current step be run again (not while paused, at a gate or
 *  aborting)? */
export function retriable(campaign, vm) {
  if (!['running', 'stopped'].includes(campaign.state) || !campaign.phase) return false;
  const phase = vm.phases[campaign.phase];
  return Boolean(phase) && ['failed', 'cancelled', 'refused'].includes(phase.state);
}

const DONE = { approve: 'Gate approved', pause: 'Paused', resume: 'Resumed', abort: 'Abort accepted', retry: 'Retry accepted' };

/** The toolbar (redrawn only when the choice of controls changes, so focus stays put) and the panel where
 *  forms and outcomes appear. `changed(campaign)` receives the campaign each successful action answers;
 *  `reload()` fetches it again after a refusal. */
export function campaignControls({ path, changed, reload }) {
  const toolbar = h('div', { class: 'toolbar', role: 'group', 'aria-label': 'Campaign actions', id: 'campaign-actions' });
  const panel = h('div', { id: 'action-result', 'aria-live': 'polite' });
  let shown = null;
  let campaign = null;

  async function act(verb, body, subject = '') {
    try {
      const answer = await api(`${path}/${verb}`, { method: 'POST', body });
      campaign = answer.body;
      fill(panel, h('p', { role: 'status', id: 'action-done' }, `✔ ${DONE[verb]}${subject}: the campaign is `, status(campaign.state), '.'));
      changed(campaign);
    } catch (error) {
      // A refusal may come from a campaign that moved meanwhile: show it as it stands now, beside the problem.
      fill(panel, problemBox(error), error.status === 409 ? h('p', { class: 'hint' }, 'The campaign below is shown as it stands now; look at it before trying again.') : null);
      reload();
    }
  }

  /** A form asking why (required), with a confirming submit button and a way back. */
  function reasonForm({ verb, title, warning, submit, danger }) {
    const reason = h('textarea', { name: 'reason', rows: 3, cols: 60, required: true, maxlength: 1000, id: `${verb}-reason` });
    const send = h('button', { type: 'submit', class: danger ? 'danger' : null }, submit);
    const form = h('form', { class: 'card', 'aria-labelledby': `${verb}-title`, id: `${verb}-form` },
      h('h2', { id: `${verb}-title` }, title),
      warning ? h('p', { class: 'warning', role: 'note' }, '⚠ ', warning) : null,
      field('Reason (required)', reason, 'Kept with the campaign: who decided, and why.'),
      h('div', { class: 'toolbar' }, send,
        h('button', { type: 'button', class: 'secondary', onclick: () => fill(panel) }, 'Back')));
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      const text = reason.value.trim();
      if (!text) { reason.setCustomValidity('Give a reason.'); reason.reportValidity(); return; }
      send.disabled = true;
      await act(verb, { reason: text });
    });
    reason.addEventListener('input', () => reason.setCustomValidity(''));
    fill(panel, form);
    reason.focus();
  }

  const CONTROLS = {
    approve: () => h('button', { type: 'button', id: 'approve-gate', onclick: () => reasonForm({
      verb: 'approve', title: `Approve the gate after ${campaign.phase.replaceAll('_', ' ')}`,
      submit: 'Approve the gate' }) }, 'Approve gate…'),
    pause: () => h('button', { type: 'button', class: 'secondary', id: 'pause-campaign', onclick: () => act('pause') }, 'Pause'),
    resume: () => h('button', { type: 'button', id: 'resume-campaign', onclick: () => act('resume') }, 'Resume'),
    abort: () => h('button', { type: 'button', class: 'danger', id: 'abort-campaign', onclick: () => reasonForm({
      verb: 'abort', title: `Abort campaign ${campaign.name}?`, danger: true, submit: 'Yes, abort this campaign',
      warning: 'Operations Azure runs now finish; a started drill is cleaned up; no failover or commit starts any more. It cannot be undone.' }) },
    'Abort campaign…'),
  };

  return {
    toolbar,
    panel,
    update(latest) {
      campaign = latest;
      const choice = available(latest.state);
      if (choice.join() === shown) return;
      shown = choice.join();
      fill(toolbar, choice.map((name) => CONTROLS[name]()));
      toolbar.hidden = !choice.length;
    },
    retry(vm) { return act('retry', { vm_name: vm.vm_name, vault_id: vm.vault_id }, ` for ${vm.vm_name}`); },
  };
}
