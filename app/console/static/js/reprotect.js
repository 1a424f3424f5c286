// Submit a reprotect as the portal does: pick VMs that need it (GET /vms?status=needs_reprotect), dry run
// (POST /reprotect?dry_run=true) to review the plan, where "(new)" marks what Azure will create, then submit
// (POST /reprotect with an Idempotency-Key) and follow the request's jobs.

import { api, idempotencyKey, query } from './api.js';
import { field, fill, h, problemBox, status, table } from './dom.js';

/** A plan artifact as the portal's review blade shows it: its name, and "(new)" when it will be created. */
function artifact(resolved) {
  if (!resolved) return '—';
  const name = resolved.name || (resolved.id ? resolved.id.split('/').pop() : '—');
  return h('span', { class: `artifact artifact-${resolved.status}` }, name,
    resolved.status === 'new' ? h('strong', { class: 'new-marker' }, ' (new)') : null,
    resolved.status === 'fixed' ? h('span', { class: 'hint' }, ' (cannot change)') : null);
}

function planCard(plan) {
  return h('article', { class: 'card plan', dataset: { vm: plan.vm } },
    h('h3', {}, plan.vm),
    h('p', {}, `Direction: ${plan.direction.source_location} → ${plan.direction.target_location}`,
      ` · estimated ${Math.round(plan.estimated_seconds / 60)} min`),
    h('dl', { class: 'pairs' },
      h('dt', {}, 'Target resource group'), h('dd', {}, artifact(plan.target_resource_group)),
      h('dt', {}, 'Network'), h('dd', {}, artifact(plan.network)),
      h('dt', {}, 'Cache storage account'), h('dd', {}, artifact(plan.cache_storage_account)),
      h('dt', {}, 'Availability set'), h('dd', {}, artifact(plan.availability_set)),
      h('dt', {}, 'Proximity placement group'), h('dd', {}, artifact(plan.proximity_placement_group)),
      plan.target_region ? [h('dt', {}, 'Target region'), h('dd', {}, plan.target_region.location,
        plan.target_region.resource_health ? ` (Resource Health: ${plan.target_region.resource_health.verdict})` : '')] : null),
    table(`Disks of ${plan.vm}`, ['Disk', 'Size', 'Target disk', 'Type'],
      plan.disks.map((d) => [d.name, `${d.size_gb} GiB`, artifact({ id: d.target_disk_id, status: d.status }), d.target_disk_type || '—'])));
}

export function reprotectPage(main) {
  const picker = h('div', { 'aria-busy': 'true' }, h('p', {}, 'Loading the VMs that need reprotect…'));
  const review = h('div', { 'aria-live': 'polite', id: 'review' });
  const bySelector = h('section', { class: 'card', 'aria-labelledby': 'selector-title' });
  fill(main, h('h1', {}, 'Reprotect'),
    h('p', {}, 'Choose VMs, run a dry run to review the plan (Azure creates what is marked (new)), then submit.'),
    picker, review, bySelector);
  selectorForm(bySelector);
  let disposed = false;
  let vms = [];

  async function load() {
    try {
      vms = (await api(`/vms${query({ status: 'needs_reprotect', limit: 100 })}`)).body.items;
      if (disposed) return;
      renderPicker();
    } catch (error) {
      if (!disposed) fill(picker, problemBox(error));
    }
  }

  function renderPicker() {
    picker.removeAttribute('aria-busy');
    if (!vms.length) { fill(picker, h('p', {}, '✔ No VM needs reprotect right now.')); return; }
    const boxes = vms.map((vm, index) => h('input', { type: 'checkbox', id: `vm-${index}`, value: vm.item_id, name: 'vm' }));
    const all = h('input', { type: 'checkbox', id: 'vm-all' });
    all.addEventListener('change', () => { for (const box of boxes) box.checked = all.checked; });
    const form = h('form', { 'aria-label': 'VMs to reprotect' },
      h('fieldset', {}, h('legend', {}, `VMs that need reprotect (${vms.length}${vms.length === 100 ? ', the first 100' : ''})`),
        h('div', { class: 'check' }, all, h('label', { for: 'vm-all' }, 'Select all')),
        h('ul', { class: 'checklist' }, vms.map((vm, index) => h('li', { class: 'check' }, boxes[index],
          h('label', { for: `vm-${index}` }, `${vm.vm_name} — ${vm.vault_id.split('/').pop()}, ${vm.source_region} → ${vm.target_region}`))))),
      h('button', { type: 'submit', id: 'dry-run' }, 'Dry run: review the plan'));
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      const chosen = boxes.filter((b) => b.checked).map((b) => ({ item_id: b.value }));
      if (!chosen.length) { fill(review, h('p', { role: 'alert' }, '⚠ Choose at least one VM.')); return; }
      dryRun(chosen);
    });
    fill(picker, form);
  }

  async function dryRun(chosen) {
    fill(review, h('p', {}, `Planning ${chosen.length} VM(s)…`));
    try {
      const plan = (await api('/reprotect?dry_run=true', { method: 'POST', body: { vms: chosen } })).body;
      const submit = h('button', { type: 'button', id: 'submit-reprotect' }, `Submit reprotect of ${plan.plans.length} VM(s)`);
      submit.addEventListener('click', () => send(chosen, submit));
      fill(review, h('h2', { tabindex: '-1', id: 'plan-title' }, `Plan for ${plan.plans.length} VM(s)`),
        plan.plans.map(planCard),
        h('div', { class: 'toolbar' }, submit, h('button', { type: 'button', class: 'secondary', onclick: () => fill(review) }, 'Back')));
      review.querySelector('#plan-title').focus();
    } catch (error) {
      fill(review, problemBox(error));
    }
  }

  async function send(chosen, button) {
    button.disabled = true;
    try {
      const accepted = (await api('/reprotect', { method: 'POST', body: { vms: chosen }, headers: { 'Idempotency-Key': idempotencyKey() } })).body;
      fill(review, h('p', { role: 'status', id: 'submitted' }, `✔ Accepted: request ${accepted.request_id} with ${accepted.jobs.length} job(s). `,
        h('a', { href: `#/jobs?request_id=${accepted.request_id}` }, 'Follow its jobs')));
    } catch (error) {
      button.disabled = false;
      fill(review, problemBox(error));
    }
  }

  load();
  return { refresh() {}, dispose() { disposed = true; } };
}

