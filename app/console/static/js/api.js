// The API client: the key from this tab's sessionStorage in an Authorization header (never in a URL),
// RFC 9457 problems as ApiError, ETag revalidation where the API offers it, and a count of calls made.

const KEY = 'reprotect.console.key';
const EXPIRES = 'reprotect.console.key.expires'; // when an Entra ID token lapses (ms since the epoch; entra.js)
const cache = new Map(); // path -> {etag, body}: answers we may revalidate with If-None-Match
export const counters = { calls: 0, since: Date.now() };

export const session = {
  get key() { return sessionStorage.getItem(KEY); },
  set key(value) { sessionStorage.setItem(KEY, value); sessionStorage.removeItem(EXPIRES); },
  get expiresAt() { return Number(sessionStorage.getItem(EXPIRES)) || null; },
  set expiresAt(ms) { sessionStorage.setItem(EXPIRES, String(ms)); },
  clear() { sessionStorage.removeItem(KEY); sessionStorage.removeItem(EXPIRES); cache.clear(); },
};

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem && (problem.detail || problem.title) ? (problem.detail || problem.title) : `HTTP ${status}`);
    this.status = status;
    this.problem = problem || { title: `HTTP ${status}`, status };
  }
}

/** Headers every call carries. */
export function authHeaders(extra = {}) {
  return { Accept: 'application/json', Authorization: `Bearer ${session.key || ''}`, ...extra };
}

function counted() {
  counters.calls += 1;
  document.dispatchEvent(new CustomEvent('api-call', { detail: counters.calls }));
}

/** One call; JSON in and out. `revalidate`: send If-None-Match and answer the cached body on 304. */
export async function api(path, { method = 'GET', body, headers = {}, revalidate = false, signal } = {}) {
  const sent = authHeaders(headers);
  const cached = revalidate ? cache.get(path) : undefined;
  if (cached) sent['If-None-Match'] = cached.etag;
  if (body !== undefined) sent['Content-Type'] = 'application/json';
  counted();
  let answer;
  try {
    answer = await fetch(path, {
      method, headers: sent, body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'omit', cache: 'no-store', redirect: 'error', signal,
    });
  } catch (error) {
    if (error.name === 'AbortError') throw error;
    throw new ApiError(0, { title: 'The API cannot be reached', detail: String(error.message || error) });
  }
  if (answer.status === 304 && cached) return { status: 304, body: cached.body, changed: false, headers: answer.headers };
  const text = await answer.text();
  let parsed = null;
  try { parsed = text ? JSON.parse(text) : null; } catch { parsed = { title: text.slice(0, 200) }; }
  if (!answer.ok) {
    if (answer.status === 401) document.dispatchEvent(new CustomEvent('signed-out', { detail: parsed }));
    throw new ApiError(answer.status, parsed);
  }
  const etag = answer.headers.get('ETag');
  if (revalidate && etag) cache.set(path, { etag, body: parsed });
  return { status: answer.status, body: parsed, changed: true, headers: answer.headers };
}

/** A query string from an object, skipping empty values (arrays repeat the parameter). */
export function query(params) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params || {})) {
    if (value === undefined || value === null || value === '') continue;
    for (const one of Array.isArray(value) ? value : [value]) search.append(name, one);
  }
  const text = search.toString();
  return text ? `?${text}` : '';
}

/** A fresh Idempotency-Key for a submission (a retried click never submits twice). */
export function idempotencyKey() {
  return crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random().toString(16).slice(2)}`;
}
