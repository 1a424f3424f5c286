// The pipeline's health (GET /status): read while signed in, shown as a badge in the header on every page when
// jobs will not move (no worker, no scheduler, the database or broker down), and in full on the overview.
// /status sends no ETag (its body carries the heartbeats' times, new at every beat), so each read is a call:
// every 30 s while healthy, every 10 s while something is wrong (to see it clear), never again after a 403
// (a key of limited scope will not be given the fleet-wide view).

import { api } from './api.js';
import { fill, h, problemBox, when } from './dom.js';

const HEALTHY_MS = 30000;
const UNHEALTHY_MS = 10000;
const ICONS = { ok: '✔', degraded: '⚠', down: '✖', unknown: '?' };

// What the last read found: `report` (the body of /status), `forbidden` (403) or `error` (anything else).
const seen = { report: null, forbidden: false, error: null, at: null };
const listeners = new Set();
let timer = null;
let generation = 0; // a read answered after sign-out (or a restart) is dropped

/** Start reading /status (at sign-in). */
export function watchPipeline() {
  stopWatchingPipeline();
  check(generation);
}

/** Stop reading and forget what was seen (at sign-out). */
export function stopWatchingPipeline() {
  generation += 1;
  clearTimeout(timer);
  Object.assign(seen, { report: null, forbidden: false, error: null, at: null });
  publish();
}

/** Call `listener(seen)` now and after every read; returns the function that stops it. */
export function onPipeline(listener) {
  listeners.add(listener);
  listener(seen);
  return () => listeners.delete(listener);
}

async function check(mine) {
  clearTimeout(timer);
  let found;
  try {
    found = { report: (await api('/status')).body, forbidden: false, error: null };
  } catch (error) {
    found = { report: null, forbidden: error.status === 403, error: error.status === 403 ? null : error };
  }
  if (mine !== generation) return;
  Object.assign(seen, found, { at: new Date() });
  publish();
  if (seen.forbidden) return;
  timer = setTimeout(() => check(mine), level(seen) === 'ok' ? HEALTHY_MS : UNHEALTHY_MS);
}

/** ok | degraded | down (as /status says) | unknown (it could not be read); null before the first read or on a 403. */
export function level({ report, error }) {
  if (report) return report.status;
  return error ? 'unknown' : null;
}

/** What is wrong, in a few words for the badge. */
function summary(report) {
  const checks = report.checks || {};
  const pipeline = report.pipeline || {};
  const words = ['database', 'broker'].filter((name) => checks[name] !== 'ok').map((name) => `${name} unreachable`);
  if (pipeline.workers_alive === 0) {
    const waiting = pipeline.jobs_waiting_without_worker || 0;
    words.push(waiting ? `no worker alive, ${waiting} job(s) waiting` : 'no worker alive');
  }
  if (report.pipeline && !pipeline.scheduler_alive) words.push('no scheduler alive');
  if (checks.azure_identity === 'failing') words.push('Azure identity failing');
  if (pipeline.workers_on_another_broker || pipeline.workers_on_another_database) words.push('workers misconfigured');
  return words.length ? words.join('; ') : (report.problems || []).join('; ');
}

function publish() {
  renderBadge();
  for (const listener of listeners) listener(seen);
}

function renderBadge() {
  const badge = document.getElementById('pipeline-badge');
  if (!badge) return;
  const now = level(seen);
  if (!now || now === 'ok') {
    badge.hidden = true;
    badge.replaceChildren();
    delete badge.dataset.level;
    return;
  }
  const text = now === 'unknown'
    ? `Pipeline health unknown: ${seen.error.message}`
    : `Pipeline ${now}: ${summary(seen.report)}`;
  badge.hidden = false;
  badge.dataset.level = now;
  badge.title = seen.report ? seen.report.problems.join('\n') : text;
  if (badge.textContent !== `${ICONS[now]} ${text}`) { // unchanged words are not announced again
    fill(badge, h('span', { 'aria-hidden': 'true' }, ICONS[now]), ` ${text}`);
  }
}

/** A check's result as an icon and words (never colour alone): `name` ok | degraded | down | unknown. */
function health(name, words) {
  return h('span', { class: `status status-${name}`, dataset: { status: name } },
    h('span', { class: 'status-icon', 'aria-hidden': 'true' }, ICONS[name]), ' ', words);
}

const good = (yes) => (yes ? 'ok' : 'down');

function lastSeen(iso) {
  if (!iso) return h('span', { class: 'hint' }, 'never seen');
  const age = Math.max(0, (Date.now() - new Date(iso).getTime()) / 1000); // never "in 0 s": clocks differ a little
  return h('span', { class: 'hint' }, 'last seen ', h('time', { datetime: iso, title: iso }, age < 2 ? 'just now' : `${seconds(age)} ago`));
}

