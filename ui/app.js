// Vigil's dashboard: the diagnosis, the evidence and the trace, from the
// daemon's JSON APIs only. Plain JavaScript, no build step. Every value from
// the daemon is inserted as text (textContent), never as HTML. The admin
// token lives in this tab only (sessionStorage), sent as a Bearer header.
'use strict';

const $ = (id) => document.getElementById(id);
const REFRESH_MS = 2000;

const state = {
  instance: '',
  range: 300,           // seconds; 0: the whole retention
  retention: 3600,
  interval: 1,
  units: {},            // signal -> unit
  charts: [],
  extra: JSON.parse(localStorage.getItem('vigil.extraCharts') || '[]'),
  token: sessionStorage.getItem('vigil.adminToken') || '',
  selectedCapture: '',
  anomalyFilter: '',
  timer: null,
  busy: false,
};

// For tests and the benchmark: what the page has drawn, and how fast.
window.vigil = { refreshes: 0, firstDrawMs: null, lastRefreshMs: null, errors: [], ready: false };
window.addEventListener('error', (e) => window.vigil.errors.push(String(e.message)));
document.addEventListener('securitypolicyviolation', (e) => window.vigil.errors.push(`CSP: ${e.violatedDirective} ${e.blockedURI}`));

// el('td', {className: 'x'}, 'text', child, ...): strings become text nodes.
function el(tag, props, ...children) {
  const e = document.createElement(tag);
  const { dataset, ...rest } = props || {};
  Object.assign(e, rest);
  if (dataset) Object.assign(e.dataset, dataset);
  for (const c of children) if (c !== null && c !== undefined) e.append(c instanceof Node ? c : String(c));
  return e;
}

class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

async function api(path, { method = 'GET', body, admin = false } = {}) {
  const headers = {};
  if (admin) headers.Authorization = 'Bearer ' + state.token;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: 'no-store' });
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (e) { /* not JSON: reported below */ }
  if (!res.ok) throw new ApiError(res.status, `${method} ${path}: ${res.status} ${data && data.error ? data.error.message : text.slice(0, 200)}`);
  return data;
}

const q = (params) => Object.entries(params).filter(([, v]) => v !== '' && v !== null && v !== undefined)
  .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');
const iso = (t) => new Date(t * 1000).toISOString();
const unix = (s) => (s ? Date.parse(s) / 1000 : 0);
const clock = (s) => (s ? new Date(s).toLocaleTimeString() : '');
const sevClass = (s) => `sev sev-${s || 'warning'}`;

// Two slots: a refresh's failure clears with the next good refresh; an
// action's (a refused capture or silence) stays until the next action.
const errors = { refresh: '', action: '' };
function showError(msg, slot = 'refresh') {
  errors[slot] = msg || '';
  const text = [errors.action, errors.refresh].filter(Boolean).join(' | ');
  $('error').hidden = !text;
  $('error').textContent = text;
}
const actionError = (msg) => showError(msg, 'action');

// ---- Now: the overall status and the primary diagnosis ----

function evidenceList(evidence) {
  const ul = el('ul', { className: 'evidence' });
  for (const [text, v] of Object.entries(evidence || {}))
    ul.append(el('li', {}, `${text} = ${v === null ? 'no data' : Charts.format(v, '')}`));
  return ul;
}

