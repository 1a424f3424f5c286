// Sign-in with Microsoft Entra ID, where the service configures it (GET config.json): the OAuth 2.0
// authorization code flow with PKCE (S256) for a public client, no library. The browser goes to the
// authority and comes back here with #code=&state= (response_mode=fragment: a fragment is never sent to a
// server, so the code stays out of the API's and any proxy's access log); the code is redeemed at the authority's token endpoint
// (Entra answers CORS for single-page-application redirect URIs) and the access token is kept exactly where
// an API key is (session.key), so every call sends it as Bearer unchanged. It is never put in a URL or
// logged; the tab signs out when it expires.

import { session } from './api.js';
import { h } from './dom.js';

const PENDING = 'reprotect.console.entra.pending'; // {state, verifier, hash} while the browser is away
let config = null; // {client_id, authority, scope, redirect_path} or null: API keys only
let expiryTimer = null;

class SignInError extends Error {
  constructor(detail, code) {
    super(detail);
    this.problem = { title: 'Microsoft Entra ID sign-in failed', detail, code };
  }
}

function base64url(bytes) {
  let text = '';
  for (const byte of new Uint8Array(bytes)) text += String.fromCharCode(byte);
  return btoa(text).replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '');
}

function randomText(size) {
  return base64url(crypto.getRandomValues(new Uint8Array(size)));
}

async function challengeOf(verifier) {
  return base64url(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier)));
}

function redirectUri() { return new URL(config.redirect_path, location.origin).href; }

function endpoint(name) { return `${config.authority}/oauth2/v2.0/${name}`; }

/** Leave for the authority; it sends the browser back here with a code and our state. */
export async function signInWithEntra() {
  const verifier = randomText(32); // 43 characters, as RFC 7636 asks at least
  const state = randomText(16);
  sessionStorage.setItem(PENDING, JSON.stringify({ state, verifier, hash: location.hash }));
  const authorize = new URL(endpoint('authorize'));
  authorize.search = new URLSearchParams({
    client_id: config.client_id,
    response_type: 'code',
    redirect_uri: redirectUri(),
    response_mode: 'fragment',
    scope: config.scope,
    state,
    code_challenge: await challengeOf(verifier),
    code_challenge_method: 'S256',
  }).toString();
  location.assign(authorize.href);
}

/** The button the sign-in form shows, or null where Entra ID is not configured. */
export function entraSignInButton() {
  if (!config) return null;
  return h('div', { class: 'card sign-in', id: 'entra-sign-in' },
    h('p', {}, 'Or sign in with your organisation\'s account; your roles come from the API\'s app roles.'),
    h('button', { type: 'button', id: 'entra-sign-in-button', onclick: () => signInWithEntra() },
      'Sign in with Microsoft Entra ID'));
}

/** The token endpoint's answer for the code we came back with. */
async function redeem(code, verifier) {
  const form = new URLSearchParams({
    client_id: config.client_id,
    grant_type: 'authorization_code',
    code,
    redirect_uri: redirectUri(),
    code_verifier: verifier,
    scope: config.scope,
  });
  let answer;
  try {
    answer = await fetch(endpoint('token'), {
      method: 'POST', body: form, credentials: 'omit', cache: 'no-store', redirect: 'error',
    });
  } catch (error) {
    throw new SignInError(`The sign-in service cannot be reached (${error.message || error}).`, 'authority_unreachable');
  }
  let body = {};
  try { body = await answer.json(); } catch { body = {}; }
  if (!answer.ok || typeof body.access_token !== 'string') {
    throw new SignInError(body.error_description || `The token request was refused (HTTP ${answer.status}).`, body.error || 'token_refused');
  }
  return body;
}

/** What the authority sent back (#code=&state= or #error=; a query too, should one ever come), or null. */
function authorityAnswer() {
  for (const text of [location.hash.startsWith('#/') ? '' : location.hash.slice(1), location.search.slice(1)]) {
    const params = new URLSearchParams(text);
    if (params.has('state') || params.has('code') || params.has('error')) return params;
  }
  return null;
}

/** Finish a sign-in the authority sent us back from; true when signed in. */
async function completeSignIn() {
  const params = authorityAnswer();
  if (!params) return false;
  const pending = JSON.parse(sessionStorage.getItem(PENDING) || 'null');
  sessionStorage.removeItem(PENDING); // one use, whatever happens
  // The code must not stay in the address (history, bookmarks, a shared screen): back to the page as it was
  // (or to the route the address names, when no sign-in of this tab is pending).
  const route = location.hash.startsWith('#/') ? location.hash : '';
  history.replaceState(null, '', `${location.pathname}${pending ? pending.hash || '' : route}`);
  // No sign-in of this tab is pending: a link anyone could have written (#error=…&error_description=<their text>,
  // a stolen or stale code). It must neither sign the tab out nor put its text on the page: ignored.
  if (!pending) return false;
  if (!config) {
    throw new SignInError('The console could not read its sign-in settings (config.json); nothing was accepted. Sign in again.', 'config_unavailable');
  }
  // The state first, for an error answer too (the authority echoes it): a link of someone else's, met while a
  // sign-in of this tab was left pending, never puts its text on the page.
  if (!params.get('state') || params.get('state') !== pending.state) {
    throw new SignInError('The answer from the sign-in service does not match the sign-in this tab started; nothing was accepted. Sign in again.', 'state_mismatch');
  }
  if (params.has('error')) {
    throw new SignInError(params.get('error_description') || params.get('error'), params.get('error'));
  }
  const token = await redeem(params.get('code') || '', pending.verifier);
  session.key = token.access_token;
  session.expiresAt = Date.now() + Math.max(Number(token.expires_in) || 0, 0) * 1000;
  return true;
}

function expired() {
  return { problem: { title: 'Signed out', detail: 'Your Microsoft Entra ID sign-in expired. Sign in again.', code: 'token_expired' } };
}

/**
 * Sign the tab out when the token's lifetime ends (main.js listens for 'signed-out', and ignores it until /me has
 * answered: so main.js arms this once signed in, and a timer that fired before then is armed again and fires at
 * once). Nothing for an API key, which has no lifetime here.
 */
export function watchExpiry() {
  clearTimeout(expiryTimer);
  const at = session.expiresAt;
  if (!at) return;
  expiryTimer = setTimeout(() => {
    if (session.expiresAt && Date.now() >= session.expiresAt) {
      document.dispatchEvent(new CustomEvent('signed-out', { detail: expired().problem }));
    } else {
      watchExpiry(); // signed in again meanwhile, or woken early
    }
  }, Math.min(Math.max(at - Date.now(), 0), 2 ** 31 - 1));
}

/**
 * Read the sign-in configuration and finish a return from the authority. Answers null when the console
 * may go on (signed in or not), or the problem to show on the sign-in form.
 */
export async function startEntra() {
  try {
    const answer = await fetch('config.json', { credentials: 'omit', cache: 'no-store', redirect: 'error' });
    config = answer.ok ? (await answer.json()).entra || null : null;
  } catch {
    config = null;
  }
  try {
    await completeSignIn(); // also without the settings: the code and state still leave the address
  } catch (error) {
    session.clear();
    return error;
  }
  if (session.expiresAt && Date.now() >= session.expiresAt) {
    session.clear();
    return expired();
  }
  return null;
}
