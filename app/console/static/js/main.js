// The console's shell: sign-in, the caller's role (GET /me), the hash router, the live stream shared by
// every page, and the polling fallback when the stream is unavailable.

import { api, counters, session } from './api.js';
import { fill, h, problemBox, field } from './dom.js';
import { JobStream } from './stream.js';
import { stopWatchingPipeline, watchPipeline } from './pipeline.js';
import { overviewPage } from './overview.js';
import { jobsPage } from './jobs.js';
import { jobPage } from './job.js';
import { requestsPage } from './requests.js';
import { reprotectPage } from './reprotect.js';
import { campaignsPage } from './campaigns.js';
import { campaignPage } from './campaign.js';
import { campaignNewPage } from './campaign_new.js';
import { entraSignInButton, startEntra, watchExpiry } from './entra.js';

const POLL_MS = 10000;
const main = document.getElementById('main');
const state = { me: null, page: null, mode: 'stopped', stream: null, pollTimer: null };

function canOperate() { return Boolean(state.me && state.me.can_operate); }

function showSignIn(message) {
  document.getElementById('nav').hidden = true;
  document.getElementById('session').hidden = true;
  const input = h('input', { type: 'password', name: 'api-key', autocomplete: 'off', required: true, spellcheck: 'false' });
  const error = h('div', { id: 'sign-in-error' }, message ? problemBox(message) : null);
  const form = h('form', { class: 'card sign-in', 'aria-labelledby': 'sign-in-title' },
    h('h1', { id: 'sign-in-title' }, 'Sign in'),
    h('p', {}, 'Paste an API key (rpk_…). It is kept only in this tab\'s session storage and sent as an Authorization header.'),
    field('API key', input),
    h('button', { type: 'submit' }, 'Sign in'),
    error);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    session.key = input.value.trim();
    input.value = '';
    await start();
  });
  fill(main, form, entraSignInButton());
  input.focus();
}

async function start() {
  try {
    state.me = (await api('/me')).body;
  } catch (error) {
    session.clear();
    showSignIn(error);
    return;
  }
  watchExpiry(); // an Entra ID token's lapse, armed now that a 'signed-out' event is no longer ignored
  document.body.dataset.role = state.me.role || 'none';
  document.getElementById('who').textContent = `${state.me.name} · ${state.me.role || 'no role'}`;
  document.getElementById('nav').hidden = false;
  document.getElementById('session').hidden = false;
  for (const el of document.querySelectorAll('[data-operator]')) el.hidden = !canOperate();
  state.stream = new JobStream(onJobEvent, setMode);
  state.stream.start();
  watchPipeline(); // the header's badge (#pipeline-badge) on every page while jobs will not move
  if (!location.hash.startsWith('#/')) location.hash = '#/overview';
  else route();
}

function signOut(message) {
  if (state.stream) state.stream.stop();
  state.stream = null;
  stopWatchingPipeline();
  if (state.page && state.page.dispose) state.page.dispose();
  state.page = null;
  state.me = null;
  session.clear();
  delete document.body.dataset.role;
  showSignIn(message);
}

function setMode(mode) {
  state.mode = mode;
  const words = { live: '● Live (event stream)', connecting: '◌ Connecting…', polling: '↻ Polling every 10 s', stopped: '' };
  const el = document.getElementById('stream-mode');
  el.textContent = words[mode] || mode;
  el.dataset.mode = mode;
  clearInterval(state.pollTimer);
  if (mode === 'polling') state.pollTimer = setInterval(() => state.page && state.page.refresh && state.page.refresh(), POLL_MS);
}

function onJobEvent(change) {
  document.dispatchEvent(new CustomEvent('job-change', { detail: change }));
  if (state.page && state.page.onEvent) state.page.onEvent(change);
}

const PAGES = {
  overview: () => overviewPage(main, { canOperate: canOperate() }),
  jobs: (params) => jobsPage(main, { params, canOperate: canOperate() }),
  requests: (params) => requestsPage(main, { params }),
  reprotect: () => (canOperate() ? reprotectPage(main, {}) : null),
  campaigns: (params) => campaignsPage(main, { params, canOperate: canOperate() }),
  'new-campaign': () => (canOperate() ? campaignNewPage(main) : null),
};
const ITEM_PAGES = { // #/jobs/{id}, #/campaigns/{id}
  jobs: (params, id) => jobPage(main, { id, canOperate: canOperate() }),
  campaigns: (params, id) => campaignPage(main, { id, canOperate: canOperate() }),
};

function route() {
  if (!state.me) return;
  const hash = location.hash.startsWith('#/') ? location.hash.slice(2) : 'overview';
  const [path, search = ''] = hash.split('?');
  const [name, id] = path.split('/');
  const params = Object.fromEntries(new URLSearchParams(search));
  if (state.page && state.page.dispose) state.page.dispose();
  const pages = id ? ITEM_PAGES : PAGES;
  const make = Object.hasOwn(pages, name) ? pages[name] : null;
  for (const link of document.querySelectorAll('#nav a')) {
    if (link.dataset.route === name) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  state.page = make ? make(params, id ? decodeURIComponent(id) : undefined) : null;
  if (!state.page) fill(main, h('h1', {}, 'Not found'), h('p', {}, 'No such page. ', h('a', { href: '#/overview' }, 'Back to the overview')));
  main.focus({ preventScroll: true });
}

window.addEventListener('hashchange', () => {
  if (location.hash === '#main') return; // the skip link
  route();
});
document.getElementById('skip-link').addEventListener('click', (event) => { event.preventDefault(); main.focus(); });
document.getElementById('sign-out').addEventListener('click', () => signOut());
document.addEventListener('signed-out', (event) => {
  if (state.me) signOut({ problem: event.detail || { title: 'Signed out', detail: 'The API refused the key.' } });
});
document.addEventListener('api-call', () => {
  const minutes = Math.max((Date.now() - counters.since) / 60000, 1); // a rate over at least a minute
  document.getElementById('api-calls').textContent =
    `${counters.calls} API calls since the page loaded (${(counters.calls / minutes).toFixed(1)}/min)`;
});

startEntra().then((problem) => { // Entra ID sign-in where configured, and a return from it
  if (problem) showSignIn(problem);
  else if (session.key) start();
  else showSignIn();
});