function renderNow(overall, report) {
  $('status').dataset.status = overall.status;
  $('status').textContent = overall.status;
  const box = $('primary');
  box.textContent = '';
  const p = report.primary;
  if (!p) {
    box.append(el('div', { className: 'healthy' }, report.status === 'healthy' ? 'Healthy: no rule is firing.' : `Status ${report.status}: no rule is firing.`));
  } else {
    box.append(el('div', { className: 'title' }, el('span', { className: sevClass(p.severity) }, p.severity), ' ', p.alert,
      p.pathology ? ` (${p.pathology})` : '', p.target && p.target !== 'local' ? ` on ${p.target}${p.engine ? '/' + p.engine : ''}` : ''));
    const dl = el('dl');
    const row = (k, v) => { if (v) dl.append(el('dt', {}, k), el('dd', {}, v)); };
    row('summary', p.summary);
    row('since', clock(p.since));
    row('description', p.description);
    if (p.evidence && Object.keys(p.evidence).length) dl.append(el('dt', {}, 'evidence'), el('dd', {}, evidenceList(p.evidence)));
    row('recommendation', p.recommendation);
    box.append(dl);
  }
  const sym = $('symptoms');
  sym.textContent = '';
  if (report.symptoms && report.symptoms.length) {
    sym.append(el('span', { className: 'muted' }, 'Symptoms: '));
    report.symptoms.forEach((s, i) => sym.append(i ? ', ' : '', el('span', { className: sevClass(s.severity) }, s.alert),
      s.inhibitedBy && s.inhibitedBy.length ? ` (inhibited by ${s.inhibitedBy.join(', ')})` : ''));
  }
  const rows = overall.instances || [];
  $('instances').hidden = rows.length < 2;
  const tb = $('instances').tBodies[0];
  tb.textContent = '';
  for (const i of rows)
    tb.append(el('tr', {}, el('td', {}, i.name), el('td', {}, el('span', { className: 'status', dataset: { status: i.status } }, i.status)),
      el('td', {}, i.up === undefined ? '' : i.up ? 'up' : 'down'), el('td', {}, i.primary ? i.primary.alert : '—'),
      el('td', {}, (i.cannot_diagnose || []).map((c) => c.rule).join(', '))));
}

// ---- Charts ----

function chartSpecs() {
  return [...Charts.DEFAULTS, ...state.extra.map((s) => ({ title: s, signals: [s], extra: true }))];
}

function buildCharts() {
  for (const c of state.charts) c.remove();
  state.charts = chartSpecs().map((spec) => new Charts.Chart($('charts'), spec, state.units, spec.extra ? removeChart : null));
}

function removeChart(chart) {
  state.extra = state.extra.filter((s) => s !== chart.spec.signals[0]);
  localStorage.setItem('vigil.extraCharts', JSON.stringify(state.extra));
  chart.remove();
  state.charts = state.charts.filter((c) => c !== chart);
}

function addChart() {
  const s = $('add-signal').value;
  if (!s || state.extra.includes(s)) return;
  state.extra.push(s);
  localStorage.setItem('vigil.extraCharts', JSON.stringify(state.extra));
  state.charts.push(new Charts.Chart($('charts'), { title: s, signals: [s], extra: true }, state.units, removeChart));
  refresh();
}

function windowSeconds() { return state.range || state.retention; }

async function loadSeries() {
  const names = [...new Set(state.charts.flatMap((c) => c.spec.signals))];
  const window = windowSeconds();
  // Past ~1,200 points a chart shows no more than the screen has pixels for:
  // the daemon averages per step.
  const step = new URLSearchParams(location.search).get('step') || Math.ceil(window / 1200);
  return api(`/api/v1/series?${q({ instance: state.instance, names: names.join(','), window: window + 's', step: step + 's' })}`);
}

function drawCharts(seriesSet, history, anomalies) {
  const now = Date.now() / 1000;
  const series = {};
  for (const s of seriesSet.series) series[s.name] = s.points;
  const episodes = history.episodes.map((e) => ({ start: unix(e.startsAt), end: unix(e.endsAt), severity: e.labels.severity }));
  const marks = anomalies.map((a) => ({ ...a, t: unix(a.time) }));
  // A daemon younger than the range: the charts start at its first point
  // instead of drawing a sliver at the right edge.
  const first = Math.min(...seriesSet.series.filter((s) => s.points.length).map((s) => s.points[0][0]), now);
  const from = Math.min(Math.max(now - windowSeconds(), first - state.interval), now - 60);
  for (const c of state.charts) c.update(series, episodes, marks, [from, now]);
}

