// The dashboard preview page: lays out the saved dashboard's panels on its 48-column
// grid, asks the server for every panel's figures (each built from the panel's saved
// visState) and draws them with Chart.js; every panel also carries its figures as a table
// (under "Data"), which is what the browser tests read. Refreshes every few seconds while
// a stream runs.
'use strict';

const state = { layout: null, from: null, to: null, charts: new Map(), refreshes: 0 };
const params = new URLSearchParams(location.search);
const PALETTE = ['#54b399', '#6092c0', '#d36086', '#9170b8', '#ca8eae', '#d6bf57', '#b9a888', '#da8b45', '#aa6556', '#e7664c'];
const KNOWN = { cats: '#da8b45', dogs: '#6092c0', POSITIVE: '#54b399', NEGATIVE: '#e7664c', NEUTRAL: '#b9a888', MIXED: '#9170b8' };
const colours = new Map();

function colour(key) {
  if (KNOWN[key]) return KNOWN[key];
  if (!colours.has(key)) colours.set(key, PALETTE[colours.size % PALETTE.length]);
  return colours.get(key);
}

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === 'class') e.className = v; else if (k === 'text') e.textContent = v; else e.setAttribute(k, v);
  }
  for (const c of children) if (c != null) e.append(c);
  return e;
}

async function getJSON(url) {
  const r = await fetch(url, { cache: 'no-store' });
  if (!r.ok) throw new Error(url + ': HTTP ' + r.status);
  return r.json();
}

function number(v, metricKind) {
  if (v === null || v === undefined) return '–';
  if (metricKind === 'count' || metricKind === 'cardinality') return Number(v).toLocaleString('en-US');
  if (metricKind === 'coordinate') return Number(v).toFixed(4);
  return Number(v).toFixed(3);
}

function timeLabel(iso) {
  return iso.replace('T', ' ').replace(/:00\.000Z$|\.000Z$/, '').replace(/Z$/, '');
}

function banner(text) {
  const b = document.getElementById('banner');
  b.hidden = !text;
  b.textContent = text || '';
}

async function start() {
  const layout = await getJSON('/api/layout');
  state.layout = layout;
  state.from = params.get('from') || layout.time.from;
  state.to = params.get('to') || layout.time.to;
  document.title = layout.title + ' (preview)';
  document.getElementById('title').textContent = layout.title;
  document.getElementById('meta').textContent =
    layout.source + ' · ' + layout.index_pattern + ' · ' + layout.time_field + ' from ' + state.from + ' to ' + state.to;
  const grid = document.getElementById('grid');
  for (const p of layout.panels) {
    const body = el('div', { class: 'body' });
    const card = el('section', { class: 'panel', id: 'panel-' + p.id, 'data-panel': p.id }, el('h2', { text: p.title }), body);
    card.style.gridColumn = (p.grid.x + 1) + ' / span ' + p.grid.w;
    card.style.gridRow = (p.grid.y + 1) + ' / span ' + p.grid.h;
    if (p.error) {
      card.dataset.state = 'cannot-draw';
      body.append(el('div', { class: 'cannot', text: 'Cannot draw panel "' + p.id + '": ' + p.error }));
    } else {
      card.dataset.state = 'loading';
      card.append(el('details', { class: 'figures' }, el('summary', { text: 'Data' }), el('table', {})));
    }
    grid.append(card);
  }
  await tick();
}

async function tick() {
  let live = false;
  try {
    live = await refresh();
  } catch (e) {
    banner('Cannot refresh: ' + e.message);
  }
  const every = live ? 2000 : state.layout.refresh_ms;
  setTimeout(tick, every);
}

async function refresh() {
  const data = await getJSON('/api/data?' + new URLSearchParams({ from: state.from, to: state.to }));
  if (data.error) {
    banner(data.error);
    return false;
  }
  banner('');
  renderSummary(data);
  for (const p of state.layout.panels) if (!p.error) renderPanel(p, data.panels[p.id] || { error: 'no answer' });
  state.refreshes += 1;
  document.body.dataset.refreshes = String(state.refreshes);
  document.body.dataset.updated = data.updated_at;
  return data.live;
}