function seconds(value) {
  if (value === null || value === undefined) return '—';
  return value < 120 ? `${Math.round(value)} s` : `${Math.round(value / 60)} min`;
}

/** The overview's "Pipeline" panel, kept current by every read; `dispose` stops following. */
export function pipelinePanel() {
  const content = h('div', {}, h('p', {}, 'Checking…'));
  const section = h('section', { 'aria-labelledby': 'pipeline-title', class: 'card', id: 'pipeline' },
    h('h2', { id: 'pipeline-title' }, 'Pipeline'), content);
  return { section, dispose: onPipeline((found) => render(content, found)) };
}

const OVERALL = { ok: 'ok: jobs move', degraded: 'degraded: jobs will not move', down: 'down' };

/** A tile: a label and its value (and an optional line under it). */
function tile(label, attrs, value, under) {
  return h('div', { class: 'tile' }, h('dt', {}, label), h('dd', attrs, value), under ? h('dd', {}, under) : null);
}

function jobFigures(p) {
  if (!p) return h('p', {}, 'Jobs: unknown while the database is unreachable.');
  const stuck = p.jobs_waiting_without_worker;
  return h('dl', { class: 'tiles compact', id: 'pipeline-jobs' },
    tile('Accepted, not yet picked up', { dataset: { figure: 'jobs_accepted' } }, String(p.jobs_accepted)),
    tile('Due now, queued for a worker', { dataset: { figure: 'jobs_waiting' } }, String(p.jobs_waiting)),
    tile('Oldest due job has waited', { dataset: { figure: 'oldest_due_job_age' } }, seconds(p.oldest_due_job_age_seconds)),
    tile('Waiting with no worker alive', { dataset: { figure: 'jobs_waiting_without_worker' } },
      stuck ? health('down', `${stuck} job(s)`) : '0'),
    p.workers_on_another_broker ? tile('Workers on another broker', {},
      health('down', `${p.workers_on_another_broker}: they take none of its jobs`)) : null,
    p.workers_on_another_database ? tile('Workers on another database', {},
      health('down', `${p.workers_on_another_database}: they find none of its jobs`)) : null);
}

function render(content, { report, forbidden, error, at }) {
  if (forbidden) {
    fill(content, h('p', { class: 'note', role: 'note', id: 'pipeline-restricted' },
      h('span', { 'aria-hidden': 'true' }, 'ⓘ '),
      'Pipeline health needs an unrestricted key: it is fleet-wide, and this key sees only part of the fleet.'));
    return;
  }
  if (error) {
    fill(content, problemBox(error), h('p', { class: 'hint' }, 'Tried ', when(at.toISOString()), '; trying again every 10 s.'));
    return;
  }
  if (!report) { fill(content, h('p', {}, 'Checking…')); return; }
  const checks = report.checks || {};
  const p = report.pipeline;
  const identity = report.azure_identity;
  const reach = (name) => health(good(checks[name] === 'ok'), checks[name] === 'ok' ? 'reachable' : 'unreachable');
  fill(content,
    h('dl', { class: 'tiles compact', id: 'pipeline-checks' },
      tile('Overall', { dataset: { check: 'overall' } }, health(report.status, OVERALL[report.status] || report.status)),
      tile('Database', { dataset: { check: 'database' } }, reach('database')),
      tile('Broker', { dataset: { check: 'broker' } }, reach('broker')),
      tile('Workers', { dataset: { figure: 'workers_alive' } }, p
        ? health(good(p.workers_alive > 0), p.workers_alive > 0 ? `${p.workers_alive} alive` : 'none alive')
        : '—', p ? lastSeen(p.worker_last_seen) : null),
      tile('Scheduler', { dataset: { figure: 'scheduler_alive' } }, p
        ? health(good(p.scheduler_alive), p.scheduler_alive ? 'alive' : 'not alive')
        : '—', p ? lastSeen(p.scheduler_last_seen) : null),
      tile('Azure identity', { dataset: { check: 'azure_identity' } }, identity
        ? health(good(identity.status === 'ok'), identity.status === 'ok' ? 'signs in' : `failing: ${identity.detail}`)
        : 'not checked by this API')),
    jobFigures(p),
    report.problems.length
      ? [h('h3', {}, 'Problems'), h('ul', { id: 'pipeline-problems' }, report.problems.map((text) => h('li', {}, text)))]
      : h('p', { id: 'pipeline-problems' }, 'No problem found.'),
    h('p', { class: 'hint' }, 'Checked ', when(at.toISOString()),
      report.status === 'ok' ? ' · every 30 s' : ' · every 10 s while something is wrong'));
}