// ---- Alerts, resolved ones and silences ----

function instanceOf(labels) {
  if (!labels.target || labels.target === 'local') return 'local';
  return labels.engine ? `${labels.target}/${labels.engine}` : labels.target;
}

// The labels an operator matches on, but the ones the columns already show.
function labelText(labels) {
  return Object.entries(labels).filter(([k]) => !['alertname', 'severity'].includes(k)).map(([k, v]) => `${k}=${v}`).join(' ');
}

function renderAlerts(alerts, history) {
  const tb = $('alerts-table').tBodies[0];
  tb.textContent = '';
  const list = alerts.data.alerts;
  if (!list.length) tb.append(el('tr', {}, el('td', { colSpan: 8, className: 'muted' }, 'No alert is pending or firing.')));
  for (const a of list) {
    const l = a.labels, an = a.annotations || {};
    let st = a.state;
    if (a.inhibited) st += ', inhibited by ' + a.inhibitedBy.join(', ');
    if (a.silenced) st += ', silenced';
    const detail = el('td', {}, an.summary || '');
    if (an.evidence) detail.append(el('div', { className: 'muted' }, an.evidence));
    const silence = el('button', { type: 'button', className: 'admin-only', textContent: 'Silence 1h' });
    silence.addEventListener('click', () => createSilence(
      [{ name: 'alertname', value: l.alertname, isRegex: false, isEqual: true }, { name: 'target', value: l.target || 'local', isRegex: false, isEqual: true }],
      3600, `silenced from the dashboard: ${l.alertname}`));
    tb.append(el('tr', { className: `state-${a.state}` + (a.inhibited || a.silenced ? ' muted-row' : '') },
      el('td', {}, st), el('td', {}, l.alertname, el('div', { className: 'muted labels' }, labelText(l))),
      el('td', {}, el('span', { className: sevClass(l.severity) }, l.severity || '')),
      el('td', {}, instanceOf(l)), el('td', {}, clock(a.activeAt)), detail, el('td', {}, an.recommendation || ''), el('td', {}, silence)));
  }
  const rt = $('resolved-table').tBodies[0];
  rt.textContent = '';
  const resolved = history.episodes.filter((e) => e.state === 'resolved').reverse();
  if (!resolved.length) rt.append(el('tr', {}, el('td', { colSpan: 6, className: 'muted' }, 'Nothing resolved in this range.')));
  for (const e of resolved.slice(0, 50))
    rt.append(el('tr', {}, el('td', {}, e.alertname), el('td', {}, el('span', { className: sevClass(e.labels.severity) }, e.labels.severity || '')),
      el('td', {}, e.instance), el('td', {}, clock(e.startsAt)), el('td', {}, clock(e.endsAt)), el('td', {}, e.summary)));
}

// 'alertname="X", target=~"a|b"' -> Alertmanager matchers.
function parseMatchers(text) {
  const out = [];
  const re = /\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*(,|$)/y;
  let m;
  while (re.lastIndex < text.length && (m = re.exec(text)))
    out.push({ name: m[1], value: m[3].replace(/\\(.)/g, '$1'), isRegex: m[2].includes('~'), isEqual: !m[2].startsWith('!') });
  if (!out.length || re.lastIndex < text.trim().length) throw new Error('matchers: write them as name="value", name=~"regex", separated by commas');
  return out;
}

function parseDuration(text) {
  const m = /^(\d+(?:\.\d+)?)(s|m|h|d)$/.exec(text.trim());
  if (!m) throw new Error('duration: a number and s, m, h or d (30m, 2h)');
  return Number(m[1]) * { s: 1, m: 60, h: 3600, d: 86400 }[m[2]];
}

async function createSilence(matchers, seconds, comment) {
  try {
    const now = Date.now() / 1000;
    const r = await api('/api/v1/silences', { method: 'POST', admin: true,
      body: { matchers, startsAt: iso(now), endsAt: iso(now + seconds), createdBy: 'dashboard', comment } });
    actionError(r.warning ? `silence ${r.silenceID}: ${r.warning}` : '');
    await refresh();
  } catch (e) {
    actionError(e.message);
  }
}

