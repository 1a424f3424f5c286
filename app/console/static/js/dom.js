// Building the page without markup strings: every text goes through textContent, so nothing the API
// returns can ever become script or style (the CSP forbids inline ones anyway).

/** An element: h('a', {href: '#/jobs', class: 'x', onclick: fn}, 'text', child, ...). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') {
      el.addEventListener(name.slice(2), value);
    } else if (name === 'dataset') {
      Object.assign(el.dataset, value);
    } else if (value === true) {
      el.setAttribute(name, '');
    } else {
      el.setAttribute(name, String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replace everything inside `el` with `children`. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

const ICONS = {
  accepted: '○', validating: '◔', submitting: '◑', reprotecting: '◕', syncing: '⟳',
  protected: '✔', failed: '✖', cancelled: '⊘',
  needs_reprotect: '▲', not_eligible: '⚠', in_progress: '⟳',
  // campaigns, their steps and gates, and a VM's place in a step
  running: '⟳', paused: '⏸', waiting_gate: '✋', stopped: '■', aborting: '⊘', completed: '✔', aborted: '⊘',
  pending: '○', done: '✔', passed: '✔', refused: '⊗', skipped: '↷',
};

/** A status as an icon AND its words (never colour alone); the colour class only adds to them. */
export function status(name) {
  const text = String(name || 'unknown');
  return h('span', { class: `status status-${text}`, dataset: { status: text } },
    h('span', { class: 'status-icon', 'aria-hidden': 'true' }, ICONS[text] || '•'), ' ', text.replaceAll('_', ' '));
}

/** A date-time as local text, in a <time> with the exact value. */
export function when(iso) {
  if (!iso) return '—';
  const date = new Date(iso);
  return h('time', { datetime: iso, title: iso }, date.toLocaleString());
}

/** "in 3 min" / "5 min ago" for an ISO instant. */
export function relative(iso) {
  if (!iso) return '—';
  const seconds = Math.round((new Date(iso).getTime() - Date.now()) / 1000);
  const abs = Math.abs(seconds);
  const unit = abs < 90 ? `${abs} s` : abs < 5400 ? `${Math.round(abs / 60)} min` : `${(abs / 3600).toFixed(1)} h`;
  return seconds >= 0 ? `in ${unit}` : `${unit} ago`;
}

/** A table: headers and rows of cells (each cell a node or text). */
export function table(caption, headers, rows, attrs = {}) {
  return h('table', attrs,
    h('caption', {}, caption),
    h('thead', {}, h('tr', {}, headers.map((label) => h('th', { scope: 'col' }, label)))),
    h('tbody', {}, rows.length
      ? rows.map((cells) => h('tr', {}, cells.map((cell) => h('td', {}, cell))))
      : h('tr', {}, h('td', { colspan: headers.length, class: 'empty' }, 'Nothing here.'))));
}

/** A labelled form field (every input has a <label>). */
let fieldCount = 0;
export function field(label, control, hint) {
  fieldCount += 1;
  const id = control.id || `field-${fieldCount}`;
  control.id = id;
  const hintEl = hint ? h('span', { class: 'hint', id: `${id}-hint` }, hint) : null;
  if (hintEl) control.setAttribute('aria-describedby', hintEl.id);
  return h('div', { class: 'field' }, h('label', { for: id }, label), control, hintEl);
}

/** A problem (RFC 9457) as a visible alert. */
export function problemBox(error) {
  const problem = error && error.problem ? error.problem : { title: String(error && error.message ? error.message : error) };
  const vms = Array.isArray(problem.vms) ? problem.vms : [];
  return h('div', { class: 'problem', role: 'alert' },
    h('p', {}, h('span', { 'aria-hidden': 'true' }, '✖ '), h('strong', {}, problem.title || 'Error'),
      problem.code ? ` (${problem.code})` : '', problem.detail ? `: ${problem.detail}` : ''),
    vms.length ? h('ul', {}, vms.map((vm) => h('li', {}, h('strong', {}, vm.vm), ` — ${vm.code}: ${vm.message}`))) : null);
}
