// Cairn web console: the page's whole script. Plain DOM, no framework, no
// build step. Every element is made with createElement and textContent:
// nothing from the server is ever parsed as HTML. The data-testid
// attributes are the automation hooks listed in docs/web.md.
'use strict';

const state = { session: null, csrf: '', tenant: '', route: '', definition: null, snapshot: null, pending: null };
// How the last upload of each staged artifact went (progress updates, resumes), shown on its slot.
const lastUploads = new Map();

// ---------- small DOM helpers ----------

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'testid') node.dataset.testid = value;
    else if (key === 'class') node.className = value;
    else if (key === 'text') node.textContent = value;
    else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? '' : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function view() { return document.getElementById('view'); }

function bytes(n) {
  if (n === null || n === undefined) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = n, unit = 0;
  while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit++; }
  return unit === 0 ? `${n} B` : `${value.toFixed(1)} ${units[unit]}`;
}

// ---------- messages ----------

// Explanations of the contract's codes and the console's own, one line each.
const explanations = {
  FORBIDDEN: 'your user has no grant for this on the tenant',
  NOT_FOUND: 'no such thing in this tenant (or it is not yours)',
  CONFLICT: 'someone changed the configuration since this page loaded it',
  ARTIFACT_IN_USE: 'a provider configuration references this artifact; clear that field first',
  PROVIDER_CONFIG_INVALID: 'the server refused the values; nothing was stored',
  UNKNOWN_PROVIDER: 'the catalog has no such provider',
  QUOTA_EXCEEDED: 'the tenant\u2019s quota would be passed',
  TOO_LARGE: 'over the server\u2019s size limit',
  DIGEST_MISMATCH: 'the bytes stored are not the bytes sent',
  SIZE_MISMATCH: 'the bytes stored are not as many as announced',
  OFFSET_MISMATCH: 'the upload is elsewhere than the page thought',
  STORE_FULL: 'the store or its disk is full; nothing was written',
  INTEGRITY_ERROR: 'stored bytes failed verification',
  INVALID_PARAMS: 'a value the server cannot take',
  WEB_LOGIN_REQUIRED: 'open the URL that `cairn web` printed',
  WEB_SESSION_EXPIRED: 'restart `cairn web` and open its new URL',
  WEB_SERVER_UNREACHABLE: 'is `cairn serve` running?',
  WEB_NETWORK: 'the console did not answer',
};

function showMessage(text, kind) {
  const box = document.getElementById('message');
  box.className = 'message ' + (kind || '');
  box.replaceChildren(text);
}

function showError(error) {
  const code = error.code || 'WEB_NETWORK';
  const why = explanations[code];
  const box = document.getElementById('message');
  box.className = 'message error';
  box.replaceChildren(el('code', { text: code }), ': ' + (error.message || 'failed') + (why ? ` \u2014 ${why}.` : ''));
  box.setAttribute('role', 'alert');
  return error;
}

function showOk(text) {
  document.getElementById('message').removeAttribute('role');
  showMessage(text, 'ok');
}

// ---------- the API ----------

class ConsoleFailure extends Error {
  constructor(code, message, data, network) {
    super(message);
    this.code = code;
    this.data = data || {};
    this.network = !!network;
  }
}

async function api(method, path, body, raw) {
  const headers = {};
  if (method !== 'GET') headers['X-Cairn-CSRF'] = state.csrf;
  let payload;
  if (raw) { payload = body; headers['Content-Type'] = 'application/octet-stream'; }
  else if (body !== undefined) { payload = JSON.stringify(body); headers['Content-Type'] = 'application/json'; }
  let response, json;
  try {
    response = await fetch(path, { method, headers, body: payload, credentials: 'same-origin', cache: 'no-store' });
    json = await response.json();
  } catch (e) {
    throw new ConsoleFailure('WEB_NETWORK', 'the connection to the console failed', {}, true);
  }
  if (!response.ok || json.error) {
    const error = json.error || {};
    throw new ConsoleFailure(error.code || `HTTP_${response.status}`, error.message || response.statusText, error.data);
  }
  return json;
}

function q(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (value !== undefined && value !== null) search.set(key, value);
  return search.toString();
}

// ---------- routing: #/section[/id]?tenant=NAME ----------