function renderSilences(data) {
  const tb = $('silences-table').tBodies[0];
  tb.textContent = '';
  const list = (Array.isArray(data) ? data : []).filter((s) => s.status.state !== 'expired' || unix(s.endsAt) > Date.now() / 1000 - 3600);
  if (!list.length) tb.append(el('tr', {}, el('td', { colSpan: 6, className: 'muted' }, 'No silence.')));
  for (const s of list) {
    const m = s.matchers.map((x) => `${x.name}${x.isEqual === false ? '!' : ''}${x.isRegex ? '=~' : x.isEqual === false ? '' : '='}"${x.value}"`).join(', ');
    const expire = el('button', { type: 'button', textContent: 'Expire', hidden: s.status.state === 'expired' });
    expire.addEventListener('click', async () => {
      try { await api(`/api/v1/silences/${encodeURIComponent(s.id)}`, { method: 'DELETE', admin: true }); actionError(''); await refresh(); } catch (e) { actionError(e.message); }
    });
    tb.append(el('tr', { dataset: { id: s.id } }, el('td', {}, s.status.state), el('td', {}, m), el('td', {}, clock(s.endsAt)),
      el('td', {}, s.createdBy), el('td', {}, s.comment), el('td', {}, expire)));
  }
}

// ---- Captures ----

function renderCaptures(data) {
  const tb = $('captures-table').tBodies[0];
  tb.textContent = '';
  const list = data.data || [];
  if (!list.length) tb.append(el('tr', {}, el('td', { colSpan: 7, className: 'muted' }, 'No capture yet.')));
  for (const c of list) {
    const open = el('button', { type: 'button', textContent: 'Summary' });
    open.addEventListener('click', () => { state.selectedCapture = c.id; showCapture(c.id); });
    const win = c.summary && c.summary.wall_time_s ? Charts.format(c.summary.wall_time_s, 'seconds') : '';
    tb.append(el('tr', { dataset: { id: c.id } }, el('td', {}, c.id), el('td', {}, c.status || ''),
      el('td', {}, c.trigger || (c.target ? 'target ' + c.target : '')), el('td', {}, c.rule || ''), el('td', {}, win),
      el('td', {}, c.steps === undefined ? '' : c.steps), el('td', {}, open)));
  }
}

async function download(id) {
  try {
    const res = await fetch(`/api/v1/captures/${encodeURIComponent(id)}/trace`, { headers: { Authorization: 'Bearer ' + state.token } });
    if (!res.ok) throw new Error(`trace ${id}: ${res.status}`);
    const url = URL.createObjectURL(await res.blob());
    const a = el('a', { href: url, download: `${id}.pt.trace.json.gz` });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  } catch (e) {
    actionError(e.message);
  }
}

