/**
 * The live status page: one HTML document with its CSS and JS inline, served
 * at `GET /` on our listener and by `statusHandler` on the app's own server.
 *
 * It polls the JSON stats view every 2 s and draws one group per node, worst
 * first. Everything it shows comes from `/stats`, except the request rate (the
 * difference between two polls) and the p95 history, which the page keeps
 * itself for the last 5 minutes. Node names are data: the script sets them with
 * textContent only, and the Content-Security-Policy allows no request to
 * another origin (connect-src 'self'), no other script and no other style.
 */
import { createHash } from 'node:crypto';

export interface StatusPageSettings {
  /** URL reference of the stats JSON, resolved against the page's URL. */
  statsUrl: string;
  slowP95Seconds: number;
  errorPercent: number;
}

/** Poll period; the issue asks for 2 s, a tenth of a default Prometheus scrape interval. */
const POLL_MS = 2000;
/** Latency history kept by the page (150 points at 2 s). */
const HISTORY_MS = 5 * 60_000;

const STYLE = `
:root { color-scheme: light; --bg: #f6f7f9; --fg: #1d2330; --muted: #5f6b7a; --line: #d9dee5; --card: #fff;
  --ok: #1f7a3d; --warn: #8a5a00; --warn-bg: #fff4d6; --bad: #b3261e; --bad-bg: #fde7e5; --spark: #3566c8; }
* { box-sizing: border-box; }
body { margin: 0; padding: 16px 20px; background: var(--bg); color: var(--fg);
  font: 13px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; }
header { display: flex; flex-wrap: wrap; align-items: baseline; gap: 4px 16px; margin-bottom: 10px; }
h1 { font-size: 18px; margin: 0; }
#meta { color: var(--muted); margin: 0; }
#meta.stale { color: var(--bad); font-weight: 600; }
#totals { display: flex; flex-wrap: wrap; gap: 8px; margin: 0 0 10px; padding: 0; list-style: none; }
#totals li { background: var(--card); border: 1px solid var(--line); border-radius: 6px; padding: 6px 10px; min-width: 92px; }
#totals .k { display: block; color: var(--muted); font-size: 11px; text-transform: uppercase; letter-spacing: .04em; }
#totals .v { font-size: 16px; font-weight: 600; font-variant-numeric: tabular-nums; }
#legend { color: var(--muted); margin: 0 0 8px; }
table { width: 100%; border-collapse: collapse; background: var(--card); border: 1px solid var(--line); }
th, td { padding: 4px 8px; text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
thead th { position: sticky; top: 0; background: #eceff3; color: var(--muted); font-weight: 600; font-size: 11px;
  text-transform: uppercase; letter-spacing: .03em; border-bottom: 1px solid var(--line); }
th.l, td.l { text-align: left; }
tbody.node { border-top: 1px solid var(--line); }
tr.head th { text-align: left; font-weight: 400; background: #fafbfc; border-left: 4px solid var(--ok); }
tbody.flagged tr.head th { background: var(--warn-bg); border-left-color: var(--warn); }
tbody.down tr.head th { background: var(--bad-bg); border-left-color: var(--bad); }
.marker { display: inline-block; min-width: 84px; margin-right: 8px; font-weight: 700; color: var(--ok); }
tbody.flagged .marker { color: var(--warn); }
tbody.down .marker { color: var(--bad); }
.name { font-weight: 700; font-size: 14px; margin-right: 10px; word-break: break-all; white-space: normal; }
.up { color: var(--muted); margin-right: 10px; }
.reasons { color: var(--fg); }
td.bad { color: var(--bad); font-weight: 700; }
tr.tool td { color: var(--muted); font-size: 12px; }
tr.tool td.l { padding-left: 22px; }
td.hist { width: 130px; padding: 2px 8px; }
svg.spark { display: block; width: 120px; height: 24px; }
svg.spark polyline { fill: none; stroke: var(--spark); stroke-width: 1.5; }
svg.spark line { stroke: var(--warn); stroke-width: 1; stroke-dasharray: 3 2; }
#empty { color: var(--muted); padding: 12px; }
`;