function renderSummary(data) {
  const outcomes = document.getElementById('outcomes');
  outcomes.replaceChildren(el('h2', { text: data.live ? 'Records (live)' : 'Records' }));
  const status = data.status || {};
  const pairs = (x) => (Array.isArray(x) ? x : Object.entries(x || {}));
  for (const [name, value] of pairs(status.outcomes)) {
    outcomes.append(el('div', { class: 'outcome', 'data-outcome': name }, el('b', { text: Number(value).toLocaleString('en-US') }), el('span', { text: name })));
  }
  for (const [name, value] of pairs(status.facts)) {
    outcomes.append(el('div', { class: 'outcome', 'data-fact': name }, el('b', { text: String(value) }), el('span', { text: name })));
  }
  if ((status.spikes || []).length) {
    outcomes.append(el('div', { class: 'spikes', id: 'spikes' }, el('b', { text: 'Spikes: ' }), status.spikes.join('; ')));
  }
  const verdict = document.getElementById('verdict');
  const v = data.verdict || {};
  verdict.replaceChildren(el('h2', { text: 'Verdict: mean sentiment per tag, 95% confidence' }));
  if (v.error) {
    verdict.append(el('div', { class: 'text', text: 'No verdict: ' + v.error }));
    return;
  }
  verdict.append(el('div', { class: 'text', id: 'verdict-text', 'data-winner': v.winner || '', text: v.text }));
  for (const t of v.tags || []) {
    const ci = el('div', { class: 'ci' });
    if (t.low !== null && t.high !== null) {
      const x = (s) => Math.max(0, Math.min(100, (s + 1) * 50));
      ci.append(el('div', { class: 'bar', style: 'left:' + x(t.low) + '%;width:' + (x(t.high) - x(t.low)) + '%' }));
    }
    if (t.mean !== null) ci.append(el('div', { class: 'dot', style: 'left:' + ((t.mean + 1) * 50) + '%' }));
    verdict.append(el('div', { class: 'tag', 'data-tag': t.tag, 'data-n': t.n, 'data-mean': t.mean }, el('b', { text: t.tag }), ci, el('span', { text: t.text })));
  }
}

function renderPanel(p, answer) {
  const card = document.getElementById('panel-' + p.id);
  const body = card.querySelector('.body');
  if (answer.error) {
    card.dataset.state = 'error';
    destroy(p.id);
    body.replaceChildren(el('div', { class: 'cannot', text: 'Cannot draw panel "' + p.id + '": ' + answer.error }));
    return;
  }
  const f = answer.figures;
  renderFigures(card.querySelector('details.figures table'), p.spec, f);
  if (f.rows.length === 0) {
    destroy(p.id);
    body.replaceChildren(el('div', { class: 'empty', text: 'No documents in this time range' }));
    card.dataset.state = 'empty';
    return;
  }
  if (p.spec.chart === 'table') {
    destroy(p.id);
    const t = el('table', { class: 'table' });
    renderFigures(t, p.spec, f);
    body.replaceChildren(el('div', { class: 'table-wrap' }, t));
  } else {
    drawChart(p, body, f);
  }
  card.dataset.state = 'drawn';
  card.dataset.rows = String(f.rows.length);
}

function renderFigures(table, spec, f) {
  const numeric = (i) => f.kinds[i] !== 'key' && f.kinds[i] !== 'time';
  const head = el('tr', {}, ...f.columns.map((c, i) => el('th', { class: numeric(i) ? 'num' : '', text: c })));
  const rows = f.rows.map((r) => el('tr', {}, ...r.map((v, i) => el('td', {
    class: numeric(i) ? 'num' : '',
    'data-value': v === null ? 'null' : String(v),
    text: f.kinds[i] === 'time' ? timeLabel(v) : (numeric(i) ? number(v, f.kinds[i]) : v),
  }))));
  table.replaceChildren(el('thead', {}, head), el('tbody', {}, ...rows));
}

function destroy(id) {
  const c = state.charts.get(id);
  if (c) c.destroy();
  state.charts.delete(id);
}

// A mean sentiment score as a colour: red through grey to green, full at ±0.5 (means of
// many posts rarely go further).
function scoreColour(score) {
  const s = Math.max(-1, Math.min(1, 2 * (Number(score) || 0)));
  const mix = (a, b, t) => Math.round(a + (b - a) * t);
  const [from, to, t] = s < 0 ? [[231, 102, 76], [185, 168, 136], s + 1] : [[185, 168, 136], [84, 179, 153], s];
  return 'rgba(' + from.map((c, i) => mix(c, to[i], t)).join(',') + ',0.75)';
}