async function showCapture(id) {
  const box = $('capture-detail');
  try {
    const doc = await api(`/api/v1/captures/${encodeURIComponent(id)}`, { admin: true });
    box.hidden = false;
    box.textContent = '';
    box.dataset.id = id;
    const s = doc.summary || {};
    box.append(el('div', { className: 'title' }, `Capture ${id}`, doc.rule ? ` (rule ${doc.rule})` : '', doc.status ? `: ${doc.status}` : ''));
    if (s.wall_time_s !== undefined)
      box.append(el('p', {}, `${Charts.format(s.wall_time_s, 'seconds')} window, ${s.steps || 0} steps, step time P50 ${Charts.format((s.step_time_ms || {}).p50 / 1e3, 'seconds')}, P95 ${Charts.format((s.step_time_ms || {}).p95 / 1e3, 'seconds')}`));
    const cats = Object.entries(s.categories || {}).filter(([, v]) => v > 0).sort((a, b) => b[1] - a[1]);
    if (cats.length) {
      const bar = el('div', { className: 'bar breakdown' });
      const legend = el('div', { className: 'legend' });
      for (const [k, v] of cats) {
        const seg = el('span', { className: `cat-${k}`, title: `${k} ${(v * 100).toFixed(1)}%` });
        seg.style.width = `${(v * 100).toFixed(2)}%`;  // CSSOM, which the CSP allows (inline style attributes it refuses)
        bar.append(seg);
        legend.append(el('span', {}, el('i', { className: `cat-${k}` }), `${k} ${(v * 100).toFixed(1)}%`));
      }
      box.append(bar, legend);
    } else {
      box.append(el('p', { className: 'muted' }, doc.error || 'No summary yet (the capture is running or its trace is not readable).'));
    }
    if (s.top_ops && s.top_ops.length) {
      const t = el('table', { className: 'top-ops' }, el('thead', {}, el('tr', {}, el('th', {}, 'operator'), el('th', {}, 'category'), el('th', {}, 'self time'), el('th', {}, 'calls'), el('th', {}, 'share'))));
      const body = el('tbody');
      for (const o of s.top_ops)
        body.append(el('tr', {}, el('td', {}, o.name), el('td', {}, o.category), el('td', {}, Charts.format(o.self_ms / 1e3, 'seconds')), el('td', {}, o.calls), el('td', {}, `${(o.fraction * 100).toFixed(1)}%`)));
      t.append(body);
      box.append(t);
    }
    if (!doc.target) {
      const dl = el('button', { type: 'button', textContent: 'Download trace (.pt.trace.json.gz)' });
      dl.addEventListener('click', () => download(id));
      box.append(el('p', {}, dl, ' ', el('span', { className: 'muted' }, 'Open it in Perfetto (ui.perfetto.dev → Open trace file) or chrome://tracing.')));
    }
  } catch (e) {
    showError(e.message);
  }
}

async function startCapture() {
  try {
    const r = await api('/api/v1/captures', { method: 'POST', admin: true, body: { duration: $('capture-duration').value, reason: 'dashboard' } });
    state.selectedCapture = r.id;
    actionError('');
    await refresh();
  } catch (e) {
    actionError(e.message);
  }
}

// ---- Anomalies ----

function renderAnomalies(anomalies) {
  const sel = $('anomaly-filter');
  const signals = [...new Set(anomalies.flatMap((a) => a.signals))].sort();
  const have = [...sel.options].map((o) => o.value);
  for (const s of signals) if (!have.includes(s)) sel.append(el('option', { value: s }, s));
  const tb = $('anomalies-table').tBodies[0];
  tb.textContent = '';
  const list = anomalies.filter((a) => !state.anomalyFilter || a.signals.includes(state.anomalyFilter)).reverse();
  if (!list.length) tb.append(el('tr', {}, el('td', { colSpan: 6, className: 'muted' }, 'No anomaly in this range.')));
  for (const a of list.slice(0, 100))
    tb.append(el('tr', {}, el('td', {}, clock(a.time)), el('td', {}, a.signals.join(', ')), el('td', {}, a.detector),
      el('td', {}, Charts.format(a.value, state.units[a.signals[0]] || '')), el('td', {}, Number(a.score).toFixed(1)), el('td', {}, a.message)));
}

// ---- The loop ----