function parseRoute() {
  const hash = location.hash.replace(/^#/, '') || '/providers';
  const [path, search] = hash.split('?');
  const params = new URLSearchParams(search || '');
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  return { section: parts[0] || 'providers', id: parts[1], tenant: params.get('tenant') || '' };
}

function link(section, id, tenant) {
  const path = '#/' + section + (id ? '/' + encodeURIComponent(id) : '');
  const t = tenant === undefined ? state.tenant : tenant;
  return t ? `${path}?${q({ tenant: t })}` : path;
}

function updateNav() {
  for (const a of document.querySelectorAll('nav a')) {
    const section = a.getAttribute('href').split('?')[0].replace('#/', '');
    a.setAttribute('href', link(section, null));
    if (section === state.route || (section === 'providers' && state.route === 'provider')) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

async function render() {
  const route = parseRoute();
  state.tenant = route.tenant;
  state.route = route.section;
  document.getElementById('tenant').value = state.tenant;
  updateNav();
  const main = view();
  main.replaceChildren(el('p', { text: 'Loading\u2026' }));
  try {
    if (route.section === 'provider' && route.id) await renderProvider(route.id);
    else if (route.section === 'artifacts') await renderArtifactsPage();
    else if (route.section === 'usage') await renderUsage();
    else await renderCatalog();
  } catch (error) {
    showError(error);
    main.replaceChildren(el('p', { class: 'error', text: `${error.code}: ${error.message}` }));
  }
}

function needTenant() {
  if (state.tenant) return false;
  view().replaceChildren(el('p', { text: 'Pick a tenant above (the ones you may read are listed), or type its name.' }));
  return true;
}

// ---------- the catalog ----------

function readinessBadge(readiness) {
  const word = readiness.ready ? 'ready' : 'blocked';
  return el('span', { class: word, testid: 'readiness', text: word });
}

async function renderCatalog() {
  const result = await api('GET', '/api/providers?' + q({ tenant: state.tenant || undefined }));
  const rows = result.providers.map((provider) => {
    let readiness = el('span', { text: state.tenant ? '—' : 'pick a tenant' });
    let codes = null;
    if (provider.readiness) {
      readiness = readinessBadge(provider.readiness);
      codes = el('ul', { class: 'codes' }, provider.readiness.subCodes.map((code) => el('li', { text: code })));
    } else if (provider.readinessError) {
      readiness = el('span', { class: 'error', text: provider.readinessError.code });
    }
    const name = state.tenant
      ? el('a', { href: link('provider', provider.providerId) }, provider.displayName)
      : provider.displayName;
    return el('tr', { testid: 'provider-row', 'data-provider-id': provider.providerId },
      el('td', {}, name), el('td', { class: 'mono', text: provider.providerId }), el('td', {}, readiness, codes));
  });
  view().replaceChildren(
    el('h2', { text: 'Providers' }),
    state.tenant ? el('p', { text: `Readiness in tenant ${state.tenant}.` }) : el('p', { text: 'Pick a tenant to see readiness and configure a provider.' }),
    el('table', {}, el('thead', {}, el('tr', {}, el('th', { scope: 'col', text: 'Provider' }), el('th', { scope: 'col', text: 'Id' }), el('th', { scope: 'col', text: 'Readiness' }))), el('tbody', {}, rows)));
}

// ---------- OCI references (distribution's grammar; the server's readiness is what counts) ----------

const ociPath = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$/;
const ociHost = /^(?:(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?$/;

function isOCIReference(text) {
  if (!text || /\s/.test(text)) return false;
  let name = text, tag = null, digest = null;
  const at = name.indexOf('@');
  if (at >= 0) { digest = name.slice(at + 1); name = name.slice(0, at); }
  const lastSlash = name.lastIndexOf('/');
  const colon = name.indexOf(':', lastSlash + 1);
  if (colon >= 0) { tag = name.slice(colon + 1); name = name.slice(0, colon); }
  if (digest !== null && !/^sha256:[a-f0-9]{64}$/.test(digest)) return false;
  if (tag !== null && !/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/.test(tag)) return false;
  const parts = name.split('/');
  if (parts.length > 1 && ociHost.test(parts[0])) parts.shift();
  const path = parts.join('/');
  return path.length > 0 && path.length <= 255 && parts.every((p) => ociPath.test(p));
}

// ---------- a provider's configuration ----------

function fieldValue(key) {
  const field = state.snapshot.fields.find((f) => f.key === key);
  return field ? field : { key, value: null, artifacts: [] };
}

function pendingValue(key) {
  if (state.pending.clear.has(key)) return null;
  if (key in state.pending.values) return state.pending.values[key];
  return fieldValue(key).value;
}

function setPending(key, value) {
  const empty = value === null || value === '' || (Array.isArray(value) && value.length === 0);
  delete state.pending.values[key];
  state.pending.clear.delete(key);
  if (empty) { if (fieldValue(key).value !== null) state.pending.clear.add(key); }
  else state.pending.values[key] = value;
  document.getElementById('unsaved').textContent =
    (Object.keys(state.pending.values).length + state.pending.clear.size) > 0 ? 'Unsaved changes.' : '';
}

function issuesFor(key) {
  const readiness = state.snapshot.readiness;
  return readiness.issues.filter((issue) => issue.field === key)
    .map((issue) => el('p', { class: 'issue', testid: 'field-issue' }, el('code', { text: issue.subCode }), ' ' + issue.message));
}

async function renderProvider(providerId) {
  if (needTenant()) return;
  const result = await api('GET', '/api/provider?' + q({ tenant: state.tenant, id: providerId }));
  state.definition = result.definition;
  state.snapshot = result.configuration;
  state.pending = { values: {}, clear: new Set() };
  drawProvider();
  await drawArtifactTable(document.getElementById('provider-artifacts'), providerId);
}

function drawProvider() {
  const definition = state.definition, snapshot = state.snapshot, readiness = snapshot.readiness;
  const form = el('form', { id: 'config-form', novalidate: true, onsubmit: (event) => { event.preventDefault(); save(); } });
  for (const field of definition.fields) form.append(drawField(field));
  form.append(el('div', { class: 'actions' },
    el('button', { type: 'submit', testid: 'save', text: 'Save' }),
    el('span', { id: 'unsaved', class: 'pending', 'aria-live': 'polite' }),
    el('span', { testid: 'revision', 'data-revision': String(snapshot.revision),
      text: `Revision ${snapshot.revision}` + (snapshot.updatedBy ? `, by ${snapshot.updatedBy} at ${snapshot.updatedAt}` : '') })));
  const codes = readiness.subCodes.map((code) => {
    const issue = readiness.issues.find((i) => i.subCode === code);
    return el('li', {}, el('code', { testid: 'readiness-code', text: code }), issue ? ` (${issue.field}): ${issue.message}` : '');
  });
  view().replaceChildren(
    el('p', {}, el('a', { href: link('providers', null) }, '\u2190 All providers')),
    el('h2', {}, definition.displayName, ' ', el('span', { class: 'mono', text: definition.providerId })),
    el('section', { 'aria-labelledby': 'readiness-heading' },
      el('h3', { id: 'readiness-heading' }, 'Readiness: ', readinessBadge(readiness), readiness.code ? el('span', { class: 'mono', text: ` ${readiness.code}` }) : ''),
      codes.length ? el('ul', { class: 'codes' }, codes) : el('p', { text: 'Every check passes.' })),
    el('h3', { text: 'Configuration' }),
    form,
    el('h3', { text: 'Staged artifacts of this provider' }),
    el('div', { id: 'provider-artifacts' }));
}

function drawField(field) {
  const id = `f-${field.key}`;
  const box = el('fieldset', { 'data-field': field.key });
  box.append(el('legend', {}, field.key, field.required ? ' (required)' : '', field.secret ? ' (secret)' : ''));
  box.append(el('p', { class: 'field-help', id: `${id}-help`, text: field.description }));
  if (field.shape === 'scalar') box.append(drawScalar(field, id));
  else if (field.shape === 'list<string>') box.append(drawList(field, id));
  else if (field.shape === 'artifactRef') box.append(drawSlot(field, 0, fieldValue(field.key).artifacts[0], fieldValue(field.key).value));
  else if (field.shape === 'list<artifactRef>') box.append(drawSlots(field));
  box.append(...issuesFor(field.key));
  return box;
}

function drawScalar(field, id) {
  const current = fieldValue(field.key).value;
  if (field.allowedValues) {
    const select = el('select', { id, testid: `field-${field.key}`, 'aria-describedby': `${id}-help`,
      onchange: () => setPending(field.key, select.value) },
      el('option', { value: '', text: '(not set: the provider\u2019s default)' }),
      field.allowedValues.map((v) => el('option', { value: v, text: v })));
    if (current !== null && typeof current === 'string' && !field.allowedValues.includes(current)) {
      select.append(el('option', { value: current, text: `${current} (not allowed)` }));
    }
    select.value = typeof current === 'string' ? current : '';
    return el('div', {}, el('label', { for: id, class: 'field-help', text: 'Value ' }), select);
  }
  if (field.secret) {
    const isSet = current && current.set;
    const input = el('input', { id, type: 'password', autocomplete: 'new-password', testid: `field-${field.key}`,
      placeholder: isSet ? 'set (never shown); type to replace' : 'not set', 'aria-describedby': `${id}-help`,
      oninput: () => { if (input.value) setPending(field.key, input.value); else { delete state.pending.values[field.key]; } } });
    const clear = isSet ? el('button', { type: 'button', testid: `field-${field.key}-clear`, text: 'Clear',
      onclick: () => { input.value = ''; setPending(field.key, null); showMessage(`${field.key} will be cleared on save.`); } }) : null;
    return el('div', {}, el('label', { for: id, class: 'field-help', text: isSet ? 'Set. New value ' : 'Value ' }), input, ' ', clear);
  }
  const input = el('input', { id, type: 'text', testid: `field-${field.key}`, value: typeof current === 'string' ? current : '',
    spellcheck: 'false', 'aria-describedby': `${id}-help`, oninput: () => setPending(field.key, input.value.trim()) });
  return el('div', {}, el('label', { for: id, class: 'field-help', text: 'Value ' }), input);
}

function drawList(field, id) {
  const key = field.key;
  const checksOCI = /OCI/i.test(field.description) || key === 'imageSubscriptions';
  const list = el('ul', { class: 'list', 'aria-label': key });
  const items = () => (pendingValue(key) || []).slice();
  const redraw = () => {
    const values = items();
    list.replaceChildren(...values.map((value, index) => {
      const move = (delta) => {
        const next = items();
        const [item] = next.splice(index, 1);
        next.splice(index + delta, 0, item);
        setPending(key, next);
        redraw();
      };
      return el('li', { testid: `list-${key}-item` },
        el('span', { text: value }),
        checksOCI && !isOCIReference(value) ? el('span', { class: 'hint bad', text: 'not an OCI reference' }) : null,
        el('button', { type: 'button', testid: `list-${key}-up`, 'aria-label': `Move ${value} up`, disabled: index === 0, onclick: () => move(-1), text: '\u2191' }),
        el('button', { type: 'button', testid: `list-${key}-down`, 'aria-label': `Move ${value} down`, disabled: index === values.length - 1, onclick: () => move(1), text: '\u2193' }),
        el('button', { type: 'button', testid: `list-${key}-remove`, 'aria-label': `Remove ${value}`, text: 'Remove',
          onclick: () => { const next = items(); next.splice(index, 1); setPending(key, next); redraw(); } }));
    }));
  };
  const hint = el('span', { class: 'hint', 'aria-live': 'polite' });
  const input = el('input', { id, type: 'text', testid: `list-${key}-new`, spellcheck: 'false', 'aria-describedby': `${id}-help`,
    placeholder: checksOCI ? 'registry/repository:tag' : 'new entry',
    oninput: () => {
      if (!checksOCI || !input.value.trim()) { hint.textContent = ''; return; }
      const ok = isOCIReference(input.value.trim());
      hint.className = 'hint ' + (ok ? 'good' : 'bad');
      hint.textContent = ok ? 'valid OCI reference' : 'not a valid OCI reference (the server decides)';
    },
    onkeydown: (event) => { if (event.key === 'Enter') { event.preventDefault(); add(); } } });
  const add = () => {
    const value = input.value.trim();
    if (!value) return;
    setPending(key, items().concat([value]));
    input.value = '';
    hint.textContent = '';
    redraw();
    input.focus();
  };
  redraw();
  return el('div', {}, list,
    el('label', { for: id, class: 'field-help', text: 'Add ' }), input,
    el('button', { type: 'button', testid: `list-${key}-add`, text: 'Add', onclick: add }), hint);
}

// ---------- artifact slots ----------

function drawSlots(field) {
  const key = field.key;
  const box = el('div', {});
  const known = new Map((fieldValue(key).artifacts || []).map((a) => [a.artifactId, a]));
  const redraw = () => {
    const ids = (pendingValue(key) || []).slice();
    const slots = ids.map((id, index) => drawSlot(field, index, known.get(id), id, (meta) => {
      const next = (pendingValue(key) || []).slice();
      if (meta) { next[index] = meta.artifactId; known.set(meta.artifactId, meta); } else next.splice(index, 1);
      setPending(key, next);
      redraw();
    }));
    slots.push(drawSlot(field, ids.length, null, null, (meta) => {
      if (!meta) return;
      known.set(meta.artifactId, meta);
      setPending(key, (pendingValue(key) || []).concat([meta.artifactId]));
      redraw();
    }));
    box.replaceChildren(...slots);
  };
  redraw();
  return box;
}

function drawSlot(field, index, meta, id, changed) {
  const key = field.key;
  const onChange = changed || ((newMeta) => {
    setPending(key, newMeta ? newMeta.artifactId : null);
    const fresh = drawSlot(field, index, newMeta, newMeta ? newMeta.artifactId : null, changed);
    slot.replaceWith(fresh);
  });
  const inputId = `slot-${key}-${index}`;
  const progress = el('progress', { max: 100, value: 0, hidden: true, testid: `slot-${key}-progress`, 'aria-label': `Upload of ${key}` });
  const last = meta && lastUploads.get(meta.artifactId);
  if (last) {
    progress.hidden = false;
    progress.value = 100;
    progress.dataset.updates = String(last.updates);
    progress.dataset.resumes = String(last.resumes);
  }
  const status = el('span', { class: 'pending', 'aria-live': 'polite' });
  const file = el('input', { type: 'file', id: inputId, testid: `slot-${key}-file`,
    onchange: () => { if (file.files[0]) upload(file.files[0]); } });
  const slot = el('div', { class: 'slot', testid: `slot-${key}`, 'data-index': String(index) });
  const details = [];
  if (meta) {
    details.push(el('dl', {},
      el('dt', { text: 'artifact' }), el('dd', { class: 'mono', text: meta.artifactId }),
      el('dt', { text: 'type' }), el('dd', { text: meta.mimeType }),
      el('dt', { text: 'size' }), el('dd', { text: `${bytes(meta.sizeBytes)} (${meta.sizeBytes} bytes)` }),
      el('dt', { text: 'sha256' }), el('dd', { class: 'mono', testid: `slot-${key}-sha256`, text: meta.sha256 }),
      el('dt', { text: 'staged' }), el('dd', { text: `by ${meta.stagedBy} at ${meta.stagedAt}` })));
  } else if (id) {
    details.push(el('p', { class: 'issue' }, 'References ', el('code', { text: id }), ', which is gone.'));
  } else {
    details.push(el('p', { class: 'field-help', text: 'Empty: choose a file or drop one here.' }));
  }
  const clear = meta || id ? el('button', { type: 'button', testid: `slot-${key}-clear`, text: 'Clear',
    onclick: () => onChange(null) }) : null;
  slot.append(...details,
    el('div', {}, el('label', { for: inputId, text: meta ? 'Replace with ' : 'Upload ' }), file, ' ', clear, ' ', progress, ' ', status));
  slot.addEventListener('dragover', (event) => { event.preventDefault(); slot.classList.add('dragging'); });
  slot.addEventListener('dragleave', () => slot.classList.remove('dragging'));
  slot.addEventListener('drop', (event) => {
    event.preventDefault();
    slot.classList.remove('dragging');
    const dropped = event.dataTransfer && event.dataTransfer.files[0];
    if (dropped) upload(dropped);
  });
  async function upload(chosen) {
    progress.hidden = false;
    progress.value = 0;
    status.textContent = `Uploading ${chosen.name}\u2026`;
    let updates = 0, resumes = 0;
    try {
      const staged = await uploadFile(chosen, state.definition.providerId, (done, total, resumed) => {
        progress.value = total ? Math.floor((done / total) * 100) : 100;
        progress.dataset.updates = String(++updates);
        progress.dataset.resumes = String(resumes = resumed);
      });
      progress.value = 100;
      lastUploads.set(staged.artifactId, { updates, resumes });
      showOk(`Staged ${chosen.name} as ${staged.artifactId} (${bytes(staged.sizeBytes)}); save to reference it.`);
      onChange(staged);
    } catch (error) {
      status.textContent = '';
      showError(error);
    }
  }
  return slot;
}

// Computes the file's SHA-256 in the page when the browser can (a secure
// context: 127.0.0.1 and localhost are), so the server refuses a commit of
// other bytes. Large files skip it: the server still hashes what it stored.
async function fileDigest(file) {
  if (!window.crypto || !crypto.subtle || file.size > 256 * 1024 * 1024) return undefined;
  const digest = await crypto.subtle.digest('SHA-256', await file.arrayBuffer());
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

// The media type an upload is staged with: the browser's guess is poor for
// keys and certificates (.pub is "MS Publisher" to it).
function mediaType(file) {
  const name = file.name.toLowerCase();
  if (/\.(pem|pub|crt|cer|key)$/.test(name)) return 'application/x-pem-file';
  if (name.endsWith('.json')) return 'application/json';
  return file.type || 'application/octet-stream';
}

// Uploads a file in pieces: begin, one PUT per piece, commit. The upload id
// is kept in sessionStorage, so a dropped connection (or a reload) asks the
// console where the upload stands and goes on from there.
async function uploadFile(file, providerId, onProgress) {
  const limits = state.session.hello.limits || {};
  if (limits.maxArtifactBytes && file.size > limits.maxArtifactBytes) {
    throw new ConsoleFailure('TOO_LARGE', `${file.name} is ${bytes(file.size)}, over the server's limit of ${bytes(limits.maxArtifactBytes)}`);
  }
  const chunk = Math.min(state.session.chunkBytes || 1048576, limits.maxChunkBytes || 4194304);
  const memo = `cairn-upload:${state.tenant}:${providerId}:${file.name}:${file.size}:${file.lastModified}`;
  const sha256 = await fileDigest(file);
  let uploadId = sessionStorage.getItem(memo);
  let offset = 0;
  if (uploadId) {
    try { offset = (await api('GET', `/api/uploads/${uploadId}`)).offset; }
    catch (error) { if (error.code !== 'NOT_FOUND') throw error; uploadId = null; }
  }
  if (!uploadId) {
    const begun = await api('POST', '/api/uploads?' + q({ tenant: state.tenant }),
      { providerId, mimeType: mediaType(file), sizeBytes: file.size, sha256 });
    uploadId = begun.uploadId;
    sessionStorage.setItem(memo, uploadId);
  }
  let resumes = 0, failures = 0;
  onProgress(offset, file.size, resumes);
  while (offset < file.size) {
    const piece = file.slice(offset, Math.min(file.size, offset + chunk));
    try {
      offset = (await api('PUT', `/api/uploads/${uploadId}?${q({ offset })}`, piece, true)).offset;
      failures = 0;
    } catch (error) {
      if (!(error.network || error.code === 'OFFSET_MISMATCH') || ++failures > 5) throw error;
      // The connection dropped (or the page's offset is stale): ask where the upload stands.
      await new Promise((resolve) => setTimeout(resolve, 200 * failures));
      offset = (await api('GET', `/api/uploads/${uploadId}`)).offset;
      resumes++;
      showMessage(`The connection dropped; resuming the upload at ${bytes(offset)}.`);
    }
    onProgress(offset, file.size, resumes);
  }
  let meta;
  try {
    meta = await api('POST', `/api/uploads/${uploadId}/commit`, { sha256 });
  } catch (error) {
    if (error.code === 'DIGEST_MISMATCH' || error.code === 'SIZE_MISMATCH') {
      // The server's bytes are not this file's: resuming would never succeed.
      sessionStorage.removeItem(memo);
      await api('DELETE', `/api/uploads/${uploadId}`).catch(() => {});
    }
    throw error;
  }
  sessionStorage.removeItem(memo);
  return meta;
}

// ---------- save ----------

async function save() {
  const values = { ...state.pending.values };
  const clear = Array.from(state.pending.clear);
  if (Object.keys(values).length === 0 && clear.length === 0) { showOk('Nothing to save.'); return; }
  showMessage('Saving\u2026');
  try {
    state.snapshot = await api('POST', '/api/provider/config?' + q({ tenant: state.tenant, id: state.definition.providerId }),
      { values, clear, expectedRevision: state.snapshot.revision });
    state.pending = { values: {}, clear: new Set() };
    drawProvider();
    const saved = `Saved: revision ${state.snapshot.revision}, ${state.snapshot.readiness.ready ? 'ready' : 'blocked'}.`;
    showOk(saved);
    document.getElementById('unsaved').textContent = saved;
    await drawArtifactTable(document.getElementById('provider-artifacts'), state.definition.providerId);
  } catch (error) {
    showError(error);
    document.getElementById('unsaved').textContent = `Not saved: ${error.code}; see the message at the top.`;
    if (error.code === 'CONFLICT') {
      const box = document.getElementById('message');
      box.append(' ', el('button', { type: 'button', testid: 'conflict-reload', text: `Reload revision ${error.data.revision}`,
        onclick: () => render() }));
    }
  }
}

// ---------- staged artifacts ----------

async function drawArtifactTable(container, providerId) {
  const result = await api('GET', '/api/artifacts?' + q({ tenant: state.tenant, provider: providerId }));
  if (result.artifacts.length === 0) {
    container.replaceChildren(el('p', { text: 'No staged artifacts.' }));
    return;
  }
  const rows = result.artifacts.map((a) => {
    const refs = a.referencedBy.map((r) => `${r.providerId} ${r.field}`).join(', ');
    const remove = el('button', { type: 'button', testid: 'artifact-delete', text: 'Delete', 'aria-label': `Delete ${a.artifactId}`,
      onclick: async () => {
        try {
          await api('DELETE', `/api/artifacts/${a.artifactId}?` + q({ tenant: state.tenant }));
          showOk(`Deleted ${a.artifactId}.`);
          await drawArtifactTable(container, providerId);
        } catch (error) {
          showError(error);
          if (error.code === 'ARTIFACT_IN_USE') {
            const where = (error.data.references || []).map((r) => `${r.providerId} ${r.field}`).join(', ');
            document.getElementById('message').append(` Referenced by ${where}.`);
          }
        }
      } });
    const download = el('a', { href: `/api/artifacts/${a.artifactId}/download?` + q({ tenant: state.tenant }),
      download: `${a.artifactId}.bin`, testid: 'artifact-download', text: 'Download' });
    return el('tr', { testid: 'artifact-row', 'data-artifact-id': a.artifactId },
      el('td', { class: 'mono', text: a.artifactId }), el('td', { class: 'mono', text: a.providerId }),
      el('td', { text: a.mimeType }), el('td', { text: bytes(a.sizeBytes) }),
      el('td', { class: 'mono', text: a.sha256 }), el('td', { text: `${a.stagedBy}, ${a.stagedAt}` }),
      el('td', { testid: 'artifact-references', text: refs || '—' }), el('td', {}, download, ' ', remove));
  });
  const heads = ['Id', 'Provider', 'Type', 'Size', 'sha256', 'Staged by, at', 'Referenced by', 'Actions'];
  container.replaceChildren(el('table', {},
    el('thead', {}, el('tr', {}, heads.map((h) => el('th', { scope: 'col', text: h })))), el('tbody', {}, rows)),
    result.truncated ? el('p', { text: 'Only the first pages are shown; use `cairn ls` for the rest.' }) : null);
}

async function renderArtifactsPage() {
  if (needTenant()) return;
  const box = el('div', {});
  view().replaceChildren(el('h2', { text: `Staged artifacts of ${state.tenant}` }),
    el('p', { text: 'Downloads are verified: bytes that fail the sha256 check never complete.' }), box);
  await drawArtifactTable(box, undefined);
}

// ---------- usage, events, verification ----------

function isAdmin() {
  return (state.session.hello.grants || []).some((g) => (g.tenant === '*' || g.tenant === state.tenant) && g.scopes.includes('admin'));
}

function figure(label, testid, used, limit, format) {
  const text = limit === null || limit === undefined ? `${format(used)} (no quota)` : `${format(used)} of ${format(limit)}`;
  const meter = limit ? el('meter', { min: 0, max: limit, value: Math.min(used, limit), high: limit * 0.9, 'aria-label': label }) : null;
  return el('div', { class: 'figure' }, el('span', { text: label }), meter, el('span', { testid, text }));
}

async function renderUsage() {
  if (needTenant()) return;
  const usage = await api('GET', '/api/usage?' + q({ tenant: state.tenant }));
  const events = await api('GET', '/api/events?' + q({ tenant: state.tenant }));
  const verification = events.verification;
  const chain = el('p', { testid: 'events-chain', class: verification.intact ? 'ready' : 'blocked',
    text: verification.intact ? `Hash chain intact: ${verification.checkedEvents} events checked.`
      : `Hash chain broken: ${verification.problems.map((p) => `event ${p.seq}: ${p.message}`).join('; ')}` });
  const rows = events.events.map((e) => el('tr', {},
    el('td', { text: String(e.seq) }), el('td', { text: e.at }), el('td', { text: e.actor }), el('td', { text: e.action }),
    el('td', { class: 'mono', text: e.artifactId || e.providerId || '' }),
    el('td', { class: 'mono', text: e.detail ? JSON.stringify(e.detail) : '' })));
  const section = [
    el('h2', { text: `Usage and events of ${state.tenant}` }),
    figure('Stored bytes', 'usage-bytes', usage.storedBytes, usage.quota.maxBytes, bytes),
    figure('Artifacts', 'usage-artifacts', usage.artifactCount, usage.quota.maxArtifacts, String),
    el('p', { text: `Logical bytes (before deduplication): ${bytes(usage.logicalBytes)}.` }),
  ];
  if (isAdmin()) section.push(drawVerify(usage.storedBytes));
  section.push(el('h3', { text: 'Event log' }), chain,
    el('table', {}, el('thead', {}, el('tr', {}, ['Seq', 'At', 'Actor', 'Action', 'Subject', 'Detail'].map((h) => el('th', { scope: 'col', text: h })))),
      el('tbody', {}, rows)),
    events.nextCursor ? el('p', { text: 'Older pages: `cairn events`.' }) : null);
  view().replaceChildren(...section);
}

function drawVerify(total) {
  const progress = el('progress', { max: Math.max(total, 1), value: 0, hidden: true, testid: 'verify-progress', 'aria-label': 'Verification' });
  const result = el('p', { testid: 'verify-result', 'aria-live': 'polite' });
  const start = el('button', { type: 'button', testid: 'verify-start', text: 'Verify stored content',
    onclick: async () => {
      start.disabled = true;
      progress.hidden = false;
      let cursor = null, blobs = 0, checked = 0;
      const corrupt = [];
      try {
        do {
          const page = await api('POST', '/api/verify?' + q({ tenant: state.tenant }), { cursor });
          blobs += page.checkedBlobs;
          checked += page.checkedBytes;
          corrupt.push(...page.corrupt);
          progress.value = checked;
          result.textContent = `Checked ${blobs} contents, ${bytes(checked)}\u2026`;
          cursor = page.nextCursor;
        } while (cursor);
        result.className = corrupt.length ? 'blocked' : 'ready';
        result.textContent = corrupt.length
          ? `${corrupt.length} corrupt: ${corrupt.map((c) => c.sha256).join(', ')}`
          : `Clean: ${blobs} contents, ${bytes(checked)} verified.`;
      } catch (error) {
        showError(error);
      } finally {
        start.disabled = false;
      }
    } });
  return el('section', {}, el('h3', { text: 'Verification (scrub)' }), el('div', { class: 'actions' }, start, progress), result);
}

// ---------- start ----------

async function start() {
  document.getElementById('tenant-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const tenant = document.getElementById('tenant').value.trim();
    const route = parseRoute();
    location.hash = link(route.section === 'provider' ? 'provider' : route.section, route.id, tenant).slice(1);
  });
  document.getElementById('tenant').addEventListener('change', () => {
    document.getElementById('tenant-form').requestSubmit();
  });
  window.addEventListener('hashchange', () => { showMessage(''); render(); });
  try {
    state.session = await api('GET', '/api/session');
  } catch (error) {
    showError(error);
    view().replaceChildren(el('p', { class: 'error', text: `${error.code}: ${error.message}` }));
    return;
  }
  state.csrf = state.session.csrfToken;
  const peer = state.session.hello.peer || {};
  document.getElementById('peer').textContent = `Acting as uid ${peer.uid}, gid ${peer.gid}`;
  try {
    const tenants = await api('GET', '/api/tenants');
    document.getElementById('tenant-list').replaceChildren(...tenants.tenants.map((t) => el('option', { value: t })));
  } catch (error) { showError(error); }
  await render();
}

document.addEventListener('DOMContentLoaded', start);