// The map: one point per geohash cell at its centroid (longitude, latitude), its area
// the cell's count, its colour the metric; axes in degrees, no tiles (no network).
function mapConfig(spec, f) {
  const metric = spec.metrics[0];
  const biggest = Math.max(...f.rows.map((r) => Number(r[3])));
  const points = f.rows.map((r) => ({ x: Number(r[2]), y: Number(r[1]), r: 4 + 16 * Math.sqrt(Number(r[3]) / biggest), cell: r[0], n: r[3], v: r[4] }));
  const pad = (vs, lo, hi) => {
    const min = Math.min(...vs), max = Math.max(...vs), m = Math.max(5, (max - min) * 0.1);
    return { min: Math.max(lo, 10 * Math.floor((min - m) / 10)), max: Math.min(hi, 10 * Math.ceil((max + m) / 10)) };
  };
  const colourOf = (v) => (metric.kind === 'avg' && metric.field && metric.field.startsWith('sentiment') ? scoreColour(v) : PALETTE[1]);
  return {
    type: 'bubble',
    data: { datasets: [{ label: metric.label, data: points, backgroundColor: points.map((pt) => colourOf(pt.v)), borderColor: '#69707d', borderWidth: 1 }] },
    options: {
      plugins: {
        legend: { display: false },
        tooltip: { callbacks: { label: (c) => c.raw.cell + ': ' + number(c.raw.n, 'count') + ' posts, ' + metric.label + ' ' + number(c.raw.v, metric.kind) } },
      },
      scales: {
        x: Object.assign({ title: { display: true, text: 'Longitude' } }, pad(points.map((pt) => pt.x), -180, 180)),
        y: Object.assign({ title: { display: true, text: 'Latitude' } }, pad(points.map((pt) => pt.y), -90, 90)),
      },
    },
  };
}

function chartConfig(p, f) {
  const spec = p.spec;
  const last = f.columns.length - 1;
  if (spec.chart === 'map') return mapConfig(spec, f);
  const metric = spec.metrics[0];
  // Bars start at zero (a bar's length is its value); lines start at zero for counts.
  const valueAxis = { title: { display: !!spec.value_axis, text: spec.value_axis || '' }, beginAtZero: spec.chart === 'bar' || metric.kind === 'count' };
  if (spec.chart === 'pie') {
    const labels = f.rows.map((r) => r[0]);
    return {
      type: spec.donut ? 'doughnut' : 'pie',
      data: { labels, datasets: [{ label: metric.label, data: f.rows.map((r) => r[last]), backgroundColor: labels.map(colour) }] },
      options: { plugins: { legend: { position: 'right' } } },
    };
  }
  if (spec.chart === 'bar') {
    const labels = f.rows.map((r) => r[0]);
    return {
      type: 'bar',
      data: { labels, datasets: [{ label: metric.label, data: f.rows.map((r) => r[last]), backgroundColor: labels.map(colour) }] },
      options: { plugins: { legend: { display: false } }, scales: { y: valueAxis } },
    };
  }
  // line: x is the date histogram's buckets; a second bucket aggregation splits series.
  const xi = spec.buckets.findIndex((b) => b.kind === 'date_histogram');
  const x = xi < 0 ? 0 : xi;
  const gi = spec.buckets.length > 1 ? (x === 0 ? 1 : 0) : -1;
  const xs = [...new Set(f.rows.map((r) => r[x]))].sort();
  const groups = gi < 0 ? [metric.label] : [...new Set(f.rows.map((r) => r[gi]))].sort();
  const datasets = groups.map((g) => {
    const byX = new Map(f.rows.filter((r) => gi < 0 || r[gi] === g).map((r) => [r[x], r[last]]));
    return { label: g, data: xs.map((k) => (byX.has(k) ? byX.get(k) : null)), borderColor: colour(g), backgroundColor: colour(g), spanGaps: false, pointRadius: 2 };
  });
  return {
    type: 'line',
    data: { labels: xs.map(timeLabel), datasets },
    options: { plugins: { legend: { position: 'right' } }, scales: { y: valueAxis } },
  };
}

function drawChart(p, body, f) {
  const config = chartConfig(p, f);
  config.options = Object.assign({ animation: false, responsive: true, maintainAspectRatio: false }, config.options);
  const existing = state.charts.get(p.id);
  if (existing && existing.config.type === config.type) {
    existing.data = config.data;
    existing.options = config.options;
    existing.update('none');
    return;
  }
  destroy(p.id);
  const canvas = el('canvas', { 'aria-label': p.title, role: 'img' });
  body.replaceChildren(canvas);
  state.charts.set(p.id, new Chart(canvas, config));
}

start().catch((e) => {
  window.__errors.push(String(e));
  banner('Cannot load the dashboard: ' + e.message);
});