async function refresh() {
  if (state.busy) return;
  state.busy = true;
  const t0 = performance.now();
  try {
    const since = iso(Date.now() / 1000 - windowSeconds());
    const inst = { instance: state.instance };
    const [overall, report, alerts, history, anomalies, series] = await Promise.all([
      api('/health/report'),
      state.instance ? api(`/health/report?${q(inst)}`) : null,
      api('/api/v1/alerts'),
      api(`/api/v1/alerts/history?${q({ since, ...inst })}`),
      api(`/api/v1/anomalies?${q({ since, ...inst })}`),
      loadSeries(),
    ]);
    const t1 = performance.now();
    renderNow(overall, report || overall);
    drawCharts(series, history, anomalies.anomalies);
    window.vigil.lastFetchMs = t1 - t0;
    window.vigil.lastDrawMs = performance.now() - t1;
    renderAlerts(alerts, history);
    renderAnomalies(anomalies.anomalies);
    if (state.token) {
      const [silences, captures] = await Promise.all([
        api('/api/v1/silences', { admin: true }), api('/api/v1/captures', { admin: true })]);
      renderSilences(silences.data || silences);
      renderCaptures(captures);
      if (state.selectedCapture) await showCapture(state.selectedCapture);
    }
    showError('');
    $('updated').textContent = `updated ${new Date().toLocaleTimeString()}`;
    const ms = performance.now() - t0;
    window.vigil.lastRefreshMs = ms;
    if (window.vigil.firstDrawMs === null) window.vigil.firstDrawMs = performance.now();
    window.vigil.refreshes += 1;
    window.vigil.ready = true;
  } catch (e) {
    if (e instanceof ApiError && (e.status === 401 || e.status === 403) && state.token) {
      setToken('');
      showError(`${e.message} (the admin token was not accepted)`);
    } else {
      showError(e.message);
    }
  } finally {
    state.busy = false;
  }
}

function schedule() {
  clearInterval(state.timer);
  if ($('live').checked) state.timer = setInterval(refresh, REFRESH_MS);
}

function setToken(t) {
  state.token = t;
  if (t) sessionStorage.setItem('vigil.adminToken', t);
  else sessionStorage.removeItem('vigil.adminToken');
  document.body.classList.toggle('admin', !!t);
  $('token').value = '';
  $('token').placeholder = t ? 'admin token set' : 'admin token';
  $('token-clear').hidden = !t;
}

async function init() {
  Charts.dropLegendPlugin();
  setToken(state.token);
  const overall = await api('/health/report');
  const names = (overall.instances || []).map((i) => i.name);
  const wanted = new URLSearchParams(location.search).get('instance');
  state.instance = names.includes(wanted) ? wanted : names.includes('local') ? 'local' : names[0] || '';
  for (const n of names) $('instance').append(el('option', { value: n, selected: n === state.instance }, n));
  $('instance').disabled = names.length < 2;
  const cat = await api(`/api/v1/series?${q({ instance: state.instance })}`);
  state.retention = cat.retention_seconds;
  state.interval = cat.interval_seconds;
  for (const s of cat.signals) {
    state.units[s.name] = s.unit;
    $('add-signal').append(el('option', { value: s.name, title: s.help }, `${s.name} (${s.unit})`));
  }
  const range = new URLSearchParams(location.search).get('range');
  if (range !== null) $('range').value = range;
  state.range = Number($('range').value);
  buildCharts();
  $('instance').addEventListener('change', () => {
    state.instance = $('instance').value;
    const u = new URL(location.href);
    u.searchParams.set('instance', state.instance);
    history.replaceState(null, '', u);
    refresh();
  });
  $('range').addEventListener('change', () => { state.range = Number($('range').value); refresh(); });
  $('live').addEventListener('change', schedule);
  $('add-chart').addEventListener('click', addChart);
  $('anomaly-filter').addEventListener('change', () => { state.anomalyFilter = $('anomaly-filter').value; refresh(); });
  $('token-form').addEventListener('submit', (e) => { e.preventDefault(); setToken($('token').value.trim()); refresh(); });
  $('token-clear').addEventListener('click', () => { setToken(''); refresh(); });
  $('capture-start').addEventListener('click', startCapture);
  $('silence-form').addEventListener('submit', (e) => {
    e.preventDefault();
    try {
      createSilence(parseMatchers($('silence-matchers').value), parseDuration($('silence-duration').value), $('silence-comment').value);
    } catch (err) {
      actionError(err.message);
    }
  });
  await refresh();
  schedule();
}

document.addEventListener('DOMContentLoaded', () => init().catch((e) => showError(`dashboard: ${e.message}`)));
