// Plan a campaign (operators): choose VMs and their failover waves, the drill's test network and gate, run a
// dry run (POST /campaigns?dry_run=true: the steps, gates, estimates and what Azure would refuse now), then
// create it (POST /campaigns) and open its page.

import { api, query } from './api.js';
import { field, fill, h, problemBox, status, table } from './dom.js';
import { stepName } from './campaigns.js';

function minutes(seconds) {
  return seconds < 120 ? `${Math.round(seconds)} s` : `${Math.round(seconds / 60)} min`;
}

export function campaignNewPage(main) {
  const picker = h('div', { 'aria-busy': 'true' }, h('p', {}, 'Loading the VMs…'));
  const review = h('div', { 'aria-live': 'polite', id: 'campaign-review' });
  const inputs = {
    name: h('input', { name: 'campaign-name', required: true, maxlength: 200, size: 40 }),
    drill: h('input', { type: 'checkbox', name: 'drill', checked: true, id: 'campaign-drill' }),
    region: h('input', { name: 'test-network-region', value: 'eastasia' }),
    network: h('input', { name: 'test-network-id', size: 80 }),
    approval: h('select', { name: 'drill-approval' }, h('option', { value: 'manual' }, 'manual: an operator approves'),
      h('option', { value: 'auto' }, 'auto: the test VMs are up')),
  };
  fill(main, h('p', {}, h('a', { href: '#/campaigns' }, '← Campaigns')), h('h1', {}, 'Plan a campaign'),
    h('p', {}, 'Choose VMs and their failover waves, run a dry run to review the plan, then create it.'), picker, review);
  let disposed = false;
  let vms = [];

  function body() {
    const chosen = vms.map((vm, index) => ({ vm, box: picker.querySelector(`#cvm-${index}`), wave: picker.querySelector(`#cwave-${index}`) }))
      .filter((c) => c.box.checked)
      .map((c) => ({ vault_id: c.vm.vault_id, vm_name: c.vm.vm_name, wave: Number(c.wave.value) || 1 }));
    const drill = inputs.drill.checked;
    return { name: inputs.name.value.trim(), vms: chosen, drill, drill_approval: inputs.approval.value,
      test_networks: drill ? { [inputs.region.value.trim()]: inputs.network.value.trim() } : {} };
  }

  function render() {
    picker.removeAttribute('aria-busy');
    const rows = vms.map((vm, index) => h('li', { class: 'check' },
      h('input', { type: 'checkbox', id: `cvm-${index}`, value: vm.vm_name }),
      h('label', { for: `cvm-${index}` }, `${vm.vm_name} — ${vm.vault_id.split('/').pop()}, runs in ${vm.source_region} `, status(vm.reprotect_status)),
      h('input', { type: 'number', id: `cwave-${index}`, min: 1, max: 20, value: 1, 'aria-label': `Wave of ${vm.vm_name}` })));
    const form = h('form', { 'aria-label': 'New campaign' },
      field('Name', inputs.name),
      h('fieldset', {}, h('legend', {}, `VMs (${vms.length}${vms.length === 100 ? ', the first 100' : ''}) and their failover wave (1 goes first)`),
        h('ul', { class: 'checklist' }, rows)),
      h('fieldset', {}, h('legend', {}, 'Drill'),
        h('div', { class: 'check' }, inputs.drill, h('label', { for: 'campaign-drill' }, 'Run a test failover (and its cleanup) before failing over')),
        field('Region the VMs run in once home', inputs.region),
        field('Isolated test network there (virtual network id)', inputs.network),
        field('Gate after the drill', inputs.approval)),
      h('button', { type: 'submit', id: 'campaign-dry-run' }, 'Dry run: review the plan'));
    form.addEventListener('submit', (event) => { event.preventDefault(); dryRun(body()); });
    fill(picker, form);
  }

  async function dryRun(chosen) {
    if (!chosen.vms.length) { fill(review, h('p', { role: 'alert' }, '⚠ Choose at least one VM.')); return; }
    fill(review, h('p', {}, 'Planning…'));
    try {
      const plan = (await api('/campaigns?dry_run=true', { method: 'POST', body: chosen })).body;
      const create = h('button', { type: 'button', id: 'create-campaign' }, `Create campaign over ${plan.vm_count} VM(s)`);
      create.addEventListener('click', () => send(chosen, create));
      fill(review, h('h2', { tabindex: '-1', id: 'campaign-plan-title' }, `Plan: ${plan.vm_count} VM(s), about ${minutes(plan.estimated_seconds)}`),
        table('Steps in order', ['Step', 'VMs', 'Skipped', 'Gate', 'Estimated'], plan.steps.map((s) => [stepName(s.phase, s.wave),
          s.vms.join(', ') || '—', Object.entries(s.skipped).map(([vm, why]) => `${vm}: ${why}`).join('; ') || '—',
          s.gate, minutes(s.estimated_seconds)]), { id: 'campaign-plan' }),
        plan.refused.length ? table('Refused now (the campaign would stop at that step)', ['VM', 'Step', 'Code', 'Why'],
          plan.refused.map((r) => [r.vm, r.phase, r.code, r.message]), { id: 'campaign-plan-refused' }) : h('p', {}, '✔ Nothing refused now.'),
        h('div', { class: 'toolbar' }, create, h('button', { type: 'button', class: 'secondary', onclick: () => fill(review) }, 'Back')));
      review.querySelector('#campaign-plan-title').focus();
    } catch (error) {
      fill(review, problemBox(error));
    }
  }

  async function send(chosen, button) {
    button.disabled = true;
    try {
      const created = (await api('/campaigns', { method: 'POST', body: chosen })).body;
      location.hash = `#/campaigns/${created.id}`;
    } catch (error) {
      button.disabled = false;
      fill(review, problemBox(error));
    }
  }

  (async () => {
    try {
      vms = (await api(`/vms${query({ limit: 100 })}`)).body.items;
      if (!disposed) render();
    } catch (error) {
      if (!disposed) fill(picker, problemBox(error));
    }
  })();
  return { refresh() {}, dispose() { disposed = true; } };
}