/** Every VM a selector names (GET /vms's filters), in requests of 100: dry run for the count, then confirm. */
function selectorForm(section) {
  const inputs = {
    vault_ids: h('input', { name: 'selector-vault', size: 50 }),
    subscription_ids: h('input', { name: 'selector-subscription' }),
    source_region: h('input', { name: 'selector-source-region', placeholder: 'southeastasia' }),
    resource_group: h('input', { name: 'selector-resource-group' }),
    name_prefix: h('input', { name: 'selector-name-prefix' }),
  };
  const result = h('div', { 'aria-live': 'polite', id: 'selector-result' });
  const form = h('form', { class: 'filters', 'aria-label': 'Reprotect by selector' },
    field('Vault id', inputs.vault_ids), field('VM subscription', inputs.subscription_ids),
    field('Runs now in region', inputs.source_region), field('Resource group', inputs.resource_group),
    field('VM name starts with', inputs.name_prefix),
    h('div', { class: 'field actions' }, h('button', { type: 'submit', id: 'selector-dry-run' }, 'Dry run: count the VMs')));
  const selector = () => {
    const chosen = { status: 'needs_reprotect' };
    for (const [name, input] of Object.entries(inputs)) {
      const value = input.value.trim();
      if (value) chosen[name] = name.endsWith('_ids') ? [value] : value;
    }
    return chosen;
  };
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const chosen = selector();
    fill(result, h('p', {}, 'Resolving…'));
    try {
      const out = (await api('/reprotect?dry_run=true', { method: 'POST', body: { selector: chosen } })).body;
      const accepted = out.matched - out.refused.length;
      const confirm = h('button', { type: 'button', id: 'selector-submit', disabled: accepted <= 0 },
        `Confirm: reprotect ${accepted} VM(s)`);
      confirm.addEventListener('click', async () => {
        confirm.disabled = true;
        try {
          const done = (await api('/reprotect', { method: 'POST', body: { selector: chosen }, headers: { 'Idempotency-Key': idempotencyKey() } })).body;
          fill(result, h('p', { role: 'status' }, `✔ Accepted in ${done.requests.length} request(s): `,
            done.requests.map((r, i) => [i ? ', ' : '', h('a', { href: `#/jobs?request_id=${r.request_id}` }, `${r.vm_count} VM(s)`)])),
          done.refused.length ? h('p', {}, `${done.refused.length} refused.`) : null);
        } catch (error) {
          confirm.disabled = false;
          fill(result, problemBox(error));
        }
      });
      fill(result,
        h('p', { role: 'status' }, `Dry run: ${out.matched} VM(s) match; ${accepted} would be reprotected`,
          out.refused.length ? `, ${out.refused.length} refused.` : '.', out.partial ? ' ⚠ Some vaults could not be read.' : ''),
        out.refused.length ? table('Refused', ['VM', 'Code', 'Why'], out.refused.map((r) => [r.vm, r.code, r.message])) : null,
        table('Matched VMs (the first 50)', ['VM', 'Vault', 'Status'],
          out.vms.slice(0, 50).map((vm) => [vm.vm_name, vm.vault_id.split('/').pop(), status(vm.reprotect_status)])),
        h('div', { class: 'toolbar' }, confirm, h('button', { type: 'button', class: 'secondary', onclick: () => fill(result) }, 'Back')));
      confirm.focus();
    } catch (error) {
      fill(result, problemBox(error));
    }
  });
  fill(section, h('h2', { id: 'selector-title' }, 'Or every VM that needs reprotect, by selector'),
    h('p', {}, 'Leave a field empty to not filter by it; the VMs are sent in requests of 100.'), form, result);
}