const SCRIPT = `
(function () {
  'use strict';
  var cfg = JSON.parse(document.getElementById('gm-config').textContent);
  var history = new Map();
  var previous = new Map();
  var previousTotals = null;
  var polls = 0;
  var lastOk = null;

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function dur(v) {
    if (v === null || v === undefined || !isFinite(v)) return '\\u2013';
    if (v < 0.01) return (v * 1000).toFixed(1) + ' ms';
    if (v < 1) return Math.round(v * 1000) + ' ms';
    return v.toFixed(2) + ' s';
  }
  function pct(r) { return (r * 100).toFixed(1) + ' %'; }
  function count(n) { return Number(n).toLocaleString('en-US'); }
  function rate(r) { return r === null ? '\\u2013' : r < 10 ? r.toFixed(1) : count(Math.round(r)); }
  function uptime(s) {
    var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = Math.floor(s % 60);
    return h > 0 ? h + 'h ' + String(m).padStart(2, '0') + 'm' : m > 0 ? m + 'm ' + String(sec).padStart(2, '0') + 's' : sec + 's';
  }
  function key(node, transport, tool) { return node + '\\u0000' + transport + '\\u0000' + (tool === undefined ? '' : tool); }

  function rateOf(k, requests, t, seen) {
    seen.add(k);
    var p = previous.get(k);
    previous.set(k, { requests: requests, t: t });
    if (!p || t <= p.t || requests < p.requests) return null;
    return (requests - p.requests) / ((t - p.t) / 1000);
  }
  function flagsOf(s) {
    return {
      slow: s.latency && s.latency.p95 !== null && s.latency.p95 > cfg.slowP95Seconds,
      errors: s.requests > 0 && s.errorRate * 100 > cfg.errorPercent,
    };
  }

  function spark(points) {
    var NS = 'http://www.w3.org/2000/svg';
    var svg = document.createElementNS(NS, 'svg');
    svg.setAttribute('class', 'spark');
    svg.setAttribute('viewBox', '0 0 120 24');
    svg.setAttribute('preserveAspectRatio', 'none');
    svg.setAttribute('role', 'img');
    if (points.length === 0) return svg;
    var now = points[points.length - 1][0];
    var max = cfg.slowP95Seconds;
    for (var i = 0; i < points.length; i++) if (points[i][1] > max) max = points[i][1];
    max *= 1.15;
    var y = function (v) { return (23 - (v / max) * 22).toFixed(1); };
    // The history the page has, up to 5 min, fills the width (10 s at least).
    var span = Math.max(now - points[0][0], 10000);
    var x = function (t) { return (119 - ((now - t) / span) * 118).toFixed(1); };
    var th = document.createElementNS(NS, 'line');
    th.setAttribute('x1', '1'); th.setAttribute('x2', '119');
    th.setAttribute('y1', y(cfg.slowP95Seconds)); th.setAttribute('y2', y(cfg.slowP95Seconds));
    svg.appendChild(th);
    var line = document.createElementNS(NS, 'polyline');
    var pts = points.map(function (p) { return x(p[0]) + ',' + y(p[1]); });
    if (pts.length === 1) pts.push('119,' + y(points[0][1]));
    line.setAttribute('points', pts.join(' '));
    svg.appendChild(line);
    var title = document.createElementNS(NS, 'title');
    title.textContent = 'p95 over the last ' + Math.round((now - points[0][0]) / 1000) + ' s: ' + points.map(function (p) { return dur(p[1]); }).slice(-5).join(', ');
    svg.appendChild(title);
    return svg;
  }

  function cells(tr, row, r, flags, first) {
    tr.appendChild(el('td', 'l transport', first));
    tr.appendChild(el('td', 'requests', count(row.requests)));
    tr.appendChild(el('td', 'rate', rate(r)));
    tr.appendChild(el('td', 'errors' + (flags.errors ? ' bad' : ''), row.requests > 0 ? pct(row.errorRate) : '\\u2013'));
    var l = row.latency || {};
    tr.appendChild(el('td', 'p50', dur(l.p50)));
    tr.appendChild(el('td', 'p95' + (flags.slow ? ' bad' : ''), dur(l.p95)));
    tr.appendChild(el('td', 'p99', dur(l.p99)));
    tr.appendChild(el('td', 'inflight', count(row.inFlight || 0)));
  }

  function render(stats) {
    var t = Date.parse(stats.generatedAt) || Date.now();
    var seen = new Set();
    var nodes = new Map();
    stats.series.forEach(function (s) {
      var n = nodes.get(s.node);
      if (!n) { n = { name: s.node, up: s.up, rows: [], down: false, slow: false, errors: false, worstErr: 0, worstP95: 0 }; nodes.set(s.node, n); }
      var f = flagsOf(s);
      var k = key(s.node, s.transport);
      var p95 = s.latency ? s.latency.p95 : null;
      var h = history.get(k) || [];
      if (p95 !== null) h.push([t, p95]);
      while (h.length > 0 && t - h[0][0] > ${HISTORY_MS}) h.shift();
      history.set(k, h);
      n.rows.push({ s: s, f: f, rate: rateOf(k, s.requests, t, seen), hist: h });
      if (s.up === false) n.down = true;
      if (s.up !== null && n.up === null) n.up = s.up;
      n.slow = n.slow || f.slow;
      n.errors = n.errors || f.errors;
      n.worstErr = Math.max(n.worstErr, s.errorRate || 0);
      n.worstP95 = Math.max(n.worstP95, p95 || 0);
    });

    var list = Array.from(nodes.values());
    var score = function (n) { return (n.down ? 4 : 0) + (n.errors ? 2 : 0) + (n.slow ? 1 : 0); };
    list.sort(function (a, b) {
      return score(b) - score(a) || b.worstErr - a.worstErr || b.worstP95 - a.worstP95 || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
    });

    var table = document.getElementById('nodes');
    var bodies = list.map(function (n) {
      var flags = [];
      if (n.down) flags.push('DOWN');
      if (n.errors) flags.push('ERRORS');
      if (n.slow) flags.push('SLOW');
      var tb = el('tbody', 'node' + (flags.length ? ' flagged' : '') + (n.down ? ' down' : ''));
      tb.setAttribute('data-flags', flags.join(' ').toLowerCase());
      var head = el('tr', 'head');
      var th = el('th', 'l');
      th.colSpan = 10;
      th.scope = 'rowgroup';
      th.appendChild(el('span', 'marker', flags.length ? (n.down ? '\\u2716 ' : '\\u25B2 ') + flags.join(' \\u00B7 ') : '\\u2714 OK'));
      th.appendChild(el('span', 'name', n.name));
      th.appendChild(el('span', 'up', n.up === true ? 'up' : n.up === false ? 'down' : 'up: not reported'));
      var reasons = [];
      n.rows.forEach(function (r) {
        if (r.f.slow) reasons.push(r.s.transport + ' p95 ' + dur(r.s.latency.p95) + ' > ' + dur(cfg.slowP95Seconds));
        if (r.f.errors) reasons.push(r.s.transport + ' errors ' + pct(r.s.errorRate) + ' > ' + cfg.errorPercent + ' %');
      });
      th.appendChild(el('span', 'reasons', reasons.join(' \\u00B7 ')));
      head.appendChild(th);
      tb.appendChild(head);
      n.rows.forEach(function (r) {
        var tr = el('tr', 'series');
        cells(tr, r.s, r.rate, r.f, r.s.transport);
        tr.appendChild(el('td', 'fallbacks', count(r.s.fallbacks || 0)));
        var hist = el('td', 'hist');
        hist.appendChild(spark(r.hist));
        tr.appendChild(hist);
        tb.appendChild(tr);
        if (Array.isArray(r.s.tools)) {
          r.s.tools.forEach(function (tool) {
            var tt = el('tr', 'tool');
            cells(tt, tool, rateOf(key(r.s.node, r.s.transport, tool.tool), tool.requests, t, seen), flagsOf(tool), '\\u21B3 ' + tool.tool);
            tt.appendChild(el('td', 'fallbacks', ''));
            tt.appendChild(el('td', 'hist', ''));
            tb.appendChild(tt);
          });
        }
      });
      return tb;
    });
    // Forget series (and tools) that left the stats, e.g. nodes idle past nodeIdleTtl.
    previous.forEach(function (_, k) { if (!seen.has(k)) previous.delete(k); });
    history.forEach(function (_, k) { if (!seen.has(k)) history.delete(k); });
    Array.prototype.slice.call(table.tBodies).forEach(function (b) { b.remove(); });
    bodies.forEach(function (b) { table.appendChild(b); });
    document.getElementById('empty').hidden = list.length > 0;

    var tot = stats.totals;
    var totalRate = previousTotals && t > previousTotals.t && tot.requests >= previousTotals.requests
      ? (tot.requests - previousTotals.requests) / ((t - previousTotals.t) / 1000) : null;
    previousTotals = { requests: tot.requests, t: t };
    var flagged = list.filter(function (n) { return n.down || n.slow || n.errors; }).length;
    var items = [
      ['nodes', count(tot.nodes)], ['flagged', count(flagged)], ['down', count(tot.nodesDown)],
      ['requests', count(tot.requests)], ['req/s', rate(totalRate)], ['errors', pct(tot.errorRate)],
      ['in flight', count(tot.inFlight)], ['fallbacks', count(tot.fallbacks)], ['uptime', uptime(stats.uptimeSeconds)],
    ];
    // A multi-process gateway: the sums cover these workers; silent ones are named.
    var cl = stats.cluster;
    if (cl) items.push(['workers', cl.unresponsive.length === 0 ? count(cl.workers) : cl.responding + ' of ' + cl.workers + ' (silent: ' + cl.unresponsive.join(', ') + ')']);
    var ul = document.getElementById('totals');
    ul.replaceChildren.apply(ul, items.map(function (it) {
      var li = el('li');
      li.setAttribute('data-total', it[0]);
      li.appendChild(el('span', 'k', it[0]));
      li.appendChild(el('span', 'v', it[1]));
      return li;
    }));
  }

  function meta(text, stale) {
    var m = document.getElementById('meta');
    m.textContent = text;
    m.className = stale ? 'stale' : '';
  }
  function time(d) { return d.toTimeString().slice(0, 8); }

  var url;
  try {
    url = new URL(cfg.statsUrl, location.href);
    if (url.origin !== location.origin) url = null;
  } catch (e) { url = null; }

  function poll() {
    if (url === null) { meta('the stats URL is not on this origin; nothing to show', true); return; }
    fetch(url.href, { cache: 'no-store', credentials: 'same-origin', headers: { accept: 'application/json' } })
      .then(function (res) {
        if (!res.ok) throw new Error('HTTP ' + res.status);
        return res.json();
      })
      .then(function (stats) {
        render(stats);
        lastOk = new Date();
        meta('updated ' + time(lastOk) + ' \\u00B7 every ' + (${POLL_MS} / 1000) + ' s \\u00B7 quantiles since start, rate and history since this page opened', false);
      })
      .catch(function (err) {
        meta('update failed (' + (err && err.message ? err.message : 'error') + ')' + (lastOk ? '; showing data from ' + time(lastOk) : ''), true);
      })
      .then(function () {
        polls++;
        document.body.setAttribute('data-polls', String(polls));
        setTimeout(poll, ${POLL_MS});
      });
  }
  poll();
})();
`;

