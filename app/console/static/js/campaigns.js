// Campaigns, newest first (GET /campaigns, its state filter kept in the page's address): each one's state and
// the step it is at, refetched every few seconds while one of those shown is still moving.

import { api, query } from './api.js';
import { field, fill, h, problemBox, status, when } from './dom.js';

export const CAMPAIGN_STATES = ['running', 'paused', 'waiting_gate', 'stopped', 'aborting', 'completed', 'aborted'];
export const FINAL_STATES = new Set(['completed', 'aborted']);
const REFRESH_MS = 5000;

/** "failover, wave 2" / "drill" / "—" (a campaign that has ended is at no step). */
export function stepName(phase, wave) {
  if (!phase) return '—';
  return `${phase.replaceAll('_', ' ')}${wave ? `, wave ${wave}` : ''}`;
}

function row(campaign) {
  return h('tr', { dataset: { campaignId: campaign.id } },
    h('td', {}, h('a', { href: `#/campaigns/${campaign.id}` }, campaign.name)),
    h('td', { class: 'state' }, status(campaign.state)),
    h('td', { class: 'step' }, stepName(campaign.phase, campaign.wave)),
    h('td', {}, String(campaign.vm_count)),
    h('td', {}, campaign.created_by || '—'),
    h('td', {}, when(campaign.created_at)));
}

export function campaignsPage(main, { params, canOperate }) {
  const current = CAMPAIGN_STATES.includes(params.state) ? params.state : '';
  const select = h('select', { name: 'state' }, h('option', { value: '' }, 'any'),
    CAMPAIGN_STATES.map((s) => h('option', { value: s, selected: s === current }, s.replaceAll('_', ' '))));
  const form = h('form', { class: 'filters', role: 'search', 'aria-label': 'Filter campaigns' },
    field('State', select),
    h('div', { class: 'field actions' }, h('button', { type: 'submit' }, 'Apply filter'),
      h('a', { href: '#/campaigns', class: 'button secondary' }, 'Clear')));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    location.hash = `#/campaigns${query({ state: select.value })}`;
  });
  const tbody = h('tbody', {});
  const list = h('table', { id: 'campaigns-table' }, h('caption', {}, 'Campaigns, newest first'),
    h('thead', {}, h('tr', {}, ['Name', 'State', 'Step', 'VMs', 'Created by', 'Created'].map((t) => h('th', { scope: 'col' }, t)))),
    tbody);
  const more = h('button', { type: 'button', hidden: true }, 'Load more');
  const message = h('div', { 'aria-live': 'polite' });
  fill(main, h('h1', {}, 'Campaigns'),
    h('p', {}, 'A campaign takes a set of VMs the whole way home: reprotect, drill, drill cleanup, failover in waves, commit, reprotect back, with a gate after each step.'),
    canOperate ? h('p', {}, h('a', { href: '#/new-campaign', class: 'button' }, 'Plan a campaign…')) : null,
    form, message, list, more);
  let cursor = null;
  let shown = [];
  let disposed = false;
  let timer = null;

  async function load(append = false) {
    clearTimeout(timer);
    try {
      const page = (await api(`/campaigns${query({ state: current, limit: 50, cursor: append ? cursor : undefined })}`)).body;
      if (disposed) return;
      shown = append ? [...shown, ...page.items] : page.items;
      tbody.replaceChildren(...(shown.length ? shown.map(row)
        : [h('tr', {}, h('td', { colspan: 6, class: 'empty' }, 'No campaign matches.'))]));
      cursor = page.next_cursor;
      more.hidden = !cursor;
      fill(message);
    } catch (error) {
      if (!disposed) fill(message, problemBox(error));
    }
    // Campaign moves are not on the job stream: while one shown is still moving, look again in a moment.
    clearTimeout(timer);
    if (!disposed && !cursor && shown.some((c) => !FINAL_STATES.has(c.state))) timer = setTimeout(load, REFRESH_MS);
  }
  more.addEventListener('click', () => load(true));

  load();
  return { refresh: () => load(), dispose() { disposed = true; clearTimeout(timer); } };
}