const hash = (s: string) => `'sha256-${createHash('sha256').update(s).digest('base64')}'`;

/**
 * Only our own inline script and style run; the page may fetch from its own
 * origin only. img-src allows the empty data: favicon, which keeps the browser
 * from requesting /favicon.ico (a 404 shows as a console error).
 */
export const STATUS_PAGE_CSP = [
  "default-src 'none'",
  `script-src ${hash(SCRIPT)}`,
  `style-src ${hash(STYLE)}`,
  "connect-src 'self'",
  'img-src data:',
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** JSON inside a <script> element: `<` escaped so that no value can close the element. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

export function renderStatusPage(settings: StatusPageSettings): string {
  const config = scriptJson({ statsUrl: settings.statsUrl, slowP95Seconds: settings.slowP95Seconds, errorPercent: settings.errorPercent });
  const slow = settings.slowP95Seconds < 1 ? `${Math.round(settings.slowP95Seconds * 1000)} ms` : `${settings.slowP95Seconds} s`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>Gateway status</title>
<link rel="icon" href="data:,">
<style>${STYLE}</style>
<script type="application/json" id="gm-config">${config}</script>
</head>
<body data-polls="0">
<header><h1>Gateway status</h1><p id="meta" role="status">loading…</p></header>
<ul id="totals" aria-label="Totals"></ul>
<p id="legend">A node is flagged when it is down, its error rate is above ${settings.errorPercent} % or its p95 is above ${slow}: worst first.</p>
<table id="nodes">
<thead><tr><th class="l">transport</th><th>requests</th><th>req/s</th><th>errors</th><th>p50</th><th>p95</th><th>p99</th><th>in flight</th><th>fallbacks</th><th class="l">p95 history (5 min)</th></tr></thead>
</table>
<p id="empty" hidden>No calls recorded yet.</p>
<script>${SCRIPT}</script>
</body>
</html>
`;
}

/**
 * The reference from the page at `fromPath` to `toPath` (both absolute paths on
 * one origin), relative, so that the page still finds the stats behind a
 * reverse proxy that serves the listener under a path prefix.
 */
export function relativePath(fromPath: string, toPath: string): string {
  const fromDir = fromPath.split('/').slice(1, -1);
  const to = toPath.split('/').slice(1);
  let common = 0;
  while (common < fromDir.length && common < to.length - 1 && fromDir[common] === to[common]) common++;
  const up = fromDir.length - common;
  const rest = to.slice(common).join('/');
  return `${up === 0 ? './' : '../'.repeat(up)}${rest}`;
}
